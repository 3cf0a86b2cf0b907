"""Load benchmark of the HTTP service: N concurrent clients against `rag serve` on loopback for a
bounded time, per scenario: search only; full answers without cache; a customer-service mix
(80% repeated popular questions, each asked once before the timed window) with and without the
answer cache. Reports throughput,
p50/p95/p99 latency, errors by status, and the server's RSS before and after each scenario.

    python bench/bench_load.py [--duration 60] [--search-clients 8] [--answer-clients 4] [--quick] [--generate]

Writes bench/out/load.json. The cache-vs-no-cache figures are ratios from the same run.
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, environment, write_json  # noqa: E402

sys.path.insert(0, str(REPO))
import httpx  # noqa: E402
import numpy as np  # noqa: E402

from cli.testing import Server, wait_job  # noqa: E402

SAMPLE = REPO / "data" / "sample"
POPULAR = [q.strip() for q in (REPO / "data" / "sample_questions.txt").read_text(encoding="utf-8").splitlines()
           if q.strip()][:5]
TAIL_TOPICS = ["wire transfer limits", "card replacement fees", "mortgage prepayment", "overdraft fees",
               "branch opening hours", "foreign currency purchase", "complaint handling", "account closure",
               "转账手续费", "挂失流程", "房贷利率", "购汇额度"]


def tail_question(rng: random.Random) -> str:
    return f"What should I know about {rng.choice(TAIL_TOPICS)} (case {rng.randrange(10**6)})?"


def rss_mb(srv: Server) -> float:
    for line in httpx.get(srv.url + "/metrics", timeout=30).text.splitlines():
        if line.startswith("process_resident_memory_bytes "):
            return float(line.split()[1]) / 2**20
    return float("nan")


def run_scenario(srv: Server, key: str, name: str, clients: int, duration: float, make_request) -> dict:
    lat, codes, lock = [], {}, threading.Lock()
    stop_at = time.monotonic() + duration

    def client(i: int):
        rng = random.Random(i)
        with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {key}"}, timeout=300) as c:
            while time.monotonic() < stop_at:
                path, body = make_request(rng)
                t0 = time.perf_counter()
                try:
                    status = c.post(path, json=body).status_code
                except httpx.HTTPError:
                    status = 0
                dt = time.perf_counter() - t0
                with lock:
                    codes[status] = codes.get(status, 0) + 1
                    if status == 200:
                        lat.append(dt)
                if status == 503:
                    time.sleep(1)
    rss0 = rss_mb(srv)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    rss1 = rss_mb(srv)
    ms = np.array(lat) * 1000 if lat else np.array([float("nan")])
    out = {"scenario": name, "clients": clients, "duration_s": round(wall, 1), "ok": len(lat),
           "throughput_rps": round(len(lat) / wall, 2), "p50_ms": round(float(np.percentile(ms, 50)), 1),
           "p95_ms": round(float(np.percentile(ms, 95)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
           "errors": {str(k): v for k, v in codes.items() if k != 200}, "rss_mb_before": round(rss0, 1),
           "rss_mb_after": round(rss1, 1)}
    print(f"{name:<28} {clients:>2} clients  {out['throughput_rps']:>7.2f} req/s  p50 {out['p50_ms']:>8.1f} ms  "
          f"p95 {out['p95_ms']:>8.1f}  p99 {out['p99_ms']:>8.1f}  errors {out['errors'] or 0}  "
          f"RSS {rss0:.0f} -> {rss1:.0f} MB", flush=True)
    return out


def start(home: Path, cache: bool, args) -> tuple[Server, str]:
    # --generate: the bundled model writes the English answers (by default they are quoted)
    extra = {"RAG_LLM_LANGUAGES": '["en"]'} if args.generate else {}
    # the rate limits (600/min per key, 1200/min per KB by default) would cap what is measured: capacity
    srv = Server(home, RAG_EMBED_MODEL=args.embed_model, RAG_LLM_MAX_NEW_TOKENS=str(args.max_new_tokens),
                 RAG_CACHE_ENABLED="true" if cache else "false", RAG_GEN_QUEUE="32", RAG_MAX_FILES="50",
                 RAG_RATE_LIMIT="0", RAG_KB_RATE_LIMIT="0", **extra).start()
    admin = srv.client()
    if admin.get("/v1/kbs").json() == []:
        admin.post("/v1/kbs", json={"name": "bank"})
        files = [("files", (f"{p.parent.name}_{p.name}", p.read_bytes())) for p in sorted(SAMPLE.rglob("*")) if p.is_file()]
        wait_job(admin, admin.post("/v1/kbs/bank/documents", files=files).json()["job_id"], timeout=900)
    key = admin.post("/v1/keys", json={"kb": "bank", "scope": "read"}).json()["key"]
    return srv, key


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--search-clients", type=int, default=8)
    ap.add_argument("--answer-clients", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--embed-model", default="e5")
    ap.add_argument("--quick", action="store_true", help="20 s per scenario")
    ap.add_argument("--generate", action="store_true",
                    help="the bundled model writes English answers (default: quoted, the service's default)")
    args = ap.parse_args()
    if args.quick:
        args.duration = 20
    home = Path(tempfile.mkdtemp(prefix="bench-load-")) / "home"

    def search(rng):
        return "/v1/kbs/bank/search", {"query": rng.choice(POPULAR + [tail_question(rng)]), "k": 10}

    def unique(rng):
        return "/v1/kbs/bank/query", {"question": tail_question(rng)}

    def mix(rng):
        q = rng.choice(POPULAR) if rng.random() < 0.8 else tail_question(rng)
        return "/v1/kbs/bank/query", {"question": q}

    results = []
    try:
        for cache in (False, True):
            srv, key = start(home, cache, args)
            try:
                tag = "cache" if cache else "no cache"
                if not cache:
                    results.append(run_scenario(srv, key, "search", args.search_clients, args.duration, search))
                    results.append(run_scenario(srv, key, "answers, unique (no cache)", args.answer_clients,
                                                args.duration, unique))
                with srv.client(key, timeout=600) as c:  # the popular questions asked once before timing,
                    for q in POPULAR:                     # as in a queue that has been running a while
                        c.post("/v1/kbs/bank/query", json={"question": q})
                results.append(run_scenario(srv, key, f"answers, 80% popular ({tag})", args.answer_clients,
                                            args.duration, mix))
                alive = srv.proc.poll() is None
                results[-1]["server_alive"] = alive
            finally:
                srv.stop()
    finally:
        shutil.rmtree(home.parent, ignore_errors=True)
    by = {r["scenario"]: r for r in results}
    a, b = by["answers, 80% popular (no cache)"], by["answers, 80% popular (cache)"]
    ratios = {"mix_throughput_cache_vs_none": round(b["throughput_rps"] / max(a["throughput_rps"], 1e-9), 2),
              "mix_p50_none_vs_cache": round(a["p50_ms"] / max(b["p50_ms"], 1e-9), 2)}
    print(f"cache on the 80%-popular mix: {ratios['mix_throughput_cache_vs_none']}x throughput, "
          f"p50 {ratios['mix_p50_none_vs_cache']}x lower")
    write_json("load", {"config": vars(args), "results": results, "ratios": ratios,
                        "environment": environment("fastapi", "uvicorn", "torch", "transformers")})


if __name__ == "__main__":
    main()
