"""Generator quantization benchmark: float32 vs int8 vs int4, interleaved in one process.

    python bench/bench_generator.py [--quant none,int8,int4] [--n 24] [--rounds 1] [--threads 2]
                                    [--data QA.jsonl] [--json bench/out/generator.json]

Same as `rag bench generator` (rag/adapt/bench_generator.py holds the code): prefill and decode tokens/s
(medians), weight size and process RSS, and answer quality (token F1, citation hit, refusal
accuracy) on QA records (default: bench/generator_qa.jsonl, held-out synthetic records of the
sample KB); prints the recommended default and writes everything as JSON.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    from rag.adapt.bench_generator import run_bench
    from rag.generation.config import GenerationSettings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quant", default="none,int8,int4")
    ap.add_argument("--data", default=None)
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--json", default="bench/out/generator.json")
    a = ap.parse_args()
    run_bench(GenerationSettings.load(None), [m.strip() for m in a.quant.split(",") if m.strip()], a.data, a.n,
              a.rounds, a.max_new_tokens, a.threads, not a.no_memory, a.json)


if __name__ == "__main__":
    main()
