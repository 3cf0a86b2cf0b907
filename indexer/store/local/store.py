"""The embedded local store backend: SQLite catalog + FAISS + BM25 snapshot files in one KB folder.
Implements indexer.store.base.Store and passes indexer.store.testing."""
from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path

import numpy as np

from indexer.ocr_tags import OCR_TAG
from indexer.parse.ocr_cache import CACHE_FILE
from indexer.parse.ocr_cache_where import OcrCacheAt
from indexer.reread import file_sha
from indexer.store.base import KBGoneError, Scored, wait_for_writer
from indexer.store.local.catalog import Catalog
from indexer.store.local.snapshot import IndexParams, Snapshot
from indexer.store.ocr_forget import forget_file, forget_pending
from indexer.types import ChunkRecord, DocumentInfo, Filters

log = logging.getLogger(__name__)


class LocalStore:
    """A KB folder: kb.sqlite (catalog), indexes/ (snapshots), kb.lock (one writer at a time)."""

    sparse_weights = True  # BM25Index.score multiplies each query term's column by its weight

    def __init__(self, folder: Path, params: IndexParams | None = None, writable: bool = False,
                 embed_model: str | None = None, lock_timeout: float = 600, context_window: int = 0,
                 ocr_cache_url: str = ""):
        """`ocr_cache_url`: the state database that holds the KB's OCR cache (cluster mode); '': its folder's file."""
        self.folder = folder
        self.ocr_cache = OcrCacheAt(str(folder / CACHE_FILE), ocr_cache_url, folder.name if ocr_cache_url else "")
        self.writable = writable
        self._lock_fd = None
        if writable:
            folder.mkdir(parents=True, exist_ok=True)
            self._lock(lock_timeout)
        elif not (folder / "kb.sqlite").exists():
            raise FileNotFoundError(f"no knowledge base at {folder}; create it with `rag kb create` or `rag index`")
        try:
            self._open(params, embed_model, context_window)
        except BaseException:  # a full disk fails the catalog's opening: the lock must not outlive the attempt
            if getattr(self, "catalog", None) is not None:  # (this process could never write the KB again:
                self.catalog.close()                        # a new flock waits on the leaked one)
            self._unlock()
            raise

    def _open(self, params: IndexParams | None, embed_model: str | None, context_window: int) -> None:
        folder = self.folder
        self.catalog = Catalog(folder / "kb.sqlite")
        self._incarnation = self._inode()  # the fence: this KB, not a later one of the same name
        stored_model = self.catalog.get_meta("embed_model")
        self.created = stored_model is None and self.writable  # read under the writer lock: no one else made it
        if self.created:
            if not embed_model or params is None:
                raise ValueError("a new knowledge base needs an embedding model and its dimension")
            self.catalog.set_meta("embed_model", embed_model)
            self.catalog.set_meta("dim", str(params.dim))
            self.catalog.set_meta("context_window", str(context_window))
            self.catalog.set_meta("created_ms", str(int(time.time() * 1000)))
        self.embed_model = self.catalog.get_meta("embed_model") or ""
        self.dim = int(self.catalog.get_meta("dim", "0"))
        # KBs created before context vectors existed hold plain chunk vectors: 0 keeps them consistent
        self.context_window = int(self.catalog.get_meta("context_window", "0"))
        self.params = params or IndexParams(dim=self.dim)
        self.params.dim = self.dim  # the KB's own dimension wins over the caller's
        self._snapshot: Snapshot | None = None  # loaded on first search or commit, not for `docs`/`kb list`
        self._on_disk = -1

    def cache_generation(self) -> int:
        """A number that grows with every commit *and* across delete-and-re-create under the same name
        (creation time in ms + commits), so answers cached for an earlier KB of that name are never
        served for a later one, even when an answer in flight is stored after the re-creation."""
        return int(self.catalog.get_meta("created_ms", "0")) + self.catalog.generation()

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            self._snapshot = Snapshot.load(self.folder / "indexes", self.params)
            self._on_disk = self._snapshot.generation  # what the published files hold
            self._snapshot.sync(self.catalog)  # catch up in memory if the files lag the catalog
        return self._snapshot

    @snapshot.setter
    def snapshot(self, value: Snapshot) -> None:
        self._snapshot = value

    def _lock(self, timeout: float) -> None:
        """The KB folder's kb.lock, held: the one now under the folder's name. A lock file is opened again on each
        try, and one taken after the folder was swapped while this writer waited (an import replacing the KB, a
        re-embedded copy put in its place) is let go: it is the old KB's, and holding it would let this writer write
        the new KB beside the writer that holds the new KB's lock."""
        def once() -> bool:
            while True:
                path = self.folder / "kb.lock"
                try:
                    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
                except FileNotFoundError:
                    raise KBGoneError(f"knowledge base {self.folder.name!r} was deleted while this writer waited "
                                      "for it; nothing is written to it") from None
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    return False
                if os.fstat(fd).st_ino == _inode(path):
                    self._lock_fd = fd
                    return True
                os.close(fd)  # the old KB's: the new one's lock is tried at once

        wait_for_writer(once, timeout, str(self.folder), self.folder.name)

    def close(self) -> None:
        try:
            self.catalog.close()
        finally:
            self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ---- KB metadata -------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        return self.catalog.get_meta(key, default)

    def set_meta(self, key: str, value: str) -> None:
        self.catalog.set_meta(key, value)

    def meta_items(self) -> dict[str, str]:
        return dict(self.catalog.db.execute("SELECT key, value FROM meta"))

    # ---- documents -------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        return self.catalog.documents()

    def document(self, doc_id: str) -> DocumentInfo | None:
        return self.catalog.document(doc_id)

    def documents_by_source(self, source: str) -> list[DocumentInfo]:
        return self.catalog.documents_by_source(source)

    def doc_chunks(self, doc_id: str) -> list[ChunkRecord]:
        return self.catalog.doc_chunks(doc_id)

    def cached_vectors(self, hashes: list[str]) -> dict[str, np.ndarray]:
        return self.catalog.cached_vectors(hashes)

    def replace_document(self, info, chunks, tokens, vectors, hashes) -> None:
        self._need_write()
        old = self.catalog.document(info.doc_id)
        self.catalog.replace_document(info, chunks, tokens, vectors, hashes)
        if old is not None and file_sha(old.content_hash) != file_sha(info.content_hash):  # another version of its file
            self._forget_ocr(old)

    def delete_document(self, doc_id: str) -> bool:
        self._need_write()
        old = self.catalog.document(doc_id)
        gone = self.catalog.delete_document(doc_id)
        if gone and old is not None:
            self._forget_ocr(old)
        return gone

    def _forget_ocr(self, old: DocumentInfo) -> None:
        """What OCR read from a document's file leaves the KB's OCR cache with it (indexer.parse.ocr_cache)."""
        if old.tags.get(OCR_TAG) == "yes":
            forget_file(self, self.ocr_cache, file_sha(old.content_hash))  # or at the next write, when away now

    def commit(self) -> None:
        """Bring the indexes up to the catalog and publish them atomically."""
        self._need_write()
        forget_pending(self, self.ocr_cache)  # pages a delete could not take out of the OCR cache then
        root = self.folder / "indexes"
        from indexer.store.local.snapshot import read_pointer

        self.snapshot.sync(self.catalog)
        if self.snapshot.generation != self._on_disk or read_pointer(root) is None:
            self._need_write()  # again, right before files are written under the KB's folder name
            self.snapshot.publish(root)  # also removes folders a crashed writer left half-written
            self._on_disk = self.snapshot.generation

    def _inode(self) -> int | None:
        try:
            return os.stat(self.folder / "kb.sqlite").st_ino
        except FileNotFoundError:
            return None

    def _need_write(self) -> None:
        if not self.writable:
            raise PermissionError("this store was opened read-only")
        if self._inode() != self._incarnation:
            raise KBGoneError(f"knowledge base {self.folder.name!r} was deleted while it was being written; "
                              "nothing more is written to it")

    def replaced(self) -> bool:
        return self._inode() != self._incarnation

    # ---- search ----------------------------------------------------------------
    def refresh(self) -> None:
        """Readers: pick up writes made since opening (cheap when nothing changed)."""
        if self.catalog.generation() != self.snapshot.generation:
            fresh = Snapshot.load(self.folder / "indexes", self.params)
            if fresh.generation > self.snapshot.generation:
                self.snapshot = fresh
            self.snapshot.sync(self.catalog)

    def _allowed(self, filters: Filters | None) -> np.ndarray | None:
        if not filters:
            return None
        return self.catalog.filter_rows(filters.doc_ids, filters.sources, dict(filters.tags))

    def _hydrate(self, ids, scores) -> Scored:
        ids = [int(i) for i in ids if i >= 0]
        recs = self.catalog.chunks(ids)  # rows deleted since the snapshot are simply absent
        return [(recs[i], float(s)) for i, s in zip(ids, scores) if i in recs]

    def search_dense(self, query_vector: np.ndarray, k: int, filters: Filters | None = None) -> Scored:
        allowed = self._allowed(filters)
        if allowed is not None and not len(allowed):
            return []
        ids, scores = self.snapshot.dense.search(np.atleast_2d(query_vector), k, allowed)
        return self._hydrate(ids[0], scores[0])

    def term_coverage(self, query_tokens: list[str]) -> float:
        """Share of the query's tokens that occur anywhere in the KB (0 when it has none)."""
        if not query_tokens:
            return 0.0
        vocab = self.snapshot.bm25.vocab
        return sum(t in vocab for t in query_tokens) / len(query_tokens)

    def known_terms(self, tokens: list[str]) -> set[str]:
        vocab = self.snapshot.bm25.vocab
        return {t for t in tokens if t in vocab}

    def search_sparse(self, query_tokens: list[str], k: int, filters: Filters | None = None,
                      weights: dict[str, float] | None = None) -> Scored:
        allowed = self._allowed(filters)
        mask = None if allowed is None else np.isin(self.snapshot.bm25.ids, allowed)
        ids, scores = self.snapshot.bm25.search(query_tokens, k, mask, weights)
        return self._hydrate(ids, scores)


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None
