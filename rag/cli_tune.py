"""`rag tune ...`: adapt models to a knowledge base. Mounted by rag/cli.py as the `tune` group.

Nothing from rag.cli is imported at module level (rag.cli imports this module), so either can be
imported first."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer

tune_app = typer.Typer(help="Adapt models to a knowledge base.", no_args_is_help=True)


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
    from rag.cli import _open, fail, state
    from rag.retrieve import HybridRetriever
    from rag.tune_reranker import train_reranker

    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
        fail(f"{target} already exists and is not empty; pick another --out or pass --overwrite")
    mgr, store = _open(kb)
    settings = state.settings()
    # mining and measuring work on chunks, whatever `per` search uses
    retrieval = settings.retrieval.model_copy(update={"per": "chunk"})
    try:
        if not store.documents():
            fail(f"knowledge base {kb!r} is empty; index some documents first (`rag index PATH --kb {kb}`)")
        retriever = HybridRetriever(store, mgr.encoder(store.embed_model), retrieval)
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
