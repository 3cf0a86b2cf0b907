"""`rag tune refusal|reranker`: thresholds and models adapted to a knowledge base (the generator's
commands are in cli.adapt)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer

from cli.state import KB, fail, open_kb, state

tune_app = typer.Typer(help="Adapt models and thresholds to a knowledge base.", no_args_is_help=True)


@tune_app.command("reranker")
def reranker(kb: str = typer.Option("default", "--kb", help="knowledge base name"),
             out: str = typer.Option(..., "--out", help="folder to write the cross-encoder to"),
             max_pairs: int = typer.Option(2000, "--max-pairs", min=2, help="(query, passage) training pairs at most"),
             epochs: int = typer.Option(1, "--epochs", min=1),
             base_model: Optional[str] = typer.Option(
                 None, "--base-model", help="BERT-style or CrossEncoder folder to start from (default: bundled MiniLM)"),
             negatives: int = typer.Option(3, "--negatives", min=1, help="hard negatives per pseudo-query"),
             holdout: float = typer.Option(0.2, "--holdout", min=0.0, max=0.9,
                                           help="share of the mined queries kept out of training, for the measurement"),
             max_length: int = typer.Option(128, "--max-length", min=32,
                                            help="tokens per (query, passage) pair in training (serving uses 256)"),
             seed: int = typer.Option(13, "--seed"),
             overwrite: bool = typer.Option(False, "--overwrite", help="replace a model already in --out"),
             as_json: bool = typer.Option(False, "--json", help="print the report as JSON")):
    """Train a cross-encoder reranker on the KB's own chunks, choose how much of its score to blend with
    retrieval's on held-out pseudo-queries, and report held-out MRR@10 without/with it."""
    from rag.adapt.tune_reranker import train_reranker
    from rag.retrieval.hybrid import HybridRetriever

    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
        fail(f"{target} already exists and is not empty; pick another --out or pass --overwrite")
    mgr, store = open_kb(kb)
    settings = state.settings()
    # mining and measuring work on chunks, whatever `per` search uses
    retrieval = settings.retrieval.model_copy(update={"per": "chunk"})
    try:
        if not store.documents():
            fail(f"knowledge base {kb!r} is empty; index some documents first (`rag index PATH --kb {kb}`)")
        retriever = HybridRetriever.from_store(store, mgr, retrieval)
        report = train_reranker(store, retriever, target, base_model=base_model, max_pairs=max_pairs, epochs=epochs,
                                negatives=negatives, holdout=holdout, max_length=max_length, seed=seed,
                                device=settings.indexer.device, progress=not as_json)
    except ValueError as e:
        fail(str(e))
    finally:
        store.close()
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    if math.isnan(report.mrr_with):
        typer.secho("no held-out queries: nothing measured (use --holdout > 0)", fg="yellow", err=True)
    elif report.gain <= 0 or report.weight == 0:
        typer.secho(f"this reranker does not improve held-out MRR@10 ({report.mrr_without:.4f} -> "
                    f"{report.mrr_with:.4f}; the cross-encoder alone {report.mrr_cross_encoder_only:.4f}); leave "
                    f"reranking off, or train on more pairs / epochs", fg="yellow", err=True)
    else:
        print(f"to use it: export RAG_RERANK_MODEL={target.resolve()}  (or [rerank] model = \"...\" in the config)")


@tune_app.command("refusal")
def tune_refusal_cmd(kb: str = KB,
                     beir: list[str] = typer.Option([], "--beir", help="BEIR folder (repeatable): its qrels queries "
                                                    "are answerable, ids in unanswerable.txt are not"),
                     split: str = typer.Option("dev", "--split"),
                     answerable: Optional[str] = typer.Option(None, "--answerable", help="file: one question a line"),
                     unanswerable: Optional[str] = typer.Option(None, "--unanswerable",
                                                                help="file: one question a line (default: built-in "
                                                                     "off-topic questions, en + zh)"),
                     min_answered: float = typer.Option(0.9, "--min-answered", min=0.0, max=1.0,
                                                        help="answer at least this share of answerable questions"),
                     auto: bool = typer.Option(False, "--auto", help="no questions: calibrate on the KB's own "
                                               "content and the packaged off-topic questions, as indexing does, "
                                               "and let indexing keep the threshold up to date again")):
    """Calibrate the refusal threshold on answerable vs unanswerable questions; stored in the KB.

    Without this command a KB calibrates its threshold by itself whenever it is indexed; a threshold
    set here is marked "tuned" and kept from then on (until `--auto`)."""
    from pathlib import Path

    from rag.adapt.tune_refusal import read_questions, tune_refusal

    if auto:
        if beir or answerable or unanswerable:
            fail("--auto takes no questions (drop --beir, --answerable and --unanswerable)")
        _auto_refusal(kb)
        return
    pos, neg = [], None
    for folder in beir:
        from eval.beir import load_beir, read_jsonl

        ds = load_beir(folder, split)
        pos += list(ds.queries.values())
        ids_file = Path(folder) / "unanswerable.txt"
        if ids_file.exists():
            ids = set(read_questions(ids_file))
            neg = (neg or []) + [q["text"] for q in read_jsonl(Path(folder) / "queries.jsonl") if str(q["_id"]) in ids]
    if answerable:
        pos += read_questions(answerable)
    if unanswerable:
        neg = (neg or []) + read_questions(unanswerable)
    if not pos:
        fail("give answerable questions with --beir DIR or --answerable FILE")
    from rag.pipeline import build_pipeline

    pipe = build_pipeline(state.settings(), kb)
    rep = tune_refusal(pipe, pos, neg, min_answered=min_answered)
    c = rep.calibration
    print(f"{kb}: refusal threshold {c.threshold:.4f} stored ({len(rep.answerable)} answerable: {c.answerable_kept:.0%} "
          f"answered; {len(rep.unanswerable)} unanswerable: {c.unanswerable_refused:.0%} refused); indexing keeps "
          f"it (`rag tune refusal --auto --kb {kb}` hands it back to the automatic calibration)")


def _auto_refusal(kb: str) -> None:
    """`rag tune refusal --auto`: the automatic calibration, now, replacing a tuned threshold."""
    from rag.answering.auto_refusal import auto_calibrate
    from rag.pipeline import build_pipeline

    try:
        pipe = build_pipeline(state.settings(), kb, state.manager())  # the generator loads nothing: no warm_up
    except (LookupError, ValueError) as e:  # KBNotFound, a bad name
        fail(str(e))
    try:
        pipe.retriever.warm_up()
        if pipe.reranker:
            pipe.reranker.warm_up()
        cal = auto_calibrate(pipe, replace_tuned=True, progress=lambda line: typer.echo(line, err=True))
    except ValueError as e:
        fail(str(e))
    finally:
        pipe.close()
    print(f"{kb}: {cal.line()}")
