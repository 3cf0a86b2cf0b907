"""Refusal: answer "not in the knowledge base" without calling the generator when the
retrieval evidence is too weak.

The evidence score is the reranker score of the best hit when a reranker ran, else the best
dense cosine similarity among the hits (comparable across queries, unlike RRF scores).
The threshold is calibrated on answerable vs unanswerable questions (`calibrate`) and stored
in the KB's catalog, so it travels with the KB.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indexer.script import language
from rag.types import Hit

META_KEY = "refusal_threshold"
REFUSAL_EN = "I could not find the answer to that in the knowledge base."
REFUSAL_ZH = "抱歉，知识库中没有找到这个问题的答案。"


def evidence(hits: list[Hit]) -> float:
    if not hits:
        return float("-inf")
    if any("rerank" in h.scores for h in hits):
        return max(h.scores.get("rerank", float("-inf")) for h in hits)
    return max((h.scores.get("dense", float("-inf")) for h in hits), default=float("-inf"))


def refusal_message(question: str) -> str:
    return REFUSAL_ZH if language(question) == "zh" else REFUSAL_EN


@dataclass
class Calibration:
    threshold: float
    accuracy: float
    answerable_kept: float      # share of answerable questions that are answered
    unanswerable_refused: float  # share of unanswerable questions that are refused


def calibrate(answerable: list[float], unanswerable: list[float], min_answered: float | None = 0.9) -> Calibration:
    """The threshold refusing the most unanswerable questions while still answering at least
    `min_answered` of the answerable ones (a wrong refusal costs a customer more than a weak answer,
    which citation checks and the model's own refusal still catch); None = best balanced accuracy.
    Ties go to the lower threshold (answer more)."""
    a, u = np.asarray(answerable, float), np.asarray(unanswerable, float)
    if not len(a) or not len(u):
        raise ValueError("calibration needs both answerable and unanswerable questions")
    candidates = np.unique(np.concatenate([a, u]))
    mids = np.concatenate([[candidates[0] - 1e-6], (candidates[:-1] + candidates[1:]) / 2, [candidates[-1] + 1e-6]])
    best, best_score = None, -1.0
    for t in mids:
        kept, refused = float((a >= t).mean()), float((u < t).mean())
        if min_answered is not None and kept < min_answered:
            continue
        score = refused if min_answered is not None else (kept + refused) / 2
        if best is None or score > best_score + 1e-12:
            best, best_score = Calibration(float(t), (kept + refused) / 2, kept, refused), score
    return best
