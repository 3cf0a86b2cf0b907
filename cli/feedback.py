"""`rag feedback export|gaps`: rated answers as training records and as an evaluation set; what readers asked
that the KB did not answer."""
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


def gaps(kb: str = typer.Option(..., "--kb"),
         days: float = typer.Option(30, "--days", min=0.01, max=3650, help="the period: the last DAYS days (at most "
                                   "3650, as over HTTP)"),
         limit: int = typer.Option(20, "--limit", min=1, max=1000, help="questions and words shown"),
         as_json: bool = typer.Option(False, "--json")):
    """What the KB's readers asked that it did not answer (refused, or voted down), most asked first, and
    the words of those questions that no document holds: add documents, or synonyms (`rag kb synonyms`)."""
    from dataclasses import asdict

    from api.feedback.gaps import knowledge_gaps
    from cli.experiment import open_db
    from cli.state import open_kb

    _, store = open_kb(kb)
    db = open_db()
    try:
        rep = knowledge_gaps(db, store, kb, days, limit)
    finally:
        db.close()
        store.close()
    if as_json:
        print(json.dumps(asdict(rep), ensure_ascii=False, indent=2))
        return
    print(f"{kb}: {rep.answers} answers since {rep.since}: {rep.refused} refused, {rep.voted_down} voted down"
          + (" (the newest read)" if rep.truncated else ""))
    if not rep.questions:
        return
    print("\nunanswered questions (times asked: refused / voted down)")
    for q in rep.questions:
        print(f"  {q.times:>4}  {q.refused}/{q.voted_down}  {q.question}" + (f"  — “{q.comments[0]}”" if q.comments else ""))
    if rep.missing_words:
        print("\nwords no document holds (questions)  → add documents, or synonyms: rag kb synonyms " + kb + " --set FILE")
        for w in rep.missing_words:
            print(f"  {w.questions:>4}  {w.word}    e.g. {w.examples[0]}")


feedback_app.command("gaps")(gaps)
