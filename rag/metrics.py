"""The metrics of the project, as pure functions: training, tuning and evaluation all use these.

Retrieval (standard trec_eval / BEIR definitions): `ranked` is a list of ids, best first; `qrels`
maps id -> graded relevance (> 0 relevant).
* `ndcg_at_k`, `recall_at_k`, `mrr_at_k`, and `per_query` (the set a report records per question).

Answers against a gold answer:
* `answer_tokens`: lower-cased words and numbers; every CJK character is its own token (so token F1
  and ROUGE-L are character-level for Chinese); citation markers and English articles are dropped.
* `token_f1`: SQuAD-style bag-of-tokens F1. `rouge_l`: F1 of the longest common subsequence.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from indexer.script import CJK_RANGES
from rag.answering.markers import MARKER

_TOKEN = re.compile(rf"[{CJK_RANGES}]|(?:(?![{CJK_RANGES}])[^\W_])+")
_ARTICLES = {"a", "an", "the"}


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


def answer_tokens(text: str) -> list[str]:
    text = MARKER.sub(" ", text or "").lower()
    return [t for t in _TOKEN.findall(text) if t not in _ARTICLES]


def token_f1(prediction: str, gold: str) -> float:
    p, g = answer_tokens(prediction), answer_tokens(gold)
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(prediction: str, gold: str) -> float:
    p, g = answer_tokens(prediction), answer_tokens(gold)
    if not p or not g:
        return float(p == g)
    lcs = lcs_length(p, g)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(g)
    return 2 * precision * recall / (precision + recall)
