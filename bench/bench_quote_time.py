"""Quoted answers' time with the sentence vectors shared by a pipeline's answers, against vectors kept for
one answer only (as before rag.answering.cite_semantic.SentenceVectors), side by side.

The bundled sample (data/sample, both languages) is indexed into a temporary KB with the default settings
and its questions (data/sample_questions.txt and the eval set's, data/eval/sample) are asked in rounds; each question is asked once under each
arm, the order alternating, so both see the same machine load. The first round is when the shared cache
is cold for most sentences; later rounds repeat the questions, as a service's users do.

    python bench/bench_quote_time.py [--rounds 3] [--json quote_time]
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from _common import REPO, environment, write_json  # noqa: F401  (sets sys.path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=None, help="write the figures to bench/out/NAME.json")
    args = ap.parse_args()

    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager
    from rag.adapt.tune_refusal import index_calibrated
    from rag.config import Settings
    from rag.pipeline import build_pipeline

    questions = [q.strip() for q in (REPO / "data" / "sample_questions.txt").read_text(encoding="utf-8").splitlines()
                 if q.strip() and not q.startswith("#")]
    for lang in ("en", "zh"):  # the eval set's questions, asked of the same bank
        lines = (REPO / "data" / "eval" / "sample" / lang / "queries.jsonl").read_text(encoding="utf-8").splitlines()
        questions += [json.loads(line)["text"] for line in lines if line.strip()]
    questions = list(dict.fromkeys(questions))
    with tempfile.TemporaryDirectory(prefix="quote-time-") as home:
        settings = Settings.load(indexer={"home": Path(home)}, answer={"mode": "extract"})
        manager = KBManager(IndexerSettings(home=Path(home)))
        index_calibrated(settings, "sample", manager, [str(REPO / "data" / "sample")])
        pipe = build_pipeline(settings, "sample", manager, reranker=None)
        pipe.warm_up()
        shared = pipe.sentence_vectors
        times: dict[str, list[list[float]]] = {"shared": [], "per answer": []}
        answers: dict[str, dict[str, str]] = {"shared": {}, "per answer": {}}
        for r in range(args.rounds):
            for arm in times:
                times[arm].append([])
            for i, q in enumerate(questions):
                for arm in (("shared", "per answer") if (r + i) % 2 == 0 else ("per answer", "shared")):
                    pipe.sentence_vectors = shared if arm == "shared" else None
                    t = time.perf_counter()
                    answers[arm][q] = pipe.ask(q).answer
                    times[arm][-1].append(time.perf_counter() - t)
        pipe.close()
    same = sum(answers["shared"][q] == answers["per answer"][q] for q in questions)
    rows = []
    print(f"{len(questions)} questions, {args.rounds} rounds; answers identical: {same}/{len(questions)}")
    print(f"{'round':>5s} {'per answer p50 ms':>18s} {'shared p50 ms':>14s} {'ratio':>6s}")
    for r in range(args.rounds):
        base, ours = (statistics.median(times[a][r]) * 1000 for a in ("per answer", "shared"))
        rows.append({"round": r + 1, "per_answer_p50_ms": round(base, 2), "shared_p50_ms": round(ours, 2),
                     "ratio": round(ours / base, 3)})
        print(f"{r + 1:5d} {base:18.1f} {ours:14.1f} {ours / base:6.2f}")
    if args.json:
        print("wrote", write_json(args.json, {"benchmark": "quote_time", "questions": len(questions),
                                             "identical_answers": same, "rounds": rows,
                                             "environment": environment()}))


if __name__ == "__main__":
    main()
