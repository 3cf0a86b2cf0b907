"""Answers on knowledge bases of other domains than the bundled bank: a school's and a hospital's
patient/parent information (data/eval/domains/, English and Chinese documents), with questions asked in
their own words and questions about the same organisation that the documents do not answer.

    python bench/bench_domain_answers.py [--sets school,hospital] [--home /tmp/domains-home]
                                          [--answer-mode extract|generate] [--json domain_answers]

Each set's documents are indexed into a KB of their own with the default settings (the refusal
threshold calibrated automatically, as `rag index` does), then every question goes through
Pipeline.ask. Per language and split:
  answered        share of the answerable questions not refused
  cites gold      the answer cites the file that answers it
  gold first      retrieval ranks that file first
  F1              token F1 of the answer against the written gold answer (0 when refused)
  wrong quoted    answerable questions answered with F1 < 0.2: a quote beside the point
  unans. refused  questions the documents do not answer that get the refusal

The questions alternate between a "dev" and a "test" split. Choices (rules, margins) are made looking
at dev only; test is what is reported.

CI runs it with --check data/eval/domains/baseline.json: answered, cites gold and unanswerable questions
refused may not fall by more than one question (--noise) in any set, language and split. After an
intended change, regenerate it with --save-baseline data/eval/domains/baseline.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import write_json  # noqa: E402

DOMAINS = REPO / "data" / "eval" / "domains"
WRONG_F1 = 0.2  # an answer this far from the gold one quotes something else (read: docs/answers.md)


def run_set(name: str, home: Path, answer_mode: str) -> list[dict]:
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager
    from rag.adapt.tune_refusal import index_calibrated
    from rag.config import Settings
    from rag.metrics import token_f1
    from rag.pipeline import build_pipeline

    settings = Settings.load(indexer={"home": home}, answer={"mode": answer_mode})
    manager = KBManager(IndexerSettings(home=home))
    kb = f"domain-{name}"
    index_calibrated(settings, kb, manager, [str(DOMAINS / name / "docs")])  # the KB `rag index` leaves
    pipe = build_pipeline(settings, kb, manager, reranker=None)
    pipe.warm_up()
    rows = []
    for line in (DOMAINS / name / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        t = time.perf_counter()
        a = pipe.ask(q["question"])
        cited = [os.path.basename(c.source) for c in a.citations]
        hits = [os.path.basename(h.source) for h in a.hits]
        f1 = token_f1(a.answer, q["answer"]) if q["answerable"] and not a.refused else 0.0
        rows.append({**q, "set": name, "got": a.answer, "refused": a.refused, "why": a.fallback_reason,
                     "cited": cited, "gold_cited": bool(q["source"]) and q["source"] in cited,
                     "gold_first": bool(q["source"]) and hits[:1] == [q["source"]], "f1": f1,
                     "total_s": time.perf_counter() - t})
    pipe.close()
    return rows


def summarise(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    share = (lambda xs, n: round(sum(xs) / n, 3) if n else None)
    n = len(answerable)
    return {"answerable": n, "answered": share([not r["refused"] for r in answerable], n),
            "cites_gold": share([r["gold_cited"] for r in answerable], n),
            "gold_first": share([r["gold_first"] for r in answerable], n),
            "f1": share([r["f1"] for r in answerable], n),
            "wrong_quoted": sum(not r["refused"] and r["f1"] < WRONG_F1 for r in answerable),
            "unanswerable": len(unanswerable), "unanswerable_refused": sum(r["refused"] for r in unanswerable)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="school,hospital")
    ap.add_argument("--home", default=None, help="where the KBs are built (default: a temporary folder)")
    ap.add_argument("--answer-mode", default="extract", choices=["extract", "generate", "auto"])
    ap.add_argument("--json", default=None, help="write rows and summaries to bench/out/NAME.json")
    ap.add_argument("--save-baseline", default=None, help="write the summaries to this file (the CI gate's baseline)")
    ap.add_argument("--check", default=None, help="compare with a baseline written by --save-baseline: exit 1 when "
                    "answered, cites gold or unanswerable refused fell by more than --noise questions anywhere")
    ap.add_argument("--noise", type=int, default=1, help="questions a figure may lose as hardware noise (default 1)")
    args = ap.parse_args()
    import tempfile

    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="domains-") as scratch:  # removed afterwards unless --home
        home = Path(args.home) if args.home else Path(scratch)
        for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
            rows += run_set(name, home, args.answer_mode)
    summary = {}
    print(f"{'set':9s} {'lang':4s} {'split':5s} {'n':>3s} {'answered':>8s} {'cites gold':>10s} {'gold first':>10s} "
          f"{'F1':>6s} {'wrong quoted':>12s} {'unans. refused':>14s}")
    for name in dict.fromkeys(r["set"] for r in rows):
        for lang in ("en", "zh"):
            for split in ("dev", "test"):
                s = summarise([r for r in rows if r["set"] == name and r["lang"] == lang and r["split"] == split])
                summary[f"{name}/{lang}/{split}"] = s
                print(f"{name:9s} {lang:4s} {split:5s} {s['answerable']:3d} {s['answered']:8.0%} {s['cites_gold']:10.0%} "
                      f"{s['gold_first']:10.0%} {s['f1']:6.3f} {s['wrong_quoted']:12d} "
                      f"{s['unanswerable_refused']:>8d} of {s['unanswerable']}")
    if args.json:
        print("wrote", write_json(args.json, {"benchmark": "domain_answers", "answer_mode": args.answer_mode,
                                             "summary": summary, "rows": rows}))
    if args.save_baseline:
        Path(args.save_baseline).write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print("wrote", args.save_baseline)
    if args.check:
        failures = regressions(json.loads(Path(args.check).read_text(encoding="utf-8")), summary, args.noise)
        for line in failures:
            print("REGRESSION", line)
        if failures:
            sys.exit(1)
        print(f"no regression beyond {args.noise} question(s) against {args.check}")


_GATED = ("answered", "cites_gold", "unanswerable_refused")


def _questions(summary: dict, figure: str) -> int:
    """A gated figure as a count of questions (the shares are of the answerable questions)."""
    value = summary[figure]
    return value if figure == "unanswerable_refused" else round(value * summary["answerable"])


def regressions(baseline: dict, current: dict, noise: int) -> list[str]:
    """`set/lang/split figure: before -> after` for every gated figure that lost more than `noise` questions."""
    out = []
    for key, before in baseline.items():
        after = current.get(key)
        if after is None:
            out.append(f"{key}: missing")
            continue
        out += [f"{key} {figure}: {_questions(before, figure)} -> {_questions(after, figure)} questions"
                for figure in _GATED if _questions(after, figure) < _questions(before, figure) - noise]
    return out


if __name__ == "__main__":
    main()
