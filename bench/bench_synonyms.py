"""Matching a KB's synonyms (rag.synonyms.matcher) against long texts: the time to find the terms and write
them as their canonical terms, for a text 10x longer under the same 5,000 rules (one pass: ~10x the time),
and the 5,000 rules' cost beside a list of 10.

    python bench/bench_synonyms.py [--repeat 5]
"""
from __future__ import annotations

import argparse
import random
import statistics
import string
import time

from rag.synonyms.matcher import matcher
from rag.synonyms.rules import parse


def rules(n: int, rnd: random.Random) -> tuple[str, list[str]]:
    words = ["".join(rnd.choice(string.ascii_lowercase) for _ in range(rnd.randint(4, 12))) for _ in range(2 * n)]
    return "\n".join(f"{words[2 * i]} {words[2 * i + 1][:5]}, {words[2 * i + 1]}" for i in range(n)), words


def timed(m, text: str, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        m.expansions(text)
        m.as_canonical(text)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    rnd = random.Random(7)
    big, words = rules(5000, rnd)
    small, _ = rules(10, rnd)
    t = time.perf_counter()
    m_big = matcher(parse(big))
    compile_s = time.perf_counter() - t
    m_small = matcher(parse(small))
    short = " ".join(rnd.choice(words) for _ in range(200)) + " 挂号费" * 100
    long = " ".join(rnd.choice(words) for _ in range(2000)) + " 挂号费" * 1000
    rows = [(len(short), timed(m_big, short, a.repeat), timed(m_small, short, a.repeat)),
            (len(long), timed(m_big, long, a.repeat), timed(m_small, long, a.repeat))]
    print(f"5,000 rules compiled in {compile_s:.2f} s (once per list)")
    print("characters  5,000 rules ms  10 rules ms  ratio")
    for n, big_ms, small_ms in rows:
        print(f"{n:>10}  {big_ms:>13.1f}  {small_ms:>11.1f}  {big_ms / small_ms:>5.1f}x")
    print(f"10x the text: {rows[1][1] / rows[0][1]:.1f}x the time under 5,000 rules")


if __name__ == "__main__":
    main()
