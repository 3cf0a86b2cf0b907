"""Retrieval metrics with the standard (trec_eval / BEIR) definitions, as pure functions.

`ranked` is a list of doc ids, best first; `qrels` maps doc id -> graded relevance (> 0 relevant).
"""
from __future__ import annotations

import math

import numpy as np


def dcg(gains: list[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at_k(ranked: list[str], qrels: dict[str, float], k: int = 10) -> float:
    ideal = dcg(sorted((r for r in qrels.values() if r > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([qrels.get(d, 0.0) for d in ranked[:k]]) / ideal


def recall_at_k(ranked: list[str], qrels: dict[str, float], k: int) -> float:
    relevant = {d for d, r in qrels.items() if r > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: list[str], qrels: dict[str, float], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if qrels.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def per_query(ranked: list[str], qrels: dict[str, float]) -> dict[str, float]:
    return {"ndcg@10": ndcg_at_k(ranked, qrels, 10), "recall@1": recall_at_k(ranked, qrels, 1),
            "recall@5": recall_at_k(ranked, qrels, 5), "recall@10": recall_at_k(ranked, qrels, 10),
            "mrr@10": mrr_at_k(ranked, qrels, 10)}


def percentile_ms(seconds: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000.0, q)) if seconds else 0.0
