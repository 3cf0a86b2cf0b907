"""`rag feedback export`: rated answers as training records and as an evaluation set."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from cli.state import fail

feedback_app = typer.Typer(help="Votes on the service's answers.", no_args_is_help=True)


def export(kb: str = typer.Option(..., "--kb"),
           out: str = typer.Option(..., "--out", help="JSONL of QARecords {question, answer, context, meta}: "
                                   "`rag tune generator` trains on it"),
           beir: Optional[str] = typer.Option(None, "--beir", help="also write a BEIR folder (corpus, queries, "
                                              "qrels/test.tsv, answers.jsonl) for `rag eval report --beir DIR`")):
    """Export a KB's rated answers: up-voted answers as given, down-voted ones with their correction."""
    from api.feedback import FeedbackStore, training_records, write_beir
    from cli.experiment import open_db

    db = open_db()
    try:
        rows = FeedbackStore(db).rated(kb)
    finally:
        db.close()
    if not rows:
        fail(f"no rated answers in knowledge base {kb!r}")
    records = training_records(rows)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rated answers: {len(records)} training records in {path}")
    if beir:
        n = write_beir(rows, beir)
        print(f"{n['queries']} labelled questions over {n['documents']} passages in {beir}")


feedback_app.command("export")(export)
