"""The store protocol: everything the query side and the indexer need from a knowledge base's
storage. Backends (indexer.store.local) implement it and pass indexer.store.testing."""
from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Protocol

import numpy as np

from indexer.types import Chunk, ChunkRecord, DocumentInfo, Filters

Scored = list[tuple[ChunkRecord, float]]


def text_hash(text: str) -> str:
    """The key of a chunk text's cached vector (`Store.cached_vectors`)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store(Protocol):
    embed_model: str
    dim: int
    context_window: int  # chunks on each side mixed into a chunk's vector (indexer.embed.context), fixed at creation
    sparse_weights: bool  # does search_sparse take per-term weights (BM25 feedback runs only where it does)?
    created: bool  # this open made the KB (a writable open of a name no KB held); False when it found one

    def documents(self) -> list[DocumentInfo]: ...
    def document(self, doc_id: str) -> DocumentInfo | None: ...
    def documents_by_source(self, source: str) -> list[DocumentInfo]: ...
    def doc_chunks(self, doc_id: str) -> list[ChunkRecord]: ...
    def cached_vectors(self, hashes: list[str]) -> dict[str, np.ndarray]: ...
    def replace_document(self, info: DocumentInfo, chunks: list[Chunk], tokens: list[list[str]],
                         vectors: np.ndarray, hashes: list[str]) -> None: ...
    def delete_document(self, doc_id: str) -> bool: ...
    def commit(self) -> None: ...
    def search_dense(self, query_vector: np.ndarray, k: int, filters: Filters | None = None) -> Scored: ...
    def search_sparse(self, query_tokens: list[str], k: int, filters: Filters | None = None,
                      weights: dict[str, float] | None = None) -> Scored:
        """BM25 search. `weights`: each query term's contribution multiplied by its weight (a term not
        named: 1); only where `sparse_weights` is True, other stores raise ValueError when given them."""
        ...
    def term_coverage(self, query_tokens: list[str]) -> float: ...
    def known_terms(self, tokens: list[str]) -> set[str]:
        """Those of `tokens` that the KB holds (as term_coverage counts them), read at once: one lookup for
        many words, where a report asks of thousands (on Milvus each call is a query)."""
        ...
    def cache_generation(self) -> int: ...
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        """A KB-level setting kept with the index (e.g. the calibrated refusal threshold)."""
        ...
    def set_meta(self, key: str, value: str) -> None: ...
    def meta_items(self) -> dict[str, str]:
        """Every KB-level setting, the store's own bookkeeping included (`rag kb reembed` copies them)."""
        ...
    def refresh(self) -> None:
        """Readers: pick up writes made by other processes since opening (cheap when nothing changed)."""
        ...
    def replaced(self) -> bool:
        """Is the KB this store opened gone from its name: deleted, or replaced by another KB of the name
        (`rag kb reembed` swaps its re-embedded copy in)? A long-lived reader then opens the name again:
        refresh() only follows writes to the KB it opened."""
        ...
    def close(self) -> None: ...


class KBLockedError(RuntimeError):
    pass


def wait_for_writer(try_once: Callable[[], bool], timeout: float, what: str, shown: str = "") -> None:
    """Call `try_once` (take a KB's writer lock without waiting: True once taken) every 0.2 s until it takes it, or
    raise KBLockedError naming `what` when `timeout` seconds pass; says once on stderr that it waits for `shown`
    (`what` if not given), as `rag` commands and jobs wait for one another."""
    deadline, told = time.monotonic() + timeout, False
    while not try_once():
        if time.monotonic() > deadline:
            raise KBLockedError(f"{what} is being written by another process; try again later")
        if not told:
            print(f"waiting for another writer of {shown or what} to finish...", file=sys.stderr)
            told = True
        time.sleep(0.2)


class KBGoneError(RuntimeError):
    """The KB this writer opened was deleted (and maybe created again under its name): its writes are
    fenced off so they can never land in the new KB."""
