"""Citation support across languages: a Chinese answer sentence and an English passage share no
words, so the word-overlap test of rag.answering.cite cannot judge them. Here the KB's own multilingual
encoder does: a passage supports a sentence written in the other script when one of its sentences
scores at least `threshold` against it (the sentence encoded as a query, the passage sentences as
passages: the same cosine retrieval ranks by).

The default threshold is 0.87 (`[generation] cite_min_similarity`), chosen with the bundled e5-small:
most translated pairs pass while few false pairs do; a step lower lets in many more false pairs, a
step higher turns away true ones (figures: docs/design-notes.md). Only encoders that read both
languages are used (e5, or an ensemble holding it).

    support = CrossLingualSupport(encoder, 0.87)
    score, quote = support.best("借记卡丢失请致电挂失。", passage_text)
"""
from __future__ import annotations

import numpy as np

from indexer.embed.base import Encoder
from indexer.script import cross_script, is_cjk  # noqa: F401  (cross_script re-exported)
from rag.text import prose_sentences

DEFAULT_THRESHOLD = 0.87
MULTILINGUAL_MODELS = ("e5",)  # members of an embed_model name ("e5+minilm") that read Chinese and English


def reads_both_languages(embed_model: str) -> bool:
    return any(m in MULTILINGUAL_MODELS for m in embed_model.split("+"))


def cross_lingual_threshold(configured: float | None, embed_model: str) -> float | None:
    """The cosine at which cross-script support holds, or None when it is off: configured 1 (or
    more) turns it off; unset means the default with an encoder that reads both languages, else off."""
    if configured is not None:
        return None if configured >= 1 else configured
    return DEFAULT_THRESHOLD if reads_both_languages(embed_model) else None


class CrossLingualSupport:
    def __init__(self, encoder: Encoder, threshold: float = DEFAULT_THRESHOLD, max_sentences: int = 40):
        self.encoder, self.threshold, self.max_sentences = encoder, threshold, max_sentences
        self._passages: dict[str, tuple[list[str], np.ndarray]] = {}  # passage text -> its sentences, vectors
        self._queries: dict[str, np.ndarray] = {}  # a sentence or question, checked against several passages

    def _sentences(self, passage: str) -> tuple[list[str], np.ndarray]:
        if passage not in self._passages:
            sents = [" ".join(s.split()) for s in prose_sentences(passage)][:self.max_sentences] or [passage]
            self._passages[passage] = (sents, self.encoder.encode_passages(sents))
        return self._passages[passage]

    def ranked(self, sentence: str, passage: str) -> list[tuple[float, int, str]]:
        """The passage's sentences as (cosine to `sentence`, position, text), best first."""
        return self._ranked(sentence, *self._sentences(passage))

    def closest(self, sentence: str, texts: list[str]) -> list[tuple[float, int, str]]:
        """`texts` (sentences, table rows written as sentences) as (cosine to `sentence`, position, text),
        best first; the texts are encoded as passages, once per answer."""
        key = "\x00".join(texts)
        if key not in self._passages:
            self._passages[key] = (list(texts), self.encoder.encode_passages(list(texts)))
        return self._ranked(sentence, *self._passages[key])

    def _ranked(self, sentence: str, texts: list[str], vecs: np.ndarray) -> list[tuple[float, int, str]]:
        if sentence not in self._queries:
            self._queries[sentence] = self.encoder.encode_queries([sentence])[0]
        scores = vecs @ self._queries[sentence]
        return sorted(((float(sc), i, t) for i, (sc, t) in enumerate(zip(scores, texts))), key=lambda t: (-t[0], t[1]))

    def best(self, sentence: str, passage: str) -> tuple[float, str]:
        """The best cosine between `sentence` and a sentence of `passage`, and that passage sentence."""
        score, _, text = self.ranked(sentence, passage)[0]
        return score, text
