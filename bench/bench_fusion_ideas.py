"""Retrieval ideas measured offline on a BEIR split (the FAQ folds), without changing the defaults.

Each question's dense and BM25 candidates are taken once, exactly as HybridRetriever.run takes them
(same encoder, synonyms, weights and coverage); every idea then re-ranks those candidates:

- default: DBSF fusion, a document scored by its best chunk (checked against `rag eval retrieval`);
- second@W: a document's score is its best chunk's plus W x its second-best chunk's;
- rm3@L: BM25 pseudo-relevance feedback (RM3): the top 3 documents of the default (fused) ranking give
  their 10 likeliest terms (tf/length, weighted by the document's best fused score), searched with weight
  L beside the question's own terms (weight 1 - L), and that BM25 list replaces the plain one in the
  fusion; rm3-bm25fb@L: the same with BM25's own top 3 documents (classic RM3); rm3-bm25fb-covered@L:
  that, only for questions whose BM25 words the KB mostly holds (term coverage >= 0.5);
- agree@A: when the dense and BM25 top documents differ, each retriever's weight is scaled towards its
  share of the two retrievers' top-1/top-2 margins (DBSF-scaled): w x ((1 - A) + A x 2 x m / (m_d + m_b));
  agree-peak@A: the same with each one's top-1 DBSF-scaled score instead of its margin.

    python bench/bench_fusion_ideas.py --beir /tmp/faq/en --split dev-fold0 --kb faq-en [--failures]

Needs a local-store KB that `rag eval retrieval` built for the corpus (RAG_HOME as for that run; the
rm3 variants read its BM25 index); prints one JSON line per idea and setting: nDCG@10 and R@1 over the
split's questions.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from eval.beir import load_beir
from indexer.kbs import KBManager
from indexer.tokenize import tokenize
from indexer.types import ChunkRecord
from rag.config import Settings
from rag.metrics import per_query
from rag.retrieval.fusion import fuse
from rag.retrieval.hybrid import HybridRetriever
from rag.synonyms.matcher import documents_words, matcher

FEEDBACK_DOCS, FEEDBACK_TERMS = 3, 10


@dataclass
class Candidates:
    """One question's candidates: chunk row -> raw score per retriever, and the fusion weights."""
    query: str
    tokens: list[str]
    dense: dict[int, float]
    bm25: dict[int, float]
    weights: tuple[float, float]
    records: dict[int, ChunkRecord] = field(default_factory=dict)


def candidates(r: HybridRetriever, query: str) -> Candidates:
    s, syn, n = r.settings, r.synonyms, r.settings.candidates
    records: dict[int, ChunkRecord] = {}
    if syn and (worded := documents_words(query, syn)) is not None:
        dense = r._dense_either(query, worded, n, None)
    else:
        dense = r.store.search_dense(r.encoder.encode_queries([query])[0], n, None)
    own = tokenize(query)
    tokens = own + (tokenize(" ".join(matcher(syn).expansions(query))) if syn else [])
    sparse = r.store.search_sparse(tokens, n, None)
    coverage = r._coverage(own, tokens) if s.coverage_weighting else 1.0
    weights = (s.dense_weight * r.encoder.votes(query), s.bm25_weight * coverage)
    return Candidates(query, tokens, r._collect(dense, records), r._collect(sparse, records), weights, records)


def doc_scores(fused: dict[int, float], records: dict[int, ChunkRecord], second: float = 0.0) -> list[str]:
    """Documents best first: best chunk + `second` x second-best chunk."""
    per_doc: dict[str, list[float]] = {}
    for row, sc in fused.items():
        per_doc.setdefault(records[row].doc_id, []).append(sc)
    score = {d: sorted(v, reverse=True)[0] + second * (sorted(v, reverse=True)[1] if len(v) > 1 else 0.0)
             for d, v in per_doc.items()}
    return sorted(score, key=lambda d: -score[d])


def default_rank(c: Candidates, fusion: str) -> tuple[dict[int, float], list[str]]:
    fused = fuse([c.dense, c.bm25], fusion, list(c.weights))
    return fused, doc_scores(fused, c.records)


def rm3_bm25(r: HybridRetriever, c: Candidates, fusion: str, lam: float, source: str = "fused") -> dict[int, float]:
    """The BM25 candidates of the question expanded with its feedback documents' likeliest terms; the
    feedback documents are the top of the fused ranking (`source` 'fused') or of BM25's own ('bm25')."""
    bm25 = r.store.snapshot.bm25
    bm25._prepare()
    if source == "bm25":
        fused = fuse([c.bm25], "dbsf", [1.0]) if c.bm25 else {}
        docs = doc_scores(fused, c.records)
    else:
        fused, docs = default_rank(c, fusion)
    fb = docs[:FEEDBACK_DOCS]
    best = {d: max(sc for row, sc in fused.items() if c.records[row].doc_id == d) for d in fb}
    pos = {int(i): p for p, i in enumerate(bm25.ids)}
    terms = {i: t for t, i in bm25.vocab.items()}
    weight: Counter = Counter()
    own = set(c.tokens)
    for d in fb:
        for rec in r.store.doc_chunks(d):
            row = bm25.tf[pos[rec.row]]
            length = row.sum() or 1.0
            for col, tf in zip(row.indices, row.data):
                if terms[col] not in own:
                    weight[terms[col]] += best[d] * tf / length
    expansion = weight.most_common(FEEDBACK_TERMS)
    if not expansion:
        return c.bm25
    total = sum(w for _, w in expansion)
    q = Counter(t for t in c.tokens if t in bm25.vocab)
    if not q:
        return c.bm25
    cols = [bm25.vocab[t] for t in q] + [bm25.vocab[t] for t, _ in expansion]
    mult = [(1 - lam) * n / sum(q.values()) for n in q.values()] + [lam * w / total for _, w in expansion]
    scores = bm25._weights[:, np.array(cols)] @ np.array(mult)
    top = np.argsort(-scores, kind="stable")[:r.settings.candidates]
    out = {}
    for p in top:
        if scores[p] <= 0:
            break
        out[int(bm25.ids[p])] = float(scores[p])
    missing = [row for row in out if row not in c.records]
    for rec in r.store.catalog.chunks(missing).values() if missing else []:
        c.records[rec.row] = rec
    return {row: sc for row, sc in out.items() if row in c.records}


def covered(r: HybridRetriever, c: Candidates) -> bool:
    """Does the KB hold at least half the question's BM25 words (a Chinese question on English
    documents: no, and its BM25 top documents are noise to feed back)?"""
    return r.store.term_coverage(c.tokens) >= 0.5


def margin(ranked: dict[int, float], records: dict[int, ChunkRecord], peak: bool = False) -> tuple[str | None, float]:
    """The top document and its lead over the second (`peak`: its score), on DBSF-scaled scores."""
    scaled = fuse([ranked], "dbsf", [1.0]) if ranked else {}
    best: dict[str, float] = {}
    for row, sc in scaled.items():
        best.setdefault(records[row].doc_id, sc)
    top = sorted(best.values(), reverse=True) + [0.0, 0.0]
    return (next(iter(best), None), top[0] if peak else top[0] - top[1])


def agree_rank(c: Candidates, fusion: str, alpha: float, peak: bool = False) -> list[str]:
    """`peak`: each retriever's say is its top document's DBSF-scaled score (how far above its own
    candidates' mean it stands) instead of its lead over its second document."""
    (d_top, d_m), (b_top, b_m) = margin(c.dense, c.records, peak), margin(c.bm25, c.records, peak)
    wd, wb = c.weights
    if d_top != b_top and d_top and b_top and d_m + b_m > 0:
        wd *= (1 - alpha) + alpha * 2 * d_m / (d_m + b_m)
        wb *= (1 - alpha) + alpha * 2 * b_m / (d_m + b_m)
    return doc_scores(fuse([c.dense, c.bm25], fusion, [wd, wb]), c.records)


def summary(name: str, ranked: dict[str, list[str]], qrels: dict) -> dict:
    rows = [per_query(ranked[q][:10], qrels[q]) for q in ranked]
    return {"idea": name, "ndcg@10": round(float(np.mean([x["ndcg@10"] for x in rows])), 4),
            "recall@1": round(float(np.mean([x["recall@1"] for x in rows])), 4), "queries": len(rows)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--beir", required=True)
    ap.add_argument("--split", default="dev-fold0")
    ap.add_argument("--kb", required=True)
    ap.add_argument("--failures", action="store_true", help="print the questions whose gold is not first")
    args = ap.parse_args()
    ds = load_beir(args.beir, args.split)
    settings = Settings.load()
    mgr = KBManager(settings.indexer)
    store = mgr.open(args.kb)
    r = HybridRetriever.from_store(store, mgr, settings.retrieval)
    r.warm_up()
    fusion = settings.retrieval.fusion
    cands = {q: candidates(r, text) for q, text in ds.queries.items()}
    results = {"default": {q: default_rank(c, fusion)[1] for q, c in cands.items()}}
    for w in (0.1, 0.2, 0.3):
        results[f"second@{w}"] = {q: doc_scores(fuse([c.dense, c.bm25], fusion, list(c.weights)), c.records, w)
                                  for q, c in cands.items()}
    for lam in (0.1, 0.2, 0.3, 0.5):
        results[f"rm3@{lam}"] = {
            q: doc_scores(fuse([c.dense, rm3_bm25(r, c, fusion, lam)], fusion, list(c.weights)), c.records)
            for q, c in cands.items()}
    for lam in (0.1, 0.2, 0.3, 0.5):
        results[f"rm3-bm25fb@{lam}"] = {
            q: doc_scores(fuse([c.dense, rm3_bm25(r, c, fusion, lam, "bm25")], fusion, list(c.weights)), c.records)
            for q, c in cands.items()}
    for lam in (0.1, 0.2, 0.3, 0.5):  # feedback only where the KB holds most of the question's words
        results[f"rm3-bm25fb-covered@{lam}"] = {
            q: doc_scores(fuse([c.dense, rm3_bm25(r, c, fusion, lam, "bm25") if covered(r, c) else c.bm25], fusion,
                               list(c.weights)), c.records)
            for q, c in cands.items()}
    for alpha in (0.25, 0.5, 1.0):
        results[f"agree@{alpha}"] = {q: agree_rank(c, fusion, alpha) for q, c in cands.items()}
        results[f"agree-peak@{alpha}"] = {q: agree_rank(c, fusion, alpha, True) for q, c in cands.items()}
    for name, ranked in results.items():
        print(json.dumps(summary(name, ranked, ds.qrels)))
    if args.failures:
        for q, c in cands.items():
            ranked, gold = results["default"][q], next(iter(ds.qrels[q]))
            if ranked[:1] == [gold]:
                continue
            dense_docs = doc_scores(c.dense, c.records)
            bm25_docs = doc_scores(c.bm25, c.records)
            rank = lambda docs: docs.index(gold) + 1 if gold in docs else None  # noqa: E731
            print(json.dumps({"q": q, "text": c.query, "gold": gold, "top3": ranked[:3], "gold_rank": rank(ranked),
                              "dense_top": dense_docs[:1], "dense_gold": rank(dense_docs),
                              "bm25_top": bm25_docs[:1], "bm25_gold": rank(bm25_docs)}, ensure_ascii=False))
    store.close()


if __name__ == "__main__":
    main()
