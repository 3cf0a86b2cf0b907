"""What checking a streamed answer costs ([answer] stream = "verified"), against the one check of the
whole answer that runs anyway, for answers of growing length.

    python bench/bench_stream_checks.py [--sentences 10,40,160,600] [--piece 4] [--rounds 3]

An answer of N sentences taken from the bundled sample's overdraft page (each cited [1], none alike
but for its numbers) is fed to rag.answering.cite.StreamCiter in pieces of --piece characters,
calling settled() after each piece as the pipeline does, then finish(); the baseline is one cite() of
the whole answer, as raw streaming does. Both start with verify()'s cache empty. Prints, per length,
the checks made while streaming, the time of streaming and finishing, and its ratio to the baseline
(medians of --rounds); writes bench/out/stream_checks.json. Each check cites the text so far, so
checking at every sentence would grow with the square of the length; with SETTLE_GROWTH the checks
grow with its log, and verify()'s cache keeps a sentence from being checked twice.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import REPO, environment, table, write_json  # noqa: E402

QUESTION = "How long do I have to cover an overdraft?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", default="10,40,160,600")
    ap.add_argument("--piece", type=int, default=4, help="characters per streamed piece (a token is ~4)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default="stream_checks")
    a = ap.parse_args()

    from rag.answering.cite import SETTLE_GROWTH, StreamCiter, cite, split_sentences
    from rag.answering.verify import verify
    from rag.types import Hit

    pages = [REPO / "data/sample/en/overdraft_policy.md", REPO / "data/sample/en/lost_or_stolen_cards.txt"]
    hits = [Hit(doc_id=p.stem, chunk_id=f"{p.stem}#0", source=str(p.relative_to(REPO)),
                text=p.read_text(encoding="utf-8")[:1500], score=1.0) for p in pages]
    pool = [hits[0].text[a:b].strip() for a, b in split_sentences(hits[0].text)]
    pool = [s.rstrip(".") + " [1]. " for s in pool if 30 <= len(s) <= 200 and not any(c.isdigit() for c in s)]

    rows, out = [], []
    for n in [int(x) for x in a.sentences.split(",")]:
        text = "".join(pool[i % len(pool)] for i in range(n))
        pieces = [text[i:i + a.piece] for i in range(0, len(text), a.piece)]
        streamed, final, checks = [], [], 0
        for _ in range(a.rounds):
            verify.cache_clear()
            citer = StreamCiter(hits, question=QUESTION)
            t = time.perf_counter()
            checks = sum(citer.settled() is not None for _ in citer.wrap(iter(pieces)))
            citer.finish()
            streamed.append(time.perf_counter() - t)
            verify.cache_clear()
            t = time.perf_counter()
            cite(text, hits, question=QUESTION)
            final.append(time.perf_counter() - t)
        s, f = statistics.median(streamed), statistics.median(final)
        rows.append([n, len(text), checks, f"{s * 1000:.0f}", f"{f * 1000:.1f}", f"{s / f:.1f}x"])
        out.append({"sentences": n, "chars": len(text), "checks": checks, "streaming_s": s, "final_cite_s": f})
    print(f"SETTLE_GROWTH = {SETTLE_GROWTH}, pieces of {a.piece} characters, median of {a.rounds}")
    print(table(rows, ["sentences", "chars", "checks", "streamed + final ms", "one cite ms", "ratio"]))
    print("wrote", write_json(a.json, {"environment": environment(), "settle_growth": SETTLE_GROWTH,
                                       "piece": a.piece, "rows": out}))


if __name__ == "__main__":
    main()
