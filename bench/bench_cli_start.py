"""A one-off `rag ask` from the command line, whole process: as it runs, against the same command with torch
imported before it starts (what each `rag ask` paid when the encoders' device check imported torch to look
for a GPU; the CTranslate2 encoders and a quoted answer need no torch), side by side.

The bundled sample (data/sample) is indexed into a temporary KB once; then the two commands run in turn,
A B A B ..., after one warm-up run each, and each run's wall time and peak memory (the process's own
accounting, os.wait4) are kept. The figures are medians; the ratio is taken pair by pair.

    python bench/bench_cli_start.py [--runs 7] [--question "..."] [--json cli_start]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import REPO, environment, write_json

QUESTION = "How long do I have to cover an overdraft before the fee is charged?"
# the baseline: torch imported first, then the CLI as `python -m cli` runs it
WITH_TORCH = "import sys, runpy, torch; sys.argv[0] = 'rag'; runpy.run_module('cli', run_name='__main__')"


def timed(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of one run, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--json", default=None, help="write the figures to bench/out/NAME.json")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="cli-start-") as home:
        env = {**os.environ, "RAG_HOME": home, "HF_HUB_OFFLINE": "1"}
        subprocess.run([sys.executable, "-m", "cli", "index", str(REPO / "data" / "sample"), "--kb", "sample", "-q"],
                       cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
        ask = ["ask", args.question, "--kb", "sample"]
        arms = {"as it runs": [sys.executable, "-m", "cli", *ask],
                "torch imported first": [sys.executable, "-c", WITH_TORCH, *ask]}
        runs: dict[str, list[tuple[float, float]]] = {arm: [] for arm in arms}
        for i in range(args.runs + 1):
            for arm, argv in arms.items():
                figures = timed(argv, env)
                if i:  # the first run of each warms the page cache
                    runs[arm].append(figures)
    ours, base = runs["as it runs"], runs["torch imported first"]
    ratio = statistics.median(o[0] / b[0] for o, b in zip(ours, base))
    rows = {arm: {"wall_s_median": round(statistics.median(w for w, _ in r), 3),
                  "peak_mib_median": round(statistics.median(m for _, m in r), 1)} for arm, r in runs.items()}
    for arm, row in rows.items():
        print(f"{arm:22s} wall {row['wall_s_median']:.2f} s   peak {row['peak_mib_median']:.0f} MiB")
    print(f"ratio (as it runs / torch imported first), median of {args.runs} pairs: {ratio:.2f}x wall")
    if args.json:
        print("wrote", write_json(args.json, {"benchmark": "cli_start", "question": args.question, "runs": args.runs,
                                              "arms": rows, "wall_ratio": round(ratio, 3), "env": environment()}))


if __name__ == "__main__":
    main()
