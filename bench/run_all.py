"""Run every benchmark in sequence and print a summary of the ratios (what `make bench` runs).

    python bench/run_all.py            # full size: bm25 ~1.5 min + index ~15-25 min + query latency ~5 min on 2 cores
    python bench/run_all.py --quick    # small sizes: ~2-4 min on 2 cores
    python bench/run_all.py --only bm25 --strict

Each benchmark runs in its own interpreter, prints its own table and writes
bench/out/<name>.json; this script then writes bench/out/summary[_quick].json. Nothing
here asserts absolute timings: the figures are ratios against a baseline measured in the
same run. Exit status: 1 if a benchmark crashed; with --strict also when a target is missed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, OUT_DIR, REPO, environment, write_json  # noqa: E402

BENCHES = {
    "bm25": ("bench_bm25.py", "BM25 query speed: ours vs rank-bm25"),
    "index": ("bench_index.py", "indexing + hybrid query: ours vs LangChain; e5+minilm: default engine vs torch"),
    "query_latency": ("bench_query_latency.py", "hybrid query latency at 100k chunks: default engine vs torch"),
}


def summary_lines(name: str, data: dict) -> list[str]:
    if name == "bm25":
        r, a, c = data["ratios"], data["agreement"], data["config"]
        return [f"BM25 @ {c['chunks']:,} chunks: queries/s ours/rank-bm25 = {r['qps']:.1f}x "
                f"(target >= {data['target']['qps_ratio']:g}x: {'MET' if data['target']['met'] else 'NOT MET'}); "
                f"build time rank-bm25/ours = {r['build_speedup']:.2f}x; top-{c['k']} identical "
                f"{a['tie_tolerant_top_k']}/{a['compared']} (same order incl. ties {a['exact_top_k']}/{a['compared']}), "
                f"max |score diff| {a['max_abs_score_diff']:.1e}"]
    if name == "query_latency":
        res, eng = data["results"], data["engines"]
        out = [f"Query latency @ {data['chunks']:,} chunks ({data['model']}): " + "; ".join(
            f"engine {e}: hybrid p50 {k['hybrid']['p50_ms']:.1f} ms (query encoding {k['encode_only_ms']:.1f} ms)"
            for e in eng for kind, k in res[e].items() if kind == "hnsw")]
        if "ratios" in data:
            out.append(f"  hybrid p50 (HNSW) {eng[1]}/{eng[0]} = {data['ratios']['hybrid_p50_hnsw']:.2f}x "
                       f"(target lower: {'MET' if data['target']['met'] else 'NOT MET'})")
        return out
    if name == "index":
        lines = []
        if "engine_ratios" in data:
            er, s = data["engine_ratios"], data["systems"]
            lines.append(f"Indexing with e5+minilm: chunks/s default engine/torch engine = {er['chunks_per_s']:.2f}x "
                         f"(target >= {data['engine_target']['chunks_per_s_ratio']:g}x: "
                         f"{'MET' if data['engine_target']['met'] else 'NOT MET'}; "
                         f"{s['ensemble']['chunks_per_s']:.2f} vs {s['ensemble-torch']['chunks_per_s']:.2f}); "
                         f"hybrid query p50 {s['ensemble']['query_p50_ms']:.1f} vs "
                         f"{s['ensemble-torch']['query_p50_ms']:.1f} ms")
        if "ratios" not in data:
            return lines or ["index: no LangChain comparison was run"]
        r, s = data["ratios"], data["systems"]
        return lines + [f"Indexing {data['config']['files']} files: chunks/s ours/LangChain = {r['chunks_per_s']:.2f}x "
                f"(target >= {data['target']['chunks_per_s_ratio']:g}x: {'MET' if data['target']['met'] else 'NOT MET'}); "
                f"files/s {r['files_per_s']:.2f}x; chunks per CPU-second {r.get('chunks_per_cpu_s', float('nan')):.2f}x; "
                f"index CPU time ours/LangChain {1 / r['index_cpu_speedup']:.2f}x; "
                f"end-to-end incl. startup LangChain/ours {r['end_to_end_speedup']:.2f}x",
                f"  chunks: LangChain {s['langchain']['chunks']}, ours {s['ours']['chunks']}; "
                f"peak RSS ours/LangChain {r['peak_rss']:.2f}x "
                f"({s['ours']['peak_rss'] / 2**20:.0f} vs {s['langchain']['peak_rss'] / 2**20:.0f} MiB); "
                f"hybrid query p50 ours/LangChain {r['query_p50']:.2f}x "
                f"({s['ours']['query_p50_ms']:.1f} vs {s['langchain']['query_p50_ms']:.1f} ms), "
                f"p95 {r['query_p95']:.2f}x ({s['ours']['query_p95_ms']:.1f} vs {s['langchain']['query_p95_ms']:.1f} ms)"]
    return []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes for a ~1 min per benchmark smoke run")
    ap.add_argument("--only", action="append", choices=list(BENCHES), help="run only these (repeatable)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    status, lines, results = 0, [], {}
    for name in args.only or list(BENCHES):
        script, title = BENCHES[name]
        print(f"\n===== {name}: {title} {'(quick)' if args.quick else ''} =====", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(BENCH_DIR / script)] + (["--quick"] if args.quick else []),
                              cwd=REPO, env=env)
        took = time.perf_counter() - t0
        out = OUT_DIR / f"{name}{'_quick' if args.quick else ''}.json"
        if proc.returncode != 0 or not out.exists():
            status = 1
            lines.append(f"{name}: FAILED (exit {proc.returncode}) after {took:.0f}s")
            continue
        data = json.loads(out.read_text())
        results[name] = {"seconds": took, "ratios": data.get("ratios"), "target": data.get("target"),
                         "json": str(out.relative_to(REPO))}
        lines += summary_lines(name, data)
        if args.strict and not all((data.get(t) or {}).get("met", t != "target")
                                   for t in ("target", "engine_target")):
            status = 1

    print("\n===== summary (ratios measured side by side in the same run) =====")
    for line in lines:
        print(line)
    path = write_json("summary_quick" if args.quick else "summary",
                      {"quick": args.quick, "results": results, "lines": lines, "environment": environment()})
    print(f"wrote {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
