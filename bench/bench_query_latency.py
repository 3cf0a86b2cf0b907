"""Retrieval latency on a 100,000-chunk KB: hybrid (real query encoder + FAISS + BM25 + SQLite),
with the exact index as the baseline side by side with HNSW, and the HNSW recall@10 against exact.

Chunk vectors are clustered random unit vectors (500 topics; for an ensemble such as the default 'e5+minilm', one
such unit vector per member plus the ensemble's constant column) and chunk text is drawn from a Zipf vocabulary, so
the KB builds in about a minute without embedding 100k passages; the query path is the real one.
    python bench/bench_query_latency.py [--chunks 100000] [--queries 200] [--model e5+minilm]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import OUT_DIR, environment  # noqa: F401  (sets sys.path)

from indexer.config import IndexerSettings
from indexer.kbs import KBManager
from indexer.store.local.catalog import text_hash
from indexer.types import Chunk, DocumentInfo
from rag.retrieval.hybrid import HybridRetriever

WORDS = ("account card transfer wire fee limit branch loan mortgage rate overdraft password reset "
         "deposit savings checking statement interest credit debit payment international domestic "
         "customer service complaint hours holiday exchange currency online mobile app security").split()


def synthetic_vectors(rng, n: int, dim: int) -> np.ndarray:
    """Clustered like real embeddings (topics), not uniform noise, on which no ANN index has structure to use."""
    centers = rng.normal(size=(500, dim)).astype(np.float32)
    v = centers[rng.integers(0, 500, size=n)] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def model_vectors(rng, n: int, encoder) -> np.ndarray:
    from indexer.embed.ensemble import EnsembleEncoder

    if isinstance(encoder, EnsembleEncoder):
        return encoder.join_passages([synthetic_vectors(rng, n, m.dim) for m in encoder.members])
    return synthetic_vectors(rng, n, encoder.dim)


def build(home: Path, n_chunks: int, model: str, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    vocab = WORDS + [f"term{i}" for i in range(20000)]
    p = 1.0 / np.arange(1, len(vocab) + 1) ** 1.1
    p /= p.sum()
    mgr = KBManager(IndexerSettings(home=home, embed_model=model, dense_index="flat"))
    store = mgr.open("big", writable=True, create=True)
    per_doc = 10
    t0 = time.perf_counter()
    lengths = rng.integers(40, 120, size=n_chunks)
    words = rng.choice(len(vocab), size=int(lengths.sum()), p=p)
    ends = np.cumsum(lengths)
    all_vecs = model_vectors(rng, n_chunks, mgr.encoder(model))
    for d in range(n_chunks // per_doc):
        rows = range(d * per_doc, (d + 1) * per_doc)
        toks = [[vocab[w] for w in words[ends[r] - lengths[r]:ends[r]]] for r in rows]
        texts = [" ".join(t) for t in toks]
        chunks = [Chunk(f"doc{d}:{i}", f"doc{d}", i, t) for i, t in enumerate(texts)]
        store.replace_document(DocumentInfo(f"doc{d}", f"synthetic/{d}.txt", str(d), 1, per_doc, "now"),
                               chunks, toks, all_vecs[rows.start:rows.stop], [text_hash(t) for t in texts])
    store.commit()
    store.close()
    print(f"built {n_chunks} chunks in {time.perf_counter() - t0:.0f} s")


def measure(store, encoder, queries: list[str], mode: str) -> dict:
    r = HybridRetriever(store, encoder)
    r.run(queries[0], 10, mode=mode)
    lat = []
    for q in queries:
        t = time.perf_counter()
        r.run(q, 10, mode=mode)
        lat.append(time.perf_counter() - t)
    ms = np.asarray(lat) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--model", default=IndexerSettings().embed_model, help="query encoder (default: the configured one)")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    queries = [" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) + "?" for _ in range(args.queries)]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        build(home, args.chunks, args.model)
        results = {}
        for kind in ("flat", "hnsw"):
            mgr = KBManager(IndexerSettings(home=home, embed_model=args.model, dense_index=kind))
            store = mgr.open("big")
            if store.snapshot.dense.kind != kind:
                t = time.perf_counter()
                store.snapshot.dense = store.snapshot.dense.rebuild_as(kind)
                print(f"built {kind} in {time.perf_counter() - t:.0f} s")
            enc = mgr.encoder(args.model)
            enc.warm_up()
            results[kind] = {mode: measure(store, enc, queries, mode) for mode in ("hybrid", "dense", "bm25")}
            qv = enc.encode_queries(queries[:100])
            results[kind]["_ids"] = store.snapshot.dense.search(qv, 10)[0]
            t = time.perf_counter()
            timed = queries[:50]
            for q in timed:  # one question at a time, as a user asks
                enc.encode_queries([q])
            results[kind]["encode_only_ms"] = (time.perf_counter() - t) / len(timed) * 1000
            store.close()
        recall = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(results["hnsw"].pop("_ids"),
                                                                          results["flat"].pop("_ids"))]))
    out = {"chunks": args.chunks, "queries": args.queries, "model": args.model, "results": results, "hnsw_recall@10": recall,
           "environment": environment("faiss-cpu", "torch")}
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / "query_latency.json").write_text(json.dumps(out, indent=2))
    for kind in ("flat", "hnsw"):
        r = results[kind]
        print(f"{kind:>5}: hybrid p50 {r['hybrid']['p50_ms']:.1f} ms p95 {r['hybrid']['p95_ms']:.1f} ms | "
              f"dense p50 {r['dense']['p50_ms']:.1f} | bm25 p50 {r['bm25']['p50_ms']:.1f} | "
              f"query encoding {r['encode_only_ms']:.1f} ms")
    print(f"hybrid p50 exact/HNSW = {results['flat']['hybrid']['p50_ms'] / results['hnsw']['hybrid']['p50_ms']:.2f}x; "
          f"HNSW recall@10 vs exact = {recall:.3f}")


if __name__ == "__main__":
    main()
