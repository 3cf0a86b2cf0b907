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

import threading
from collections import OrderedDict

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


class SentenceVectors:
    """Passage-side vectors of sentences by their text, shared by the answers of one pipeline: the passages
    retrieved for different questions overlap, and every quote is checked against its question
    (rag.answering.by_meaning.quote_support), so the same sentences came back to be encoded, about half of
    a quoted answer's time. A vector depends on its text alone (the encoders give each text a forward of its
    own), so a cached one is the one encoding would give. Bounded (`max_items`, least recently used out;
    4096 of the default encoders' 769-float vectors are 12.6 MB a KB), safe to share between threads: the
    encoding runs outside the lock."""

    def __init__(self, encoder: Encoder, max_items: int = 4096):
        self.encoder, self.max_items = encoder, max_items
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            found = {t: self._vectors[t] for t in texts if t in self._vectors}
            for text in found:
                self._vectors.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            found.update(zip(missing, self.encoder.encode_passages(missing)))
            with self._lock:
                self._vectors.update((t, found[t]) for t in missing)
                while len(self._vectors) > self.max_items:
                    self._vectors.popitem(last=False)
        return np.stack([found[t] for t in texts])


class CrossLingualSupport:
    def __init__(self, encoder: Encoder, threshold: float = DEFAULT_THRESHOLD, max_sentences: int = 40,
                 vectors: SentenceVectors | None = None):
        self.encoder, self.threshold, self.max_sentences = encoder, threshold, max_sentences
        self._vectors = vectors if vectors is not None and vectors.encoder is encoder else SentenceVectors(encoder)
        self._passages: dict[str, tuple[list[str], np.ndarray]] = {}  # passage text -> its sentences, vectors
        self._queries: dict[str, np.ndarray] = {}  # a sentence or question, checked against several passages

    def _sentences(self, passage: str) -> tuple[list[str], np.ndarray]:
        if passage not in self._passages:
            sents = [" ".join(s.split()) for s in prose_sentences(passage)][:self.max_sentences] or [passage]
            self._passages[passage] = (sents, self._vectors(sents))
        return self._passages[passage]

    def ranked(self, sentence: str, passage: str) -> list[tuple[float, int, str]]:
        """The passage's sentences as (cosine to `sentence`, position, text), best first."""
        return self._ranked(sentence, *self._sentences(passage))

    def closest(self, sentence: str, texts: list[str]) -> list[tuple[float, int, str]]:
        """`texts` (sentences, table rows written as sentences) as (cosine to `sentence`, position, text),
        best first; the texts are encoded as passages, once per answer."""
        key = "\x00".join(texts)
        if key not in self._passages:
            self._passages[key] = (list(texts), self._vectors(list(texts)))
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
