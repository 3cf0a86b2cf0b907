"""What a stored chunk's vector is filed under, and its BM25 tokens: both derive from the chunks' text, as
indexing computes them (indexer.ingest.Ingestor._write), so the archive carries neither."""
from __future__ import annotations

from indexer.embed.context import vector_key, window_texts
from indexer.ingest import embed_text
from indexer.store.base import text_hash
from indexer.tokenize import tokenize
from indexer.types import Chunk


def embedded_texts(chunks: list[Chunk], context_window: int) -> tuple[list[str], list[str | None]]:
    """(the text each chunk of ONE document was embedded as, its window's text or None)."""
    texts = [embed_text(c) for c in chunks]
    return texts, window_texts(texts, context_window)


def vector_hashes(chunks: list[Chunk], context_window: int) -> list[str]:
    """The keys of the chunks' stored vectors (`Store.cached_vectors`), chunks of ONE document in order."""
    texts, windows = embedded_texts(chunks, context_window)
    return [text_hash(vector_key(t, w)) for t, w in zip(texts, windows)]


def bm25_tokens(chunks: list[Chunk]) -> list[list[str]]:
    return [tokenize(embed_text(c)) for c in chunks]
