"""BM25 query speed: indexer.store.local.sparse.BM25Index(idf="okapi") vs rank_bm25.BM25Okapi.

Both engines get the SAME token lists: a synthetic corpus of chunks of 40-200 tokens drawn
from a Zipf-distributed vocabulary (deterministic seed). Query terms are drawn from the
same distribution, so common terms (long posting lists, the expensive case for a sparse
index) show up in queries as often as they do in text.

Measured side by side in one process, reported as ratios:
  * build time (rank-bm25 constructor vs BM25Index.add + the idf/weights preparation that
    the first query would otherwise pay),
  * queries/s for top-10 (rank-bm25: get_scores + argpartition, i.e. its cheapest top-k;
    ours: BM25Index.search(q, 10)),
  * correctness on every query run through rank-bm25: full score vectors compared, and
    top-10 compared exactly (same ids, same order) and tie-tolerantly (same score at every
    rank, and every id we return has that score in rank-bm25: ties may be broken differently).

    python bench/bench_bm25.py            # 100,000 chunks, ~2-3 min on 2 cores
    python bench/bench_bm25.py --quick    # 30,000 chunks, < 1 min
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import environment, table, write_json  # noqa: E402

TARGET_QPS_RATIO = 20.0


def make_corpus(n_chunks: int, vocab_size: int, zipf_s: float, min_len: int, max_len: int,
                seed: int) -> tuple[list[list[str]], list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    # pseudo-words of 3-10 letters, unique, so hashing costs what real words cost
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab: list[str] = []
    seen: set[str] = set()
    while len(vocab) < vocab_size:
        w = "".join(rng.choice(letters, rng.integers(3, 11)))
        if w not in seen:
            seen.add(w)
            vocab.append(w)
    p = 1.0 / np.arange(1, vocab_size + 1) ** zipf_s
    cdf = np.cumsum(p / p.sum())
    lengths = rng.integers(min_len, max_len + 1, n_chunks)
    ranks = np.searchsorted(cdf, rng.random(int(lengths.sum())), side="right").clip(0, vocab_size - 1)
    corpus, pos = [], 0
    for n in lengths.tolist():
        corpus.append([vocab[i] for i in ranks[pos:pos + n].tolist()])
        pos += n
    return corpus, vocab, cdf


def make_queries(n: int, vocab: list[str], cdf: np.ndarray, seed: int, min_terms: int = 2,
                 max_terms: int = 8) -> list[list[str]]:
    rng = np.random.default_rng(seed + 1)
    out = []
    for _ in range(n):
        k = int(rng.integers(min_terms, max_terms + 1))
        terms: list[str] = []
        while len(terms) < k:
            w = vocab[min(int(np.searchsorted(cdf, rng.random(), side="right")), len(vocab) - 1)]
            if w not in terms:
                terms.append(w)
        out.append(terms)
    return out


def ref_topk(scores: np.ndarray, k: int) -> np.ndarray:
    """rank-bm25's cheapest top-k: argpartition, then sort the k (ties by row)."""
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.lexsort((top, -scores[top]))]


def compare(our_ids: np.ndarray, our_scores: np.ndarray, ref_scores: np.ndarray, k: int,
            rtol: float = 1e-6, atol: float = 1e-9) -> tuple[bool, bool, str]:
    """(exact, tie_tolerant, why-not) for one query's top-k."""
    ref = ref_topk(ref_scores, k)
    ref = ref[ref_scores[ref] > 0]  # ours never returns zero-score rows
    exact = len(our_ids) == len(ref) and bool(np.array_equal(our_ids, ref))
    if exact:
        return True, True, ""
    if len(our_ids) != len(ref):
        return False, False, f"ours returned {len(our_ids)} hits, rank-bm25 has {len(ref)} with score > 0"
    if len(set(our_ids.tolist())) != len(our_ids):
        return False, False, "duplicate ids in our top-k"
    true_of_ours = ref_scores[our_ids]
    if not np.allclose(our_scores, true_of_ours, rtol=rtol, atol=atol):
        return False, False, f"our scores differ from rank-bm25's for the same rows: {our_scores} vs {true_of_ours}"
    if not np.allclose(true_of_ours, ref_scores[ref], rtol=rtol, atol=atol):
        return False, False, f"different score profile: {true_of_ours} vs {ref_scores[ref]}"
    return False, True, ""


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="30k chunks, 20 rank-bm25 queries, 300 of ours")
    ap.add_argument("--chunks", type=int, default=None, help="corpus size (default 100000; quick 30000)")
    ap.add_argument("--vocab", type=int, default=50_000)
    ap.add_argument("--zipf-s", type=float, default=1.0, help="Zipf exponent of the vocabulary")
    ap.add_argument("--min-len", type=int, default=40)
    ap.add_argument("--max-len", type=int, default=200)
    ap.add_argument("--ref-queries", type=int, default=None, help="queries run through rank-bm25 (default 50; quick 20)")
    ap.add_argument("--our-queries", type=int, default=None, help="queries run through ours (default 1000; quick 300)")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--out", default=None, help="name of the JSON file under bench/out/ (default bm25[_quick])")
    args = ap.parse_args(argv)
    n_chunks = args.chunks or (30_000 if args.quick else 100_000)
    n_ref = args.ref_queries or (20 if args.quick else 50)
    n_ours = max(args.our_queries or (300 if args.quick else 1000), n_ref)

    from rank_bm25 import BM25Okapi

    from indexer.store.local.sparse import BM25Index

    t0 = time.perf_counter()
    corpus, vocab, cdf = make_corpus(n_chunks, args.vocab, args.zipf_s, args.min_len, args.max_len, args.seed)
    queries = make_queries(n_ours, vocab, cdf, args.seed)
    gen_s = time.perf_counter() - t0
    n_tokens = sum(map(len, corpus))
    used_vocab = len({t for doc in corpus for t in doc})
    print(f"corpus: {n_chunks:,} chunks, {n_tokens:,} tokens, {used_vocab:,} distinct terms "
          f"(Zipf s={args.zipf_s}, vocab {args.vocab:,}); {n_ours} queries of 2-8 terms; generated in {gen_s:.1f}s",
          flush=True)

    # ---- build ----
    gc.collect()
    t0 = time.perf_counter()
    ref = BM25Okapi(corpus)
    ref_build = time.perf_counter() - t0
    print(f"rank-bm25 built in {ref_build:.1f}s", flush=True)

    gc.collect()
    ours = BM25Index(idf="okapi")
    t0 = time.perf_counter()
    ours.add(np.arange(n_chunks), corpus)
    our_add = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours._prepare()  # idf + weights; otherwise paid by the first query
    our_prep = time.perf_counter() - t0
    our_build = our_add + our_prep
    print(f"ours built in {our_build:.1f}s (add {our_add:.1f}s + prepare {our_prep:.2f}s)", flush=True)

    # ---- queries: rank-bm25 ----
    ref_q = queries[:n_ref]
    ref.get_scores(ref_q[0])  # warm-up (doc_len array etc.)
    ref_scores_all, ref_times = [], []
    for q in ref_q:
        t0 = time.perf_counter()
        s = ref.get_scores(q)
        ref_topk(s, args.k)
        ref_times.append(time.perf_counter() - t0)
        ref_scores_all.append(s)
    ref_total = sum(ref_times)
    ref_qps = len(ref_q) / ref_total
    print(f"rank-bm25: {len(ref_q)} queries in {ref_total:.1f}s", flush=True)

    # ---- queries: ours (the first n_ref are the same queries as above) ----
    for q in queries[:5]:
        ours.search(q, args.k)  # warm-up
    our_results, our_times = [], []
    for q in queries:
        t0 = time.perf_counter()
        ids, sc = ours.search(q, args.k)
        our_times.append(time.perf_counter() - t0)
        our_results.append((ids, sc))
    our_total = sum(our_times)
    our_qps = len(queries) / our_total
    # same queries as rank-bm25 only, for an apples-to-apples subset figure
    our_qps_same = n_ref / sum(our_times[:n_ref])

    # ---- correctness ----
    exact = tolerant = 0
    max_abs = max_rel = 0.0
    problems = []
    for i, (q, rs) in enumerate(zip(ref_q, ref_scores_all)):
        full = ours.score(q)
        diff = np.abs(full - rs)
        max_abs = max(max_abs, float(diff.max()))
        max_rel = max(max_rel, float((diff / np.maximum(np.abs(rs), 1e-12)).max()))
        ids, sc = our_results[i]
        e, t, why = compare(ids, sc, rs, args.k)
        exact += e
        tolerant += t
        if not t:
            problems.append({"query": q, "why": why, "ours": ids.tolist(), "rank_bm25": ref_topk(rs, args.k).tolist()})

    ratio_qps = our_qps / ref_qps
    ratio_build = ref_build / our_build
    rows = [
        ["build time (s)", f"{ref_build:.2f}", f"{our_build:.2f}", f"{ratio_build:.2f}x (>1: ours faster)"],
        ["queries timed", n_ref, len(queries), ""],
        ["queries/s (top-10)", f"{ref_qps:.2f}", f"{our_qps:.1f}", f"{ratio_qps:.1f}x"],
        ["queries/s, same queries only", f"{ref_qps:.2f}", f"{our_qps_same:.1f}", f"{our_qps_same / ref_qps:.1f}x"],
        ["mean latency (ms)", f"{1000 * ref_total / n_ref:.1f}", f"{1000 * our_total / len(queries):.2f}", ""],
        ["p95 latency (ms)", f"{1000 * np.percentile(ref_times, 95):.1f}",
         f"{1000 * np.percentile(our_times, 95):.2f}", ""],
    ]
    print()
    print(f"BM25 at {n_chunks:,} chunks ({n_tokens:,} tokens), top-{args.k}")
    print(table(rows, ["", "rank-bm25 BM25Okapi", "ours BM25Index(okapi)", "ours / rank-bm25"]))
    print(f"top-{args.k} agreement on the {n_ref} queries run through both: {exact}/{n_ref} identical (ids and order), "
          f"{tolerant}/{n_ref} identical up to tie order; max |score diff| over all rows {max_abs:.2e} "
          f"(max rel {max_rel:.2e})")
    ok = ratio_qps >= TARGET_QPS_RATIO and tolerant == n_ref
    print(f"target: ours >= {TARGET_QPS_RATIO:g}x rank-bm25 queries/s and top-{args.k} identical: "
          f"{'MET' if ok else 'NOT MET'} ({ratio_qps:.1f}x, {tolerant}/{n_ref})")
    for p in problems[:5]:
        print(f"  mismatch: {p}")

    result = {
        "benchmark": "bm25",
        "quick": args.quick,
        "config": {"chunks": n_chunks, "tokens": n_tokens, "distinct_terms": used_vocab, "vocab": args.vocab,
                   "zipf_s": args.zipf_s, "chunk_len": [args.min_len, args.max_len], "k": args.k, "seed": args.seed,
                   "ref_queries": n_ref, "our_queries": len(queries), "query_terms": [2, 8]},
        "rank_bm25": {"build_s": ref_build, "queries": n_ref, "total_s": ref_total, "qps": ref_qps,
                      "p50_ms": 1000 * float(np.percentile(ref_times, 50)),
                      "p95_ms": 1000 * float(np.percentile(ref_times, 95)),
                      "topk": "get_scores + argpartition"},
        "ours": {"build_s": our_build, "add_s": our_add, "prepare_s": our_prep, "queries": len(queries),
                 "total_s": our_total, "qps": our_qps, "qps_same_queries": our_qps_same,
                 "p50_ms": 1000 * float(np.percentile(our_times, 50)),
                 "p95_ms": 1000 * float(np.percentile(our_times, 95))},
        "ratios": {"qps": ratio_qps, "qps_same_queries": our_qps_same / ref_qps, "build_speedup": ratio_build},
        "agreement": {"compared": n_ref, "exact_top_k": exact, "tie_tolerant_top_k": tolerant,
                      "max_abs_score_diff": max_abs, "max_rel_score_diff": max_rel, "mismatches": problems[:20]},
        "target": {"qps_ratio": TARGET_QPS_RATIO, "met": ok},
        "environment": environment("rank-bm25", "numpy", "scipy"),
    }
    path = write_json(args.out or ("bm25_quick" if args.quick else "bm25"), result)
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
