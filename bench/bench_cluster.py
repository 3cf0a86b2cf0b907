"""Capacity of the cluster mode on loopback: searches per second through haproxy with one and with
two API replicas (`rag serve --indexing off`), same data, same clients, one run.

    python bench/bench_cluster.py [--clients 8] [--seconds 20] [--docs 40]

Every replica, worker, PostgreSQL, Redis, Milvus Lite and haproxy share this machine's cores, so
the two-replica figure is bounded by the cores, not by the design: on 2 cores the ratio says how
much of one replica's time was spent waiting rather than computing. Writes bench/out/cluster.json.
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from _common import environment, percentile, table, write_json

from cli.testing import wait_job
from cli.testing.cluster import LocalCluster

QUERIES = ["stolen card phone number", "wire transfer cut-off time", "overdraft fee", "branch opening hours",
           "银行卡丢了怎么挂失", "外汇额度", "mortgage early repayment", "password reset"]


def corpus(n: int) -> dict[str, bytes]:
    sample = Path(__file__).resolve().parent.parent / "data" / "sample"
    files = sorted(p for p in sample.rglob("*") if p.suffix in (".md", ".txt"))
    out = {}
    for i in range(n):
        src = files[i % len(files)]
        out[f"{i:03d}-{src.name}"] = src.read_bytes()
    return out


def measure(c: LocalCluster, clients: int, seconds: float) -> dict:
    with c.client() as admin:
        keys = [admin.post("/v1/keys", json={"kb": "bench", "scope": "read"}).json()["key"] for _ in range(clients)]
    latencies: list[float] = []
    errors = [0]
    stop = threading.Event()

    def run(key: str, i: int) -> None:
        with c.client(key, timeout=30) as cl:
            n = i
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    ok = cl.post("/v1/kbs/bench/search", json={"query": QUERIES[n % len(QUERIES)], "k": 5}
                                 ).status_code == 200
                except Exception:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - t)
                else:
                    errors[0] += 1
                n += 1

    threads = [threading.Thread(target=run, args=(k, i)) for i, k in enumerate(keys)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    took = time.perf_counter() - t0
    return {"searches": len(latencies), "errors": errors[0], "qps": len(latencies) / took,
            "p50_ms": percentile(latencies, 50) * 1000, "p95_ms": percentile(latencies, 95) * 1000}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--docs", type=int, default=40)
    args = ap.parse_args()
    results = {}
    for replicas in (1, 2):
        with tempfile.TemporaryDirectory() as tmp, \
                LocalCluster(Path(tmp), replicas=replicas, workers=1) as c:
            with c.client() as admin:
                admin.post("/v1/kbs", json={"name": "bench"})
                docs = corpus(args.docs)
                r = admin.post("/v1/kbs/bench/documents",
                               files=[("files", (n, t, "text/plain")) for n, t in docs.items()])
                wait_job(admin, r.json()["job_id"], timeout=900)
            measure(c, args.clients, 3)  # warm-up
            results[replicas] = measure(c, args.clients, args.seconds)
            print(f"{replicas} replica(s): {results[replicas]}", flush=True)
    ratio = results[2]["qps"] / results[1]["qps"]
    rows = [[n, f"{r['qps']:.1f}", f"{r['p50_ms']:.0f}", f"{r['p95_ms']:.0f}", r["errors"]] for n, r in results.items()]
    print(table(rows, ["replicas", "searches/s", "p50 ms", "p95 ms", "errors"]))
    print(f"two replicas / one: {ratio:.2f}x (the same {args.clients} clients, {args.seconds:g} s each)")
    write_json("cluster", {"env": environment("pymilvus", "milvus-lite", "psycopg"), "args": vars(args),
                           "results": results, "ratio_2_over_1": ratio})


if __name__ == "__main__":
    main()
