"""Context-aware chunk vectors: a chunk's vector also carries the text around it.

A chunk cut from a longer document often lacks the words that say what it is about (the topic sits
in the previous paragraph, the subject in the heading). Each chunk of a document with more than one
chunk is therefore stored as the mean of two vectors: the chunk's own, and that of its *window* (the
chunk with `window` neighbouring chunks on each side, joined; the model truncates it at its input
length). With unit vectors the inner product with a question is then the mean of the two cosines.
Chunks of one-chunk documents are their own window and keep their plain vector.

Default window: 1 (`[indexer] context_window`). It ranks better than plain chunk vectors, dense and
hybrid, English and Chinese; the price is indexing time, since every window is embedded too
(figures: docs/design-notes.md).

The window is a property of a knowledge base (`Store.context_window`, fixed when it is created), so
documents added later are embedded the same way as those already in it.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CHUNK_SHARE = 0.5  # weight of the chunk's own vector; the window gets the rest (nearby shares rank alike)


def window_texts(texts: Sequence[str], window: int) -> list[str | None]:
    """For each chunk text of ONE document, the text of its window, or None when the chunk keeps its
    plain vector (window 0, or a document of one chunk)."""
    if window <= 0 or len(texts) <= 1:
        return [None] * len(texts)
    return ["\n".join(texts[max(0, i - window):i + window + 1]) for i in range(len(texts))]


def mix(chunk_vectors: np.ndarray, window_vectors: np.ndarray) -> np.ndarray:
    """The stored vectors: CHUNK_SHARE of each chunk's own vector plus the rest of its window's."""
    return (CHUNK_SHARE * chunk_vectors + (1.0 - CHUNK_SHARE) * window_vectors).astype(np.float32)


def vector_key(text: str, window: str | None) -> str:
    """What a stored vector depends on, for the KB's vector cache (keyed by its hash)."""
    return text if window is None else f"{text}\x00window\x00{window}"
