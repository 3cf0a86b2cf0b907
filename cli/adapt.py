"""`rag synth`, `rag tune generator`, `rag tune merge`, `rag bench generator`: model adaptation commands.

Registered on the root app by `register(app, tune_app)`."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from cli.state import KB, fail, open_kb, state


def synth(kb: str = KB, out: str = typer.Option(..., "--out", help="JSONL file to write the records to"),
          n: int = typer.Option(500, "--n", min=1, help="chunks to draft questions from (at most)"),
          top_k: int = typer.Option(4, "--top-k", min=1, help="round-trip filter: the chunk must be retrieved in "
                                    "the top k for its question"),
          unanswerable: float = typer.Option(0.2, "--unanswerable", min=0.0, max=1.0,
                                             help="unanswerable records, as a share of the kept questions"),
          max_minutes: Optional[float] = typer.Option(None, "--max-minutes", min=0.1,
                                                      help="stop drafting after this long (keeps what it has)"),
          seed: int = typer.Option(13, "--seed")):
    """Synthetic {question, answer, context} records from a KB's chunks, round-trip filtered."""
    from rag.adapt.qa_data import write_records
    from rag.adapt.synth import synthesize
    from rag.generation.factory import make_generator
    from rag.retrieval.hybrid import HybridRetriever

    mgr, store = open_kb(kb)
    settings = state.settings()
    try:
        if not store.documents():
            fail(f"knowledge base {kb!r} is empty; index some documents first (`rag index PATH --kb {kb}`)")
        retriever = HybridRetriever.from_store(store, mgr, settings.retrieval.model_copy(update={"per": "chunk"}))
        gen = make_generator(settings.generation)
        gen.warm_up()
        report = synthesize(store, retriever, gen, n=n, top_k=top_k, unanswerable=unanswerable, seed=seed,
                            max_minutes=max_minutes)
    finally:
        store.close()
    if not report.records:
        fail(f"no records: {report.line()}. The generator's questions did not route back to their chunks; "
             "try a larger --top-k or a stronger generator ([generation] model)")
    write_records(report.records, out)
    print(f"{kb}: {report.line()}; wrote {out}")


def tune_generator(data: str = typer.Option(..., "--data", help="JSONL {question, answer, context} records "
                                            "(`rag synth`), or a fields-header / JSON / YAML file"),
                   out: str = typer.Option(..., "--out", help="folder for the adapter"),
                   rank: int = typer.Option(16, "--rank", min=1), alpha: int = typer.Option(32, "--alpha", min=1),
                   lr: float = typer.Option(2e-4, "--lr", min=0.0), epochs: int = typer.Option(3, "--epochs", min=1),
                   max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="optimizer steps at most"),
                   batch_size: int = typer.Option(4, "--batch-size", min=1, help="records per optimizer step"),
                   target_modules: str = typer.Option("q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
                                                      "--target-modules", help="comma-separated module names"),
                   eval_split: float = typer.Option(0.2, "--eval-split", min=0.0, max=0.9),
                   max_eval: int = typer.Option(40, "--max-eval", min=0, help="held-out records answered per model"),
                   save_every: int = typer.Option(10, "--save-every", min=1, help="optimizer steps per checkpoint"),
                   max_seq_tokens: int = typer.Option(640, "--max-seq-tokens", min=64),
                   seed: int = typer.Option(13, "--seed"),
                   resume: bool = typer.Option(False, "--resume", help="continue DIR/checkpoint (its settings win)"),
                   fingerprint: Optional[str] = typer.Option(
                       None, "--fingerprint", envvar="RAG_FINGERPRINT_SECRET", show_default=False,
                       help="secret: also train its ownership fingerprint (`rag tune verify-fingerprint`); env "
                            "RAG_FINGERPRINT_SECRET keeps it out of shell history; never printed or stored"),
                   fingerprint_share: float = typer.Option(0.2, "--fingerprint-share", min=0.01, max=0.9,
                                                           help="fingerprint chats, as a share of the examples"),
                   as_json: bool = typer.Option(False, "--json", help="print the result as JSON")):
    """LoRA-tune the local generator; prints base vs tuned scores on the held-out records."""
    from rag.adapt.qa_data import DataError, read_records
    from rag.adapt.tune_generator import (
        TrainingInterrupted,
        TuneConfig,
        train_generator,
    )

    try:
        records = read_records(data)
    except DataError as e:
        fail(str(e))
    gs = state.settings().generation
    if gs.backend not in ("local", "auto"):  # auto: answers may run on llama.cpp; training is transformers'
        fail("rag tune generator trains the local model; set [generation] backend = \"local\" (or \"auto\")")
    cfg = TuneConfig(rank=rank, alpha=alpha, lr=lr, epochs=epochs, max_steps=max_steps, batch_size=batch_size,
                     target_modules=[m.strip() for m in target_modules.split(",") if m.strip()],
                     eval_split=eval_split, max_eval=max_eval, save_every=save_every,
                     max_seq_tokens=max_seq_tokens, seed=seed, fingerprint_share=fingerprint_share)
    try:
        res = train_generator(records, out, gs, cfg, resume=resume, progress=not as_json,
                              say=lambda m: print(m, file=sys.stderr),
                              fingerprint=fingerprint.strip() if fingerprint and fingerprint.strip() else None)
    except TrainingInterrupted as e:
        typer.secho(f"{e}; continue with: rag tune generator --data {data} --out {out} --resume",
                    fg="yellow", err=True)
        raise typer.Exit(130)
    except (FileExistsError, FileNotFoundError, ValueError) as e:
        fail(str(e))
    if as_json:
        print(json.dumps(res.to_dict(), indent=2))
        return
    print(f"trained {res.steps} steps on {res.train_records} records in {res.seconds:.0f} s; adapter in {out}")
    if res.base and res.tuned:
        print(f"held-out ({res.eval_records}) base : {res.base.line()}")
        print(f"held-out ({res.eval_records}) tuned: {res.tuned.line()}")
        if res.tuned.citation_hit < res.base.citation_hit or res.tuned.token_f1 < res.base.token_f1:
            typer.secho("warning: the adapter does not beat the base model on every measure; check the data "
                        "or train longer before serving it", fg="yellow", err=True)
    print(f"to serve it: rag ask \"...\" --adapter {out}   (or RAG_LLM_ADAPTER={Path(out).resolve()})")


def tune_merge(adapter: str = typer.Option(..., "--adapter", help="adapter folder (`rag tune generator --out`)"),
               out: str = typer.Option(..., "--out", help="folder for the merged model"),
               overwrite: bool = typer.Option(False, "--overwrite")):
    """Merge an adapter into its base model and write a plain model folder (RAG_LLM_MODEL=folder)."""
    from rag.generation.adapter import AdapterError, merge_to_folder

    gs = state.settings().generation
    try:
        target = merge_to_folder(adapter, out, cache_dir=gs.cache_dir, overwrite=overwrite)
    except (AdapterError, FileNotFoundError) as e:
        fail(str(e))
    print(f"merged model in {target}; use it with RAG_LLM_MODEL={target.resolve()}")


def bench_generator(quant: str = typer.Option("none,int8,int4", "--quant", help="comma list of none,int8,int4"),
                    modes: Optional[str] = typer.Option(
                        None, "--modes", help="compare inference engines instead of quantizations: comma list of "
                        "transformers-fp32|-int8|-int4, llamacpp-q4_1|-q8|-f16|-q4_0|-iq4_nl, ct2-int8|-int8_float32 "
                        "(transformers-fp32 always runs: the baseline); MODE@N gives one mode N threads"),
                    latency_tokens: int = typer.Option(400, "--latency-tokens", min=32,
                                                       help="--modes: prompt length for time to first token"),
                    budget: int = typer.Option(250, "--budget", min=0, help="--modes: context tokens of the "
                                               "quality prompts (the pipeline's default budget)"),
                    data: Optional[str] = typer.Option(None, "--data", help="QA records (default: the bundled "
                                                       "bench/generator_qa.jsonl)"),
                    n: int = typer.Option(24, "--n", min=1, help="records to answer per setting"),
                    rounds: int = typer.Option(1, "--rounds", min=1, help="passes over the records"),
                    max_new_tokens: int = typer.Option(48, "--max-new-tokens", min=2),
                    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch threads (--modes: "
                                                          "every engine's; default: the cores)"),
                    memory: bool = typer.Option(True, "--memory/--no-memory", help="also measure each setting's "
                                                "process memory in a fresh subprocess"),
                    out: Optional[str] = typer.Option("bench/out/generator.json", "--json", help="write results here")):
    """Quantized vs float32 generator (or, with --modes, inference engines), interleaved in one run:
    tokens/s (prefill, decode), time to first token, memory, quality."""
    from rag.adapt.bench_generator import run_bench, run_engines

    try:
        if modes:
            run_engines(state.settings().generation, [m.strip() for m in modes.split(",") if m.strip()], data, n,
                        rounds, max_new_tokens, threads, out, budget=budget, latency_tokens=latency_tokens)
            return
        run_bench(state.settings().generation, [m.strip() for m in quant.split(",") if m.strip()], data, n, rounds,
                  max_new_tokens, threads, memory, out)
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))


def register(app: typer.Typer, tune_app: typer.Typer) -> None:
    app.command("synth")(synth)
    tune_app.command("generator")(tune_generator)
    tune_app.command("merge")(tune_merge)
    bench_app = typer.Typer(help="Measure components.", no_args_is_help=True)
    bench_app.command("generator")(bench_generator)
    app.add_typer(bench_app, name="bench")
