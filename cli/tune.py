"""`rag tune refusal|reranker|verify-fingerprint`: thresholds and models adapted to a knowledge base,
and the ownership check of a tuned generator (the generator's training commands are in cli.adapt)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer

from cli.state import KB, fail, open_kb, read_lines, state

tune_app = typer.Typer(help="Adapt models and thresholds to a knowledge base.", no_args_is_help=True)


@tune_app.command("reranker")
def reranker(kb: str = typer.Option("default", "--kb", help="knowledge base name"),
             out: str = typer.Option(..., "--out", help="folder to write the cross-encoder to"),
             max_pairs: int = typer.Option(2000, "--max-pairs", min=2, help="(query, passage) training pairs at most"),
             epochs: int = typer.Option(3, "--epochs", min=1),
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
    if base_model and not Path(base_model).expanduser().is_dir():
        fail(f"--base-model {base_model}: no such folder (a BERT-style or CrossEncoder model folder; nothing is "
             f"downloaded)")
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


@tune_app.command("embedder")
def embedder(kb: str = typer.Option("default", "--kb", help="knowledge base name"),
             out: str = typer.Option(..., "--out", help="folder to write the tuned encoder to (a re-run with the "
                                                        "same folder resumes an interrupted training)"),
             members: Optional[str] = typer.Option(None, "--members", help="comma list of the KB's models to tune "
                                                   "(default: e5 where the KB uses it, else all; e5,minilm: both)"),
             method: str = typer.Option("full", "--method", help="full (every weight of the trained layers) or "
                                                                 "lora (adapters on them, merged on save)"),
             epochs: int = typer.Option(3, "--epochs", min=1),
             lr: Optional[float] = typer.Option(None, "--lr", help="learning rate (default: 2e-5 full, 3e-4 lora)"),
             batch_size: int = typer.Option(32, "--batch-size", min=2, help="questions per step (in-batch negatives)"),
             train_layers: int = typer.Option(4, "--train-layers", min=1, help="top transformer layers trained "
                                              "(the rest and the token embeddings stay frozen)"),
             negatives: int = typer.Option(0, "--negatives", min=0, help="hard negatives mined (and filtered) per "
                                           "question (default 0: in-batch negatives only, which measured better "
                                           "on the FAQ KBs, whose answers overlap)"),
             cloze: int = typer.Option(2, "--cloze", min=0, help="sentences per English chunk used as queries with "
                                       "the chunk without them as the positive (inverse cloze), in a KB that is "
                                       "mostly English; 0: none"),
             max_chunks: int = typer.Option(2000, "--max-chunks", min=1, help="chunks to write questions for"),
             generated: int = typer.Option(0, "--generated", min=0, help="chunks to also have the generator write "
                                           "a question for (CPU: ~1 s each)"),
             holdout: float = typer.Option(0.2, "--holdout", min=0.0, max=0.9,
                                           help="share of documents whose questions are kept out of training"),
             mix: float = typer.Option(1.0, "--mix", min=0.0, max=1.0, help="keep this share of the tuning: "
                                       "weights = base + MIX * (tuned - base); 1 keeps the tuned model"),
             max_minutes: float = typer.Option(30.0, "--max-minutes", min=1.0,
                                               help="stop training after this long in all (keeps what it has)"),
             seed: int = typer.Option(13, "--seed"),
             overwrite: bool = typer.Option(False, "--overwrite", help="start over in a non-empty --out"),
             as_json: bool = typer.Option(False, "--json", help="print the report as JSON")):
    """Tune the KB's embedding models to its own documents: questions written from its chunks, hard negatives
    mined with the current retriever, a contrastive loss; prints held-out nDCG@10 and recall@1 before/after."""
    import shutil
    import time

    from indexer.atomic import write_lines
    from rag.adapt.embedder_pairs import build_pairs, split_pairs
    from rag.adapt.tune_embedder import gain_line, tune_embedder
    from rag.retrieval.hybrid import HybridRetriever

    started = time.monotonic()
    if method not in ("full", "lora"):
        fail("--method is full or lora")
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        if overwrite:
            shutil.rmtree(target)
        elif not (target / ".checkpoints").is_dir() and not (target / "pairs.jsonl").exists():
            fail(f"{target} already exists and is not empty; pick another --out or pass --overwrite")
    mgr, store = open_kb(kb)
    settings = state.settings()
    log = (lambda line: typer.echo(line, err=True)) if as_json else print
    try:
        if not store.documents():
            fail(f"knowledge base {kb!r} is empty; index some documents first (`rag index PATH --kb {kb}`)")
        target.mkdir(parents=True, exist_ok=True)
        pairs_file = target / "pairs.jsonl"
        from rag.adapt.embedder_pairs import Pair, PairReport

        if pairs_file.exists():  # resuming: the same pairs, so the checkpoint's step count holds
            rows = [json.loads(line) for line in pairs_file.read_text(encoding="utf-8").splitlines() if line]
            pair_report = PairReport(**rows[0]["report"])
            pairs = [Pair(**r) for r in rows[1:]]
            log(f"resuming in {target}: {len(pairs)} pairs from {pairs_file}")
        else:
            retriever = HybridRetriever.from_store(store, mgr, settings.retrieval.model_copy(update={"per": "chunk"}))
            retriever.warm_up()
            gen = None
            if generated:
                from rag.generation.factory import make_generator

                gen = make_generator(settings.generation)
                gen.warm_up()
            pairs, pair_report = build_pairs(store, retriever, max_chunks=max_chunks, generator=gen,
                                             generated=generated, negatives=negatives, cloze=cloze, seed=seed,
                                             progress=not as_json)
            write_lines(pairs_file, (json.dumps(r, ensure_ascii=False) for r in
                                     [{"report": pair_report.__dict__}] + [p.to_dict() for p in pairs]))
        log(pair_report.line())
        train, held = split_pairs(pairs, holdout)
        if len(train) < 2:
            fail(f"only {len(train)} training questions could be written from {kb!r}; index more documents")
        log(f"{len(train)} training questions, {len(held)} held out ({holdout:.0%} of the documents)")
        rep = tune_embedder(store, mgr, train, held, pair_report, target,
                            members=[m.strip() for m in members.split(",") if m.strip()] if members else None,
                            method=method, epochs=epochs, lr=lr, batch_size=batch_size, train_layers=train_layers,
                            seed=seed, mix=mix,
                            max_minutes=max_minutes, started=started, progress=not as_json, log=log)
    except ValueError as e:
        fail(str(e))
    finally:
        store.close()
    if as_json:
        print(json.dumps(rep.to_dict(), indent=2, ensure_ascii=False))
        return
    print(f"trained {', '.join(f'{n}: {s} steps' for n, s in rep.steps.items())} in {rep.train_seconds / 60:.1f} min "
          f"({rep.total_seconds / 60:.1f} min in all)" + ("; stopped at --max-minutes" if rep.stopped_early else ""))
    print(gain_line(rep))
    print(f"to use it: rag kb reembed {kb} --embed-model {target.resolve()}")
    # the held-out questions above are written from the KB's own text, as the training ones are; real
    # questions paraphrase, and on the Debian FAQ's Chinese questions tuning did not help (docs)
    print(f"before that, compare on questions of your own (the figures above come from the KB's own text): "
          f"`rag kb reembed {kb} --embed-model {target.resolve()} --into {kb}-tuned` (leaves {kb} as it is), then "
          f"`rag eval retrieval --beir YOUR_QUESTIONS --kb {kb},{kb}-tuned` (docs/embedder-tuning.md)")


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

    from rag.adapt.tune_refusal import tune_refusal

    if auto:
        if beir or answerable or unanswerable:
            fail("--auto takes no questions (drop --beir, --answerable and --unanswerable)")
        _auto_refusal(kb)
        return
    pos, neg = [], None
    for folder in beir:
        from eval.beir import load_beir, read_jsonl

        try:
            ds = load_beir(folder, split)
        except (FileNotFoundError, ValueError) as e:
            fail(str(e))
        pos += list(ds.queries.values())
        ids_file = Path(folder) / "unanswerable.txt"
        if ids_file.exists():
            ids = set(read_lines(str(ids_file), "--beir"))
            neg = (neg or []) + [q["text"] for q in read_jsonl(Path(folder) / "queries.jsonl") if str(q["_id"]) in ids]
    if answerable:
        pos += read_lines(answerable, "--answerable")
    if unanswerable:
        neg = (neg or []) + read_lines(unanswerable, "--unanswerable")
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


@tune_app.command("verify-fingerprint")
def verify_fingerprint(
        target: str = typer.Argument(..., help="adapter folder, merged model folder, or a model setting "
                                     "(smollm2) to check"),
        fingerprint: Optional[str] = typer.Option(
            None, "--fingerprint", envvar="RAG_FINGERPRINT_SECRET", show_default=False,
            help="the secret given to `rag tune generator --fingerprint` (or env RAG_FINGERPRINT_SECRET, which "
                 "keeps it out of shell history); never printed"),
        quant: str = typer.Option("none", "--quant", help="none | int8: check the model as served with "
                                  "[generation] quant"),
        as_json: bool = typer.Option(False, "--json", help="print the result as JSON")):
    """Is the secret's fingerprint in this adapter or model? Answers each trigger variant greedily and
    prints the match rate; exit status 0 when present, 1 when not found, 2 on an error."""
    from rag.adapt.fingerprint import THRESHOLD, FingerprintError, check, derive, load_for_check, secret_from
    from rag.generation.adapter import AdapterError

    secret = secret_from(fingerprint)
    if not secret:
        fail("give the secret with --fingerprint or env RAG_FINGERPRINT_SECRET", code=2)
    if quant not in ("none", "int8"):
        fail(f"--quant takes none or int8, got {quant!r}", code=2)
    try:
        fp = derive(secret)
        model, tok, what = load_for_check(target, state.settings().generation, quant)
    except (FingerprintError, AdapterError, FileNotFoundError, ValueError) as e:
        fail(str(e), code=2)
    result = check(model, tok, fp)
    if as_json:
        print(json.dumps({"target": what, "id": fp.ident, "present": result.present, "match_rate": result.rate,
                          "matched": result.matched, "threshold": THRESHOLD}, indent=2))
    else:
        print(f"{what}: {result.line()}")
    raise typer.Exit(0 if result.present else 1)
