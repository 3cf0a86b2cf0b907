"""`rag eval report` and `rag eval compare` (registered on cli.main's eval_app)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Optional

import typer

from cli.state import fail, state


def _fail(msg: str, code: int = 2) -> None:
    typer.secho(f"error: {msg}", fg="red", err=True)
    raise typer.Exit(code)


CALIBRATE_HELP = ("refusal threshold of each configuration that sets none: auto (default) = the KB's own "
                  "automatic calibration, as `rag index` does and `rag ask` uses; none = no refusal on evidence; "
                  "SPLIT (e.g. dev) = calibrated on that split's questions vs built-in off-topic ones")


def report(beir: str = typer.Option(..., "--beir", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv "
                                    "(+ answers.jsonl, unanswerable.txt when present)"),
           out: str = typer.Option(..., "--out", help="folder for report.html, metrics.json, per_query.csv"),
           split: str = typer.Option("test", "--split"),
           answers: Optional[str] = typer.Option(None, "--answers", help="gold answers JSONL {_id, answer} "
                                                 "(default: the folder's answers.jsonl)"),
           configs: Optional[str] = typer.Option(None, "--configs", help="YAML configurations (default: the ladder "
                                                 "bm25, dense, hybrid, hybrid+rerank, generator variants)"),
           adapter: Optional[str] = typer.Option(None, "--adapter", help="LoRA adapter folder: adds base vs adapter"),
           no_answers: bool = typer.Option(False, "--no-answers", help="retrieval metrics only (no generation)"),
           resume: bool = typer.Option(False, "--resume", help="keep the per-query results already in OUTDIR/runs"),
           kb_home: Optional[str] = typer.Option(None, "--kb-home", help="where the report's KBs are built "
                                                 "(default: a temporary folder, removed afterwards)"),
           calibrate_refusal: Optional[str] = typer.Option(None, "--calibrate-refusal", metavar="auto|none|SPLIT",
                                                           help=CALIBRATE_HELP),
           limit: Optional[int] = typer.Option(None, "--limit", min=1, help="only the first N answerable (and N "
                                               "unanswerable) questions, for a quick look"),
           bootstrap: int = typer.Option(1000, "--bootstrap", min=100, help="bootstrap resamples"),
           seed: int = typer.Option(0, "--seed", help="bootstrap and test seed"),
           worst: int = typer.Option(8, "--worst", min=1, help="worst questions shown per configuration")):
    """Compare configurations on retrieval, answers and latency; write an HTML report and metrics."""

    from eval.configs import ladder, load_configs
    from eval.evalset import load_evalset
    from eval.report import ReportOptions, write_report
    from eval.runner import Runner
    from rag.config import Settings

    try:
        es = load_evalset(beir, split, answers, limit)
        base = Settings.load(state.config)
        config_set = load_configs(configs) if configs else ladder(base, adapter)
    except (FileNotFoundError, ValueError) as e:
        _fail(str(e))
    if configs and adapter:
        _fail("--adapter adds to the standard ladder; with --configs, add a configuration with "
              "generation: {adapter: DIR} instead")
    if adapter and not Path(adapter).expanduser().is_dir():  # before the configurations that come first run
        _fail(f"--adapter {adapter}: no such folder (train one with `rag tune generator --out DIR`)")
    out_dir = Path(out)
    print(f"{es.ds.root}: split {split}, {len(es.answerable)} answerable + {len(es.unanswerable)} unanswerable "
          f"questions ({es.unanswerable_source}); configurations: {', '.join(c.name for c in config_set.configs)}")
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
        home = Path(kb_home) if kb_home else Path(tmp)
        try:
            runner = Runner(es, config_set, out_dir, home, state.config, resume=resume, answers=not no_answers,
                            calibrate_split=calibrate_refusal)
        except ValueError as e:
            _fail(str(e))
        try:
            runs = runner.run()
        except (FileNotFoundError, ValueError, RuntimeError) as e:  # bad settings, model or endpoint errors
            _fail(f"{e} (finished questions are kept in {out_dir / 'runs'}: add --resume to continue)")
        except KeyboardInterrupt:
            typer.secho(f"interrupted; finished questions are kept in {out_dir / 'runs'}: add --resume to continue",
                        err=True)
            raise typer.Exit(130)
        metrics = write_report(out_dir, es, config_set, runs, ReportOptions(bootstrap, seed), worst, calibrate_refusal)
    for c in metrics["configs"]:
        q = c["quality"]
        line = "  ".join(f"{m} {q[m]['mean']:.4f}" for m in ("ndcg@10", "recall@10", "mrr@10", "answer_f1",
                                                              "groundedness", "refusal_unanswerable") if m in q)
        print(f"{c['name']:>16}: {line}")
    print(f"wrote {out_dir / 'report.html'}, metrics.json, per_query.csv")


def compare(a: str = typer.Argument(..., help="baseline report folder (or its metrics.json)"),
            b: str = typer.Argument(..., help="candidate report folder (or its metrics.json)"),
            tolerance: float = typer.Option(0.005, "--tolerance", min=0.0, help="allowed absolute drop per metric"),
            noise_questions: float = typer.Option(0.0, "--noise-questions", min=0.0,
                                                  help="also allow a drop of this many questions' share of a metric "
                                                       "(hardware noise on a small set)")):
    """Exit 1 when any quality metric of B drops below A's by more than the tolerance (latency not gated)."""
    from eval.compare import compare as run_compare
    from eval.compare import format_comparison, latency_summary, load_metrics

    try:
        ma, mb = load_metrics(a), load_metrics(b)
    except (FileNotFoundError, ValueError) as e:
        _fail(str(e))
    cmp = run_compare(ma, mb, tolerance, noise_questions)
    print(format_comparison(cmp, tolerance))
    if noise_questions:
        print(f"(a drop of up to {noise_questions:g} question's share of a metric is allowed as hardware noise)")
    lat = latency_summary(ma, mb)
    if lat:
        print("latency (information only, not gated):")
        print("\n".join(lat))
    if cmp.regressions:
        for r in cmp.regressions:
            typer.secho(f"REGRESSION {r.config} {r.metric}: "
                        + (f"{r.a:.4f} -> {r.b:.4f}" if r.b is not None else "missing in B"), fg="red", err=True)
        raise typer.Exit(1)


def eval_retrieval(beir: str = typer.Option(..., "--beir", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/"),
                   split: str = typer.Option("test", "--split"),
                   kb: Optional[str] = typer.Option(None, "--kb", help="the KB to measure (default beir-FOLDER): "
                                                    "created, or reused when it holds only this corpus (a KB "
                                                    "holding other documents is refused); BASE,OTHER[,...] "
                                                    "measures each on the same questions and compares every "
                                                    "other one with BASE (paired test)"),
                   out: Optional[str] = typer.Option(None, "--json", help="write the metrics here"),
                   modes: str = typer.Option("hybrid", "--modes", help="comma list of hybrid,dense,bm25,rerank "
                                             "(rerank = hybrid + the configured cross-encoder)"),
                   embed_model: Optional[str] = typer.Option(None, "--embed-model", help="model for the KBs not made "
                                                             "yet (a KB reused keeps its own)"),
                   per_query: bool = typer.Option(False, "--per-query", help="include per-query rows in the JSON")):
    """Index a BEIR folder into a KB (reused when it already holds it; never one holding other documents) and
    measure retrieval; with several KBs (e.g. a KB and its copy re-embedded with a tuned model), compare them
    side by side."""
    from pathlib import Path

    from eval.beir import load_beir
    from eval.retrieval import ForeignDocuments, check_corpus_kb, evaluate, index_corpus
    from eval.side_by_side import compare_runs
    from indexer.kbs import KBManager, check_name
    from rag.config import RETRIEVAL_MODES

    mode_list = [m.strip() for m in modes.split(",") if m.strip()]
    known = (*RETRIEVAL_MODES, "rerank")
    if not mode_list or any(m not in known for m in mode_list):  # a usage error, as click reports one (2)
        fail(f"--modes takes a comma list of {', '.join(known)}; got {modes!r}", 2)
    try:
        ds = load_beir(beir, split)
        kbs = [check_name(k.strip()) for k in kb.split(",") if k.strip()] if kb else []
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))
    kbs = list(dict.fromkeys(kbs)) or ["beir-" + Path(beir).resolve().name]
    settings = state.settings()
    mgr = KBManager(settings.indexer)
    try:  # every KB checked before any is written: the corpus never goes into a KB holding other documents
        for name in kbs:
            check_corpus_kb(ds, mgr, name)
    except ForeignDocuments as e:
        fail(str(e))
    if embed_model:
        _embed_model_used_or_fail(mgr, kbs, embed_model)
    runs: dict[str, list[dict]] = {}
    for name in kbs:
        written = index_corpus(ds, mgr, name, embed_model)
        print(f"{name}: {len(ds.corpus)} corpus documents ({written} newly indexed), {len(ds.queries)} queries "
              f"in {split}")
        runs[name] = []
        for mode in mode_list:
            try:
                r = evaluate(ds, settings, name, mode, mgr=mgr)
            except ValueError as e:
                fail(str(e))
            runs[name].append(r)
            label = f"{name} {mode}" if len(kbs) > 1 else mode
            print(f"{label:>7}: nDCG@10 {r['ndcg@10']:.4f}  R@1 {r['recall@1']:.4f}  R@5 {r['recall@5']:.4f}  "
                  f"R@10 {r['recall@10']:.4f}  MRR@10 {r['mrr@10']:.4f}  p50 {r['latency_p50_ms']:.1f} ms  "
                  f"p95 {r['latency_p95_ms']:.1f} ms")
    comparisons = [compare_runs(base, other, kbs[0], name)
                   for name in kbs[1:] for base, other in zip(runs[kbs[0]], runs[name])]
    for c in comparisons:
        print(c.line())
    if not per_query:
        for results in runs.values():
            for r in results:
                r.pop("per_query")
    first = runs[kbs[0]]
    doc = {"dataset": str(Path(beir).resolve()), "split": split, "kb": kbs[0], **first[0], "configs": first}
    if len(kbs) > 1:
        doc["kbs"] = [{"kb": name, "configs": runs[name]} for name in kbs]
        doc["comparisons"] = [c.to_dict() for c in comparisons]
    if out:
        Path(out).write_text(json.dumps(doc, ensure_ascii=False, indent=2))
        print(f"wrote {out}")


def _embed_model_used_or_fail(mgr, kbs: list[str], embed_model: str) -> None:
    """--embed-model makes the KBs that do not exist yet; a KB reused keeps its own model. When every KB named
    exists and none has that model, the option would change nothing and the figures would be credited to a model
    they do not come from: stop, with the way out."""
    from indexer.embed.factory import same_model

    if not all(mgr.exists(name) for name in kbs):
        return
    models = {}
    for name in kbs:
        store = mgr.open(name)
        models[name] = store.embed_model
        store.close()
    if any(same_model(model, embed_model) for model in models.values()):
        return
    have = ", ".join(f"{name!r} embeds with {model}" for name, model in models.items())
    name = kbs[0]
    fail(f"{have}; --embed-model {embed_model} chooses the model of a new KB only: measure one of that model under "
         f"a new name (--kb {name}-{Path(embed_model).name}), or `rag kb reembed {name} --embed-model {embed_model}` "
         "first")
