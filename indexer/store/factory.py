"""The store factory: opens a knowledge base's storage with the backend named in config."""
from __future__ import annotations

from pathlib import Path

from indexer.store.base import Store
from indexer.store.local.snapshot import IndexParams

BACKENDS = ("local", "milvus")


def open_store(backend: str, folder: Path, params: IndexParams, *, writable: bool = False,
               embed_model: str | None = None, lock_timeout: float = 600, context_window: int = 0,
               uri: str | None = None, role: str = "", ocr_cache_url: str = "") -> Store:
    """`backend`: 'local' (embedded: SQLite catalog + FAISS + BM25 files in `folder`) or 'milvus'
    (collections in the Milvus at `uri`: `http://HOST:PORT`, or a Milvus Lite file ending in `.db`;
    the KB is named `folder.name`, `folder` holds what it keeps on local disk (its OCR cache, its kept uploads),
    and `folder.parent` holds writer lock files when no Redis lock is set).

    A new KB is created when `writable` and `embed_model` are given and none exists yet. `role` (Milvus):
    a hidden collection set beside the KB instead of the KB (indexer.store.milvus.schema.Names.of); KB
    folders keep such sets in hidden folders of their own. `ocr_cache_url`: the state database holding the KB's OCR
    cache (cluster mode; indexer.parse.ocr_cache_where), '' for its folder's file."""
    if backend == "local":
        from indexer.store.local.store import LocalStore

        return LocalStore(folder, params, writable=writable, embed_model=embed_model, lock_timeout=lock_timeout,
                          context_window=context_window, ocr_cache_url=ocr_cache_url)
    if backend == "milvus":
        if not uri:
            raise ValueError("the milvus store backend needs a URI: set RAG_STORE_URI (http://HOST:PORT or FILE.db)")
        from indexer.store.milvus.store import MilvusStore

        return MilvusStore(uri, folder.name, params, writable=writable, embed_model=embed_model,
                           lock_timeout=lock_timeout, context_window=context_window,
                           lock_dir=folder.parent / ".locks", role=role, folder=folder, ocr_cache_url=ocr_cache_url)
    raise ValueError(f"unknown store backend {backend!r}; known: {', '.join(BACKENDS)}")


def backend_for(store: str, store_uri: str | None) -> str:
    """The backend a configuration selects: a store URI means Milvus; otherwise `store`."""
    return "milvus" if store_uri else store


def kb_names(store_uri: str) -> list[str]:
    """KBs in the Milvus at `store_uri`."""
    from indexer.store.milvus.store import kb_names as names

    return names(store_uri)


def kb_exists(store_uri: str, name: str) -> bool:
    from indexer.store.milvus.store import kb_exists as exists

    return exists(store_uri, name)


def drop_kb(store_uri: str, name: str, role: str = "") -> bool:
    """Delete KB `name` from the Milvus at `store_uri` (`role`: only that hidden set beside it); False
    when it did not exist."""
    from indexer.store.milvus.store import drop_kb as drop

    return drop(store_uri, name, role)
