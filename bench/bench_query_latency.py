"""Retrieval latency on a 100,000-chunk KB: hybrid (real query encoder + FAISS + BM25 + SQLite),
with the exact index as the baseline side by side with HNSW, and the HNSW recall@10 against exact.

Chunk vectors are clustered random unit vectors (500 topics; for an ensemble such as the default 'e5+minilm', one
such unit vector per member plus the ensemble's constant column) and chunk text is drawn from a Zipf vocabulary, so
the KB builds in about a minute without embedding 100k passages; the query path is the real one.
The query encoder runs through each engine of `--engines` (default: the torch engine, i.e. the encoders
before CTranslate2, and the default 'auto'), side by side: every question is timed through each engine
in turn, the order alternating, so both see the same load.
    python bench/bench_query_latency.py [--chunks 100000] [--queries 200] [--model e5+minilm] [--engines torch,auto]
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


def measure(store, encoders: dict, queries: list[str], mode: str) -> dict:
    """engine -> {p50_ms, p95_ms}: each question through every engine's retriever in turn (alternating order)."""
    rs = {e: HybridRetriever(store, enc) for e, enc in encoders.items()}
    for r in rs.values():
        r.run(queries[0], 10, mode=mode)
    lat: dict[str, list[float]] = {e: [] for e in rs}
    for i, q in enumerate(queries):
        for e in (list(rs) if i % 2 == 0 else list(rs)[::-1]):
            t = time.perf_counter()
            rs[e].run(q, 10, mode=mode)
            lat[e].append(time.perf_counter() - t)
    out = {}
    for e, v in lat.items():
        ms = np.asarray(v) * 1000
        out[e] = {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--model", default=IndexerSettings().embed_model, help="query encoder (default: the configured one)")
    ap.add_argument("--engines", default="torch,auto", help="encoder engines timed side by side (indexer.embed.bert)")
    ap.add_argument("--kinds", default="flat,hnsw", help="dense indexes: flat (exact, the baseline) and/or hnsw")
    ap.add_argument("--quick", action="store_true", help="20,000 chunks, 50 queries, HNSW only")
    args = ap.parse_args()
    if args.quick:
        args.chunks, args.queries, args.kinds = min(args.chunks, 20_000), min(args.queries, 50), "hnsw"
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    from indexer.embed.factory import make_encoder

    encoders = {e: make_encoder(args.model, engine=e) for e in engines}
    for enc in encoders.values():
        enc.warm_up()
    rng = np.random.default_rng(1)
    queries = [" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) + "?" for _ in range(args.queries)]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        build(home, args.chunks, args.model)
        results: dict[str, dict] = {e: {} for e in engines}  # engine -> kind -> figures
        ids = {}
        for kind in kinds:
            mgr = KBManager(IndexerSettings(home=home, embed_model=args.model, dense_index=kind))
            store = mgr.open("big")
            if store.snapshot.dense.kind != kind:
                t = time.perf_counter()
                store.snapshot.dense = store.snapshot.dense.rebuild_as(kind)
                print(f"built {kind} in {time.perf_counter() - t:.0f} s")
            by_mode = {mode: measure(store, encoders, queries, mode) for mode in ("hybrid", "dense", "bm25")}
            enc0 = encoders[engines[-1]]
            ids[kind] = store.snapshot.dense.search(enc0.encode_queries(queries[:100]), 10)[0]
            timed = queries[:50]
            for e, enc in encoders.items():
                results[e][kind] = {mode: by_mode[mode][e] for mode in by_mode}
                t = time.perf_counter()
                for q in timed:  # one question at a time, as a user asks
                    enc.encode_queries([q])
                results[e][kind]["encode_only_ms"] = (time.perf_counter() - t) / len(timed) * 1000
            store.close()
        recall = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ids["hnsw"], ids["flat"])])) \
            if {"flat", "hnsw"} <= set(ids) else None
    out = {"chunks": args.chunks, "queries": args.queries, "model": args.model, "engines": engines,
           "engines_used": {e: [getattr(m, "engine_used", None) for m in getattr(enc, "members", [enc])]
                            for e, enc in encoders.items()},
           "results": results, "hnsw_recall@10": recall,
           "environment": environment("faiss-cpu", "torch", "ctranslate2")}
    if len(engines) == 2 and "hnsw" in kinds:
        old, new = (results[e]["hnsw"]["hybrid"]["p50_ms"] for e in engines)
        out["ratios"] = {"hybrid_p50_hnsw": new / old}
        out["target"] = {"hybrid_p50_lower": True, "met": new < old}
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / ("query_latency_quick.json" if args.quick else "query_latency.json")).write_text(json.dumps(out, indent=2))
    for e in engines:
        for kind in kinds:
            r = results[e][kind]
            print(f"engine {e:>5} ({'/'.join(map(str, out['engines_used'][e]))}) {kind:>5}: hybrid p50 "
                  f"{r['hybrid']['p50_ms']:.1f} ms p95 {r['hybrid']['p95_ms']:.1f} ms | dense p50 "
                  f"{r['dense']['p50_ms']:.1f} | bm25 p50 {r['bm25']['p50_ms']:.1f} | query encoding "
                  f"{r['encode_only_ms']:.1f} ms")
        if {"flat", "hnsw"} <= set(kinds):
            print(f"engine {e}: hybrid p50 exact/HNSW = "
                  f"{results[e]['flat']['hybrid']['p50_ms'] / results[e]['hnsw']['hybrid']['p50_ms']:.2f}x")
    if recall is not None:
        print(f"HNSW recall@10 vs exact = {recall:.3f}")
    if "ratios" in out:
        print(f"hybrid p50 (HNSW) engine {engines[1]}/{engines[0]} = {out['ratios']['hybrid_p50_hnsw']:.2f}x "
              f"({'lower: MET' if out['target']['met'] else 'NOT lower: NOT MET'})")


if __name__ == "__main__":
    main()
