"""Refusal: answer "not in the knowledge base" without calling the generator when the
retrieval evidence is too weak.

The evidence score is the reranker score of the best hit when a reranker ran, else the best
dense cosine similarity among the hits (comparable across queries, unlike RRF scores).
The threshold is calibrated on answerable vs unanswerable questions (`calibrate`) and stored
in the KB's catalog, so it travels with the KB, with where it came from (SOURCE_KEY): "auto" when
the KB calibrated it by itself after indexing (rag.answering.auto_refusal), "tuned" when `rag tune
refusal` set it (an automatic calibration never overwrites a tuned threshold).
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass

import numpy as np

from indexer.script import language
from rag.answering.asks import asked_kind
from rag.answering.cite import content_tokens
from rag.answering.words import ASKING_ZH
from rag.types import Hit

META_KEY = "refusal_threshold"
LANG_KEY = "refusal_threshold_by_language"  # JSON {"en": t, "zh": t}: an automatic threshold per question
                                            # language (META_KEY then holds the lowest of them)
SOURCE_KEY = "refusal_source"   # AUTO | TUNED; absent with a threshold: stored before sources existed (= tuned)
AUTO, TUNED = "auto", "tuned"
DEFAULT_TOP_K = 4  # rag.config.AnswerSettings.top_k's default (rag.config -> rag.generation -> here: not imported)
REFUSAL_EN = "I could not find the answer to that in the knowledge base."
REFUSAL_ZH = "抱歉，知识库中没有找到这个问题的答案。"


def evidence(hits: list[Hit]) -> float:
    if not hits:
        return float("-inf")
    if any("rerank" in h.scores for h in hits):
        return max(h.scores.get("rerank", float("-inf")) for h in hits)
    return max((h.scores.get("dense", float("-inf")) for h in hits), default=float("-inf"))


# A keyword lookup: a few words, no question ("APT", "Mailing lists", "作者", "获取途径")
_SENTENCE_END = ("?", "？", ".", "。", "!", "！")
MAX_KEYWORDS = 3


def keyword_found(question: str, hits: list[Hit]) -> bool:
    """Is the question a keyword lookup (at most MAX_KEYWORDS content words and no sentence: no question
    mark, no full stop) whose every word the top passage holds? A word or two embeds weakly: "APT" scored
    below the refusal threshold of the Debian FAQ, which is about little else, and was refused. The
    threshold is calibrated on questions (the off-topic ones are all sentences); a keyword the KB's best
    passage holds is evidence enough. A question asking for a kind of number ("能提前几天挂号", "how early ...")
    is none: a passage holding its words need not give the number ("提前30分钟到达" had been quoted for the days
    one may book ahead, skipping the check that a quote matches the question)."""
    q = question.strip()
    if not hits or len(q) > 40 or q.endswith(_SENTENCE_END) or asked_kind(q) is not None:
        return False
    words = content_tokens(q) - ASKING_ZH  # "icu能探视吗" looks up ICU visits, as "ICU探视" does
    return 0 < len(words) <= MAX_KEYWORDS and words <= content_tokens(f"{hits[0].title}\n{hits[0].text}")


def threshold_source(store) -> str | None:
    """Where the KB's stored threshold came from: AUTO, TUNED, or None when it has none."""
    return _source(store.meta_items())


def _source(meta: dict[str, str]) -> str | None:
    """`threshold_source` from the KB's settings: a threshold stored without a source predates automatic
    calibration, so somebody tuned it."""
    if meta.get(META_KEY) is None:
        return None
    return meta.get(SOURCE_KEY) or TUNED


def stored_thresholds(store) -> tuple[float | None, dict[str, float]]:
    """The KB's stored refusal threshold and, for an automatic one, its per-language thresholds
    (question language -> threshold; empty when none are stored or they cannot be read). One read of
    the KB's settings: the service calls this for every question (on Milvus each read is a query)."""
    meta = store.meta_items()
    raw = meta.get(META_KEY)
    if raw is None:
        return None, {}
    by_language: dict[str, float] = {}
    if _source(meta) == AUTO:
        try:
            by_language = {str(k): float(v) for k, v in json.loads(meta.get(LANG_KEY) or "{}").items()}
        except (ValueError, TypeError, AttributeError):
            by_language = {}
    return float(raw), by_language


class _Precomputed:
    """An encoder whose query vectors for known questions were computed beforehand, in batches
    (the same vectors, in a fraction of the time); anything else goes to the real encoder."""

    def __init__(self, encoder, questions: list[str], known: dict[str, np.ndarray] | None = None,
                 batch_size: int = 32):
        self.encoder = encoder
        self.vectors = dict(known or {})
        todo = [q for q in dict.fromkeys(questions) if q not in self.vectors]
        for i in range(0, len(todo), batch_size):
            self.vectors.update(zip(todo[i:i + batch_size], encoder.encode_queries(todo[i:i + batch_size])))

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        if all(t in self.vectors for t in texts):
            return np.stack([self.vectors[t] for t in texts])
        return self.encoder.encode_queries(texts)

    def __getattr__(self, name):  # only called for what this object lacks: the encoder's own attributes
        if name == "encoder":
            raise AttributeError(name)
        return getattr(self.encoder, name)


def answer_hits(pipeline_or_retriever, questions: list[str], reranker=None, top_k: int | None = None,
                vectors: dict[str, np.ndarray] | None = None, batch: bool = True) -> list[list[Hit]]:
    """The hits each question's evidence is taken from, as the answering path gets them
    (Pipeline.stream): retrieve max(top_k, reranker.top_n), rerank when a reranker runs, the top_k.

    `pipeline_or_retriever`: a Pipeline (its retriever, reranker and [answer] top_k), or a retriever
    (+ `reranker`, `top_k`: default the [answer] setting's default). `batch`: encode the questions in
    batches first (a retriever that encodes with its `encoder`, as HybridRetriever does: the same
    vectors, several times faster); `vectors`: query vectors already known (question -> vector from
    the retriever's encoder)."""
    retriever = getattr(pipeline_or_retriever, "retriever", pipeline_or_retriever)
    if retriever is not pipeline_or_retriever:
        reranker = pipeline_or_retriever.reranker
        top_k = pipeline_or_retriever.settings.answer.top_k
    top_k = DEFAULT_TOP_K if top_k is None else top_k
    n = max(top_k, reranker.top_n if reranker else top_k)
    if ((batch and len(questions) > 1) or vectors) and hasattr(retriever, "encoder"):
        retriever = copy.copy(retriever)  # the caller's retriever keeps its own encoder (threads may share it)
        retriever.encoder = _Precomputed(retriever.encoder, questions if batch else [], vectors)
    out = []
    for q in questions:
        hits = retriever.run(q, n)
        if reranker:
            hits = reranker.run(q, hits, top_k)
        out.append(hits[:top_k])
    return out


def evidence_scores(pipeline_or_retriever, questions: list[str], reranker=None, top_k: int | None = None,
                    vectors: dict[str, np.ndarray] | None = None, batch: bool = True) -> list[float]:
    """Evidence score of each question through the answering path (`answer_hits`, `evidence`)."""
    return [evidence(h) for h in answer_hits(pipeline_or_retriever, questions, reranker, top_k, vectors, batch)]


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
