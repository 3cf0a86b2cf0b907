"""The store factory: opens a knowledge base's storage with the backend named in config."""
from __future__ import annotations

from pathlib import Path

from indexer.store.base import Store
from indexer.store.local.snapshot import IndexParams

BACKENDS = ("local",)


def open_store(backend: str, folder: Path, params: IndexParams, *, writable: bool = False,
               embed_model: str | None = None, lock_timeout: float = 600, context_window: int = 0) -> Store:
    """`backend`: 'local' (embedded: SQLite catalog + FAISS + BM25 files in `folder`).

    A new KB is created when `writable` and `embed_model` are given and the folder holds none."""
    if backend == "local":
        from indexer.store.local.store import LocalStore

        return LocalStore(folder, params, writable=writable, embed_model=embed_model, lock_timeout=lock_timeout,
                          context_window=context_window)
    raise ValueError(f"unknown store backend {backend!r}; known: {', '.join(BACKENDS)}")
