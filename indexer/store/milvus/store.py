"""The Milvus store backend: a KB as Milvus collections (indexer.store.milvus.schema), on a Milvus
server or cluster (`http://HOST:PORT`) or Milvus Lite in this process (a path ending in `.db`).
Implements indexer.store.base.Store and passes indexer.store.testing.

Nothing of a KB is on local disk: chunks, documents, KB settings and the text-hash -> vector cache
(the chunks' own vectors) live in Milvus, so any number of readers on any machine see one KB.
Reads ask for Strong consistency: a reader sees every write acknowledged before its request, so
`refresh` has nothing to do. One writer per KB at a time (indexer.store.milvus.lock).

A crash (kill -9) at any point of a document write leaves the document at its old or its new state,
for readers at once: the write is recorded first and readers hide what it says is not the document
(indexer.store.milvus.pending); the next writer to open the KB removes what the crash left. Row ids
come from a counter in the meta collection, persisted before the rows that use it.
"""
from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import numpy as np
from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException

from indexer.ocr_tags import OCR_TAG
from indexer.page_breaks import decode, encode
from indexer.store.base import KBGoneError, KBLockedError, Scored
from indexer.store.local.snapshot import IndexParams
from indexer.store.milvus import pending as P
from indexer.store.milvus import schema as S
from indexer.store.milvus.lock import LockFactory, WriterLock, default_locks
from indexer.store.ocr_forget import forget_file, forget_pending
from indexer.types import Chunk, ChunkRecord, DocumentInfo, Filters

log = logging.getLogger(__name__)
INSERT_BATCH = 512


class _NoMvccWarning(logging.Filter):
    """Milvus Lite has no MVCC timestamps: pymilvus's query iterator then warns on every use, harmlessly."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "mvccTs" not in record.getMessage()


logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_NoMvccWarning())


_READS = frozenset({"query", "search", "hybrid_search", "get", "list_collections", "has_collection",
                    "describe_collection", "query_iterator", "get_collection_stats"})


class _Reconnecting:
    """A MilvusClient whose reads are tried again (3 times, 0.5 s apart) when the server was away: after
    a Milvus restart the first call on an old channel fails while the channel reconnects. Writes are
    never retried here (a write that reached the server must not be applied twice)."""

    def __init__(self, client: MilvusClient):
        self._client = client

    def __getattr__(self, name: str):
        attr = getattr(self._client, name)
        if name not in _READS or not callable(attr):
            return attr

        def call(*args, **kwargs):
            for attempt in range(4):
                try:
                    return attr(*args, **kwargs)
                except Exception as e:  # MilvusException / grpc errors: connection-level only
                    text = str(e).lower()
                    if attempt == 3 or not any(w in text for w in ("connect", "unavailable", "channel")):
                        raise
                    time.sleep(0.5)
        return call


def connect(uri: str) -> MilvusClient:
    """A client for `uri` (pymilvus shares one connection per URI in a process)."""
    try:
        for attempt in range(4):  # after a server restart the shared channel needs a moment to reconnect
            try:
                return _Reconnecting(MilvusClient(uri))
            except MilvusException as e:
                if attempt == 3 or uri.endswith(".db") or "connect" not in str(e).lower():
                    raise
                time.sleep(0.5)
    except Exception as e:
        if uri.endswith(".db"):
            raise RuntimeError(
                f"cannot open the Milvus Lite file {uri} ({e}). A Milvus Lite file belongs to one process; to "
                f"share it, serve it with `milvus-lite server --data-dir {uri} --port 19530` and set "
                "RAG_STORE_URI=http://127.0.0.1:19530") from e
        raise


def kb_names(uri: str) -> list[str]:
    client = connect(uri)
    try:
        return sorted(n for n in (S.kb_name(c) for c in client.list_collections()) if n)
    finally:
        client.close()


def kb_exists(uri: str, kb: str) -> bool:
    client = connect(uri)
    try:
        return bool(client.has_collection(S.Names.of(kb).chunks))
    finally:
        client.close()


def drop_kb(uri: str, kb: str, role: str = "") -> bool:
    """Drop a KB's collections, its chunks first (the KB is gone at once), and with them what an
    interrupted `rag kb reembed` left beside it. `role`: drop only that hidden set (schema.Names.of).
    False when there was no such KB (or set)."""
    client = connect(uri)
    try:
        sets = [S.Names.of(kb, role)] if role else [S.Names.of(kb)] + [S.Names.of(kb, r) for r in S.ROLES]
        existed = bool(client.has_collection(sets[0].chunks))
        for names in sets:
            for name in names.all():
                if client.has_collection(name):
                    client.drop_collection(name)
        return existed
    finally:
        client.close()


def swap_in(uri: str, kb: str, role: str = "reembed") -> None:
    """Put the KB's finished re-embedded copy (role 'reembed'; or an imported archive, role 'import') in its place by renaming collections: the
    KB's own go to role 'replaced', chunks first (the KB leaves its name at once), then the copy's take
    the KB's names, chunks last (the copy is the KB once whole), then the replaced ones are dropped.
    Every step checks what is where, so running it again after a crash at any point finishes the swap.
    Long-lived readers see another incarnation under the name (`MilvusStore.replaced`) and reopen; a
    request in the instant between the two chunk renames finds no KB of that name."""
    client = connect(uri)
    try:
        kb_own, copy, gone = S.Names.of(kb), S.Names.of(kb, role), S.Names.of(kb, "replaced")
        has = client.has_collection
        for own, new, old in zip(kb_own.all(), copy.all(), gone.all()):
            if has(own) and has(new) and not has(old):
                client.rename_collection(own, old)
        for own, new in reversed(list(zip(kb_own.all(), copy.all()))):
            if has(new) and not has(own):
                client.rename_collection(new, own)
        for old in gone.all():
            if has(old):
                client.drop_collection(old)
    finally:
        client.close()


def swap_started(uri: str, kb: str) -> bool:
    """Did a swap_in begin and not finish (a crash inside it)? Its first step leaves 'replaced' collections."""
    client = connect(uri)
    try:
        return any(client.has_collection(n) for n in S.Names.of(kb, "replaced").all())
    finally:
        client.close()


class MilvusStore:
    # Milvus computes BM25 from the query's text, which carries a term only as whole repeats: a real-valued
    # weight cannot be passed exactly, so search_sparse takes none (BM25 feedback does not run here)
    sparse_weights = False

    def __init__(self, uri: str, kb: str, params: IndexParams | None = None, writable: bool = False,
                 embed_model: str | None = None, lock_timeout: float = 600, context_window: int = 0,
                 locks: LockFactory | None = None, lock_dir: Path | None = None, role: str = "",
                 folder: Path | None = None, ocr_cache_url: str = ""):
        """`locks`: makes the writer lock taken when `writable` (default: indexer.store.milvus.lock.default_locks,
        whose file locks go to `lock_dir` when Milvus is a server and no Redis is configured).
        `role`: open the hidden collection set of that role beside KB `kb` (schema.Names.of) instead of the KB.
        `folder`: the KB's folder on this machine (RAG_HOME/NAME), for what only lives on local disk: its OCR result
        cache (indexer.parse.ocr_cache); None, and always for a hidden set: no OCR cache. `ocr_cache_url`: the state
        database that holds the KB's OCR cache instead (cluster mode: indexer.parse.ocr_cache_where)."""
        from indexer.parse.ocr_cache import CACHE_FILE
        from indexer.parse.ocr_cache_where import OcrCacheAt

        self.uri, self.kb, self.writable = uri, kb, writable
        self.folder = None if role else folder
        self.ocr_cache = OcrCacheAt(str(self.folder / CACHE_FILE) if self.folder is not None else "",
                                    "" if role else ocr_cache_url, "" if role or not ocr_cache_url else kb)
        self.names = S.Names.of(kb, role)
        self._lock_name = f"{kb}#{role}" if role else kb
        self._lock: WriterLock | None = None
        self._incarnation: str | None = None
        self.created = False  # set by _open_writer when this open made the KB
        self._loaded = False
        self._breaks: bool | None = None  # whether the chunks collection has the page_breaks field
        self.client = connect(uri)
        try:
            if writable:
                self._open_writer(locks or default_locks(uri, lock_dir), lock_timeout, params, embed_model,
                                  context_window)
            elif (incarnation := self._current_incarnation()) is not None:
                self._incarnation = incarnation  # what replaced() compares with
            else:
                raise FileNotFoundError(f"no knowledge base {kb!r} in Milvus at {uri}; create it with "
                                        "`rag kb create` or `rag index`")
            meta = self._meta_many(["embed_model", "dim", "context_window", "dense_index", "next_row", "generation"])
            self.embed_model = meta.get("embed_model") or ""
            self.dim = int(meta.get("dim") or 0)
            self.context_window = int(meta.get("context_window") or 0)  # fixed at creation
            self.dense_kind = meta.get("dense_index") or "flat"
            self.params = params or IndexParams(dim=self.dim)
            self.params.dim = self.dim  # the KB's own dimension wins over the caller's
            self._next_row = int(meta.get("next_row") or 0)
            self._generation = int(meta.get("generation") or 0)
            self._terms_written: set[str] = set()
            if writable:
                self._finish_pending()
                self._make_folder()
        except BaseException:
            self.close()
            raise

    def _make_folder(self) -> None:
        """The KB's folder on this machine, where indexing keeps its OCR cache (indexer.ingest.ocr_cache_path). One
        that cannot be made leaves the KB without a cache (each page is then read by OCR), never unwritable."""
        if self.folder is not None:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                log.warning("knowledge base %r: its folder %s could not be made (%s): scanned pages are read by OCR "
                            "each time, with no cache", self.kb, self.folder, exc)
                self.folder = None

    def _current_incarnation(self) -> str | None:
        """The id made when the KB now under this name was created; None when there is none. A server
        that cannot be reached raises: read as 'no KB', it made a writer open during a Milvus restart
        take the path that creates the KB (which drops leftover collections) and a writer mid-job
        report the KB deleted, failing the file for good."""
        if not self.client.has_collection(self.names.chunks):
            return None
        try:
            if not self._loaded:
                self._load()
            return self._meta_many(["incarnation"]).get("incarnation")
        except MilvusException:
            if self.client.has_collection(self.names.chunks):  # still there: not the drop, raise the error
                raise
            return None  # dropped between the calls

    def _load(self) -> None:
        """Load the KB's collections where they are not (Milvus Lite loads none after a restart)."""
        for name in self.names.all():
            if "NotLoad" in str(self.client.get_load_state(name).get("state")):
                self.client.load_collection(name)
        self._loaded = True

    def _open_writer(self, locks: LockFactory, timeout: float, params: IndexParams | None,
                     embed_model: str | None, context_window: int) -> None:
        """Take the lock of the KB's current incarnation, creating the KB (under a creation lock) if needed."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self._current_incarnation()
            lock = locks(f"{self._lock_name}@{seen or 'new'}")
            lock.acquire(max(0.0, deadline - time.monotonic()))
            now = self._current_incarnation()
            if now != seen:  # deleted or created while we waited: start over
                lock.release()
                continue
            if seen is not None:
                self._lock, self._incarnation = lock, seen
                return
            try:  # we hold the creation lock and no KB exists
                if not embed_model or params is None:
                    raise ValueError("a new knowledge base needs an embedding model and its dimension")
                created = self._create(params, embed_model, context_window)
                mine = locks(f"{self._lock_name}@{created}")
                mine.acquire(max(0.0, deadline - time.monotonic()))
                self._lock, self._incarnation, self.created = mine, created, True
                return
            finally:
                lock.release()

    # ---- creation ----------------------------------------------------------------
    def _create(self, params: IndexParams, embed_model: str, context_window: int) -> str:
        c = self.client
        for name in self.names.all():  # leftovers of an interrupted creation or deletion (we hold the lock)
            if c.has_collection(name):
                c.drop_collection(name)
        S.create_side_collections(c, self.names)
        dense = params.dense_index if params.dense_index != "auto" else ("flat" if self.uri.endswith(".db") else "hnsw")
        analyzer = S.analyzer_for(str(c.get_server_version()))
        incarnation = uuid.uuid4().hex
        self._set_meta_many({"embed_model": embed_model, "dim": str(params.dim),
                             "context_window": str(context_window), "created_ms": str(int(time.time() * 1000)),
                             "generation": "0", "next_row": "0", "dense_index": dense, "incarnation": incarnation,
                             "bm25_analyzer": analyzer["tokenizer"]})
        try:
            S.create_collection(c, self.names.chunks, S.chunk_schema(params.dim, analyzer),
                                S.chunk_index(c, dense, params.hnsw_m))
        except MilvusException as e:
            if analyzer is S.ANALYZERS[-1] or "tokenizer" not in str(e):
                raise
            analyzer = S.ANALYZERS[-1]  # a server without the whitespace tokenizer: same tokens (see schema)
            self._set_meta_many({"bm25_analyzer": analyzer["tokenizer"]})
            S.create_collection(c, self.names.chunks, S.chunk_schema(params.dim, analyzer),
                                S.chunk_index(c, dense, params.hnsw_m))
        return incarnation

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if getattr(self, "client", None) is not None:
            self.client.close()
            self.client = None

    # ---- helpers -----------------------------------------------------------------
    def _query(self, collection: str, expr: str, fields: list[str]) -> list[dict]:
        """Every row matching `expr` (paged past Milvus's per-query cap when needed)."""
        rows = list(self.client.query(collection, filter=expr, output_fields=fields, limit=S.QUERY_MAX))
        if len(rows) < S.QUERY_MAX:
            return rows
        rows = []
        it = self.client.query_iterator(collection, batch_size=4096, filter=expr, output_fields=fields)
        try:
            while batch := it.next():
                rows.extend(batch)
        finally:
            it.close()
        return rows

    def _need_write(self) -> None:
        if not self.writable:
            raise PermissionError("this store was opened read-only")
        self._fence()
        if self._current_incarnation() != self._incarnation:  # the fence: this KB, not a later one of its name
            raise KBGoneError(f"knowledge base {self.kb!r} was deleted while it was being written; "
                              "nothing more is written to it")

    def _fence(self) -> None:
        """The writer lock is still ours (asked of Redis where it lives there), before each write and
        before the upsert that publishes one: a writer that lost it stops instead of writing beside the
        writer that has it."""
        if self._lock is None or not self._lock.verify():
            raise KBLockedError(f"lost the writer lock of knowledge base {self.kb!r} (another writer may have "
                                "it); open it again to write")

    def replaced(self) -> bool:
        """One meta query: a KB deleted, or another swapped in under the name, has another (or no) incarnation."""
        try:
            return self._meta_many(["incarnation"]).get("incarnation") != self._incarnation
        except MilvusException:  # no collection of that name
            return True

    # ---- KB metadata -------------------------------------------------------------
    def _meta_many(self, keys: list[str]) -> dict[str, str]:
        rows = self.client.query(self.names.meta, filter=S.is_in("key", keys), output_fields=["key", "value"],
                                 limit=len(keys))
        return {r["key"]: r["value"] for r in rows}

    def _set_meta_many(self, values: dict[str, str]) -> None:
        self.client.upsert(self.names.meta, [{"key": k, "value": str(v), "_v": S.DUMMY_VECTOR}
                                             for k, v in values.items()])

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        return self._meta_many([key]).get(key, default)

    def set_meta(self, key: str, value: str) -> None:
        """Like the local store, KB settings may be written through a read-only store (no writer lock)."""
        self._set_meta_many({key: value})

    def meta_items(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self._query(self.names.meta, 'key != ""', ["key", "value"])}

    def cache_generation(self) -> int:
        """Creation time in ms + a counter bumped by every document write or delete (see LocalStore)."""
        meta = self._meta_many(["created_ms", "generation"])
        return int(meta.get("created_ms") or 0) + int(meta.get("generation") or 0)

    # ---- documents -----------------------------------------------------------------
    @staticmethod
    def _doc(r: dict) -> DocumentInfo:
        return DocumentInfo(doc_id=r["doc_id"], source=r["source"], content_hash=r["content_hash"],
                            size=int(r["size"]), chunks=int(r["n_chunks"]), indexed_at=r["indexed_at"],
                            tags=dict(r.get("tags") or {}))

    def _pending(self) -> P.PendingWrite | None:
        """The document write under way (or left by a crash): readers hide what it says is not the document."""
        return P.parse(self._meta_many([P.KEY]).get(P.KEY))

    def documents(self) -> list[DocumentInfo]:
        pending = self._pending()
        docs = P.shown_documents([self._doc(r) for r in self._query(self.names.docs, "", S.DOC_FIELDS)], pending)
        return sorted(docs, key=lambda d: (d.source, d.doc_id))

    def document(self, doc_id: str) -> DocumentInfo | None:
        pending = self._pending()
        rows = self.client.query(self.names.docs, filter=S.is_in("doc_id", [doc_id]), output_fields=S.DOC_FIELDS,
                                 limit=1)
        stored = self._doc(rows[0]) if rows else None
        return pending.shown(doc_id, stored) if pending else stored

    def documents_by_source(self, source: str) -> list[DocumentInfo]:
        pending = self._pending()
        stored = [self._doc(r) for r in self._query(self.names.docs, S.is_in("source", [source]), S.DOC_FIELDS)]
        return P.shown_documents(stored, pending, keep=lambda d: d.source == source)

    def _chunk_fields(self) -> list[str]:
        """The fields a chunk is read with: page_breaks where the collection has it (schema.PAGE_BREAKS)."""
        if self._breaks is None:
            fields = self.client.describe_collection(self.names.chunks).get("fields", [])
            self._breaks = any(f.get("name") == S.PAGE_BREAKS for f in fields)
        return S.CHUNK_FIELDS + [S.PAGE_BREAKS] if self._breaks else S.CHUNK_FIELDS

    @staticmethod
    def _record(row: int, e: dict) -> ChunkRecord:
        page = e.get("page")
        return ChunkRecord(int(row), e["chunk_id"], e["doc_id"], e["source"], e["text"], e["title"],
                           None if page is None else int(page), dict(e.get("tags") or {}),
                           decode(e.get(S.PAGE_BREAKS)))

    def doc_chunks(self, doc_id: str) -> list[ChunkRecord]:
        rows = self._query(self.names.chunks, P.visible(S.is_in("doc_id", [doc_id]), self._pending()),
                           self._chunk_fields() + ["ordinal"])
        rows.sort(key=lambda r: r["ordinal"])
        return [self._record(r["row"], r) for r in rows]

    def cached_vectors(self, hashes: list[str]) -> dict[str, np.ndarray]:
        """Vectors already computed for identical chunk text (any document): no re-encoding."""
        out: dict[str, np.ndarray] = {}
        hashes = list(dict.fromkeys(hashes))
        for i in range(0, len(hashes), 500):
            for r in self._query(self.names.chunks, S.is_in("text_hash", hashes[i:i + 500]), ["text_hash", "vector"]):
                out[r["text_hash"]] = np.asarray(r["vector"], dtype=np.float32)
        return out

    def replace_document(self, info: DocumentInfo, chunks: list[Chunk], tokens: list[list[str]],
                         vectors: np.ndarray, hashes: list[str]) -> None:
        self._need_write()
        old = self.document(info.doc_id) if self._ocr_cache() else None  # its pages leave the cache with it
        rows = []
        for c, t, v, h in zip(chunks, tokens, vectors, hashes):
            text = S.bm25_text(t)
            for what, value in (("text", c.text), ("BM25 tokens", text), ("title", c.title)):
                if len(value.encode("utf-8")) > S.VARCHAR_MAX:
                    raise ValueError(f"chunk {c.chunk_id}: its {what} exceed Milvus's {S.VARCHAR_MAX}-byte limit; "
                                     "index with a smaller chunk size")
            rows.append({"chunk_id": c.chunk_id, "doc_id": c.doc_id, "source": info.source, "ordinal": c.ordinal,
                         "text": c.text, "title": c.title, "page": c.page, "tags": info.tags, "text_hash": h,
                         "bm25_text": text, "vector": np.asarray(v, dtype=np.float32).tolist()})
            if self._chunk_fields() != S.CHUNK_FIELDS:
                rows[-1][S.PAGE_BREAKS] = encode(c.page_breaks)
        first = self._next_row
        info = DocumentInfo(info.doc_id, info.source, info.content_hash, int(info.size), len(chunks),
                            info.indexed_at, dict(info.tags))
        writing = P.PendingWrite(info.doc_id, first, first + len(rows), switched=False)
        switched = P.PendingWrite(info.doc_id, first, first + len(rows), switched=True, doc=info)
        if len(switched.to_json().encode("utf-8")) > S.VARCHAR_MAX:
            raise ValueError(f"document {info.doc_id}: its source and tags exceed Milvus's {S.VARCHAR_MAX}-byte "
                             "limit; shorten them")
        self._next_row += len(rows)
        # the counter before the rows (a crash never reuses ids), the record before the rows (readers hide them)
        self._set_meta_many({"next_row": str(self._next_row), P.KEY: writing.to_json()})
        for i, r in enumerate(rows):
            r["row"] = first + i
        for i in range(0, len(rows), INSERT_BATCH):
            self.client.insert(self.names.chunks, rows[i:i + INSERT_BATCH])
        self._add_terms({t for toks in tokens for t in toks})
        self._switch(switched)
        self._finish(switched)
        if old is not None:
            self._forget_ocr(old, info)

    def _switch(self, pending: P.PendingWrite) -> None:
        """One upsert makes the new version the document for every reader and bumps the generation."""
        self._fence()  # the rows took time to insert: the lock is checked again right before they show
        self._generation += 1
        self._set_meta_many({P.KEY: pending.to_json(), "generation": str(self._generation)})

    def _finish(self, pending: P.PendingWrite) -> None:
        """Make the stored rows what `pending` shows readers, then drop the record (safe to run again)."""
        if pending.switched:
            self.client.delete(self.names.chunks, filter=pending.hidden())
            doc = pending.doc
            if doc is None:
                self.client.delete(self.names.docs, filter=S.is_in("doc_id", [pending.doc_id]))
            else:
                self.client.upsert(self.names.docs, [{
                    "doc_id": doc.doc_id, "source": doc.source, "content_hash": doc.content_hash,
                    "size": int(doc.size), "tags": doc.tags, "indexed_at": doc.indexed_at, "n_chunks": doc.chunks,
                    "_v": S.DUMMY_VECTOR}])
        else:  # never switched: the new rows go, the old version stays the document
            self.client.delete(self.names.chunks, filter=pending.hidden())
        self.client.delete(self.names.meta, filter=S.is_in("key", [P.KEY]))

    def _finish_pending(self) -> None:
        """A writer opening the KB finishes the write a crash interrupted, as readers saw it."""
        pending = self._pending()
        if pending is None:
            return
        if self._next_row < pending.end_row:
            self._next_row = pending.end_row
            self._set_meta_many({"next_row": str(self._next_row)})
        log.info("knowledge base %r: finishing the write of document %s that a crash interrupted (%s version kept)",
                 self.kb, pending.doc_id, "new" if pending.switched else "old")
        self._finish(pending)

    def _add_terms(self, terms: set[str]) -> None:
        new = sorted(t for t in terms - self._terms_written if len(t.encode("utf-8")) <= S.TERM_MAX)
        for i in range(0, len(new), 4096):
            self.client.upsert(self.names.terms, [{"term": t, "_v": S.DUMMY_VECTOR} for t in new[i:i + 4096]])
        self._terms_written |= set(new)

    def delete_document(self, doc_id: str) -> bool:
        self._need_write()
        old = self.document(doc_id)
        where = S.is_in("doc_id", [doc_id])
        had_chunks = bool(self.client.query(self.names.chunks, filter=where, output_fields=["row"], limit=1))
        if not (old is not None or had_chunks):
            return False
        gone = P.PendingWrite(doc_id, self._next_row, self._next_row, switched=True, doc=None)
        self._switch(gone)
        self._finish(gone)
        if old is not None:
            self._forget_ocr(old)
        return True

    def _ocr_cache(self) -> bool:
        """The KB has an OCR result cache: shared in the state database, or a file on this machine."""
        return self.ocr_cache.shared or bool(self.ocr_cache.path and Path(self.ocr_cache.path).is_file())

    def _forget_ocr(self, old: DocumentInfo, new: DocumentInfo | None = None) -> None:
        """What OCR read from a document's file leaves the KB's OCR cache with it (indexer.parse.ocr_cache_where: the
        state database's, shared in cluster mode, at once; else the file on this machine): deleted, or replaced by
        `new`, another version of its file."""
        from indexer.reread import file_sha

        if old.tags.get(OCR_TAG) == "yes" and (new is None or file_sha(new.content_hash) != file_sha(old.content_hash)):
            forget_file(self, self.ocr_cache, file_sha(old.content_hash))  # or at the next write, when away now

    def commit(self) -> None:
        """Every write is already durable and visible in Milvus: nothing is left to publish. No flush
        either: Milvus Lite keeps BM25 statistics per segment, and a flush per commit would split them."""
        self._need_write()
        forget_pending(self, self.ocr_cache)  # pages a delete could not take out of the OCR cache then

    # ---- search ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Nothing to do: every read asks Milvus with Strong consistency."""

    def _search(self, data, field: str, k: int, filters: Filters | None, params: dict) -> list[tuple[int, dict, float]]:
        if k <= 0:
            return []
        res = self.client.search(self.names.chunks, data=[data], anns_field=field, limit=min(int(k), S.QUERY_MAX),
                                 filter=P.visible(S.filter_expr(filters), self._pending()), search_params=params, output_fields=self._chunk_fields())
        hits = res[0] if res else []
        return [(h.get("row", h.get("id")), h.get("entity") or {}, float(h["distance"])) for h in hits]

    def search_dense(self, query_vector: np.ndarray, k: int, filters: Filters | None = None) -> Scored:
        q = np.asarray(query_vector, dtype=np.float32).ravel().tolist()
        params: dict = {"metric_type": "IP"}
        if self.dense_kind == "hnsw":
            params["params"] = {"ef": max(self.params.hnsw_ef_search, int(k))}
        return [(self._record(row, e), d) for row, e, d in self._search(q, "vector", k, filters, params)]

    def search_sparse(self, query_tokens: list[str], k: int, filters: Filters | None = None,
                      weights: dict[str, float] | None = None) -> Scored:
        if weights:
            raise ValueError("the Milvus store's BM25 search takes no per-term weights (sparse_weights is False); "
                             "search with plain tokens")
        text = S.bm25_text(query_tokens)
        if not text:
            return []
        hits = self._search(text, "sparse", k, filters, {"metric_type": "BM25"})
        # Milvus reports a BM25 score as the distance; Milvus Lite as its negative (smaller = better)
        return [(self._record(row, e), abs(d)) for row, e, d in hits if d != 0]

    def term_coverage(self, query_tokens: list[str]) -> float:
        """Share of the query's tokens that were ever written to the KB (0 when it has none). Unlike
        the local store, terms only found in since-deleted chunks still count as seen."""
        if not query_tokens:
            return 0.0
        seen = self.known_terms(query_tokens)
        return sum(t in seen for t in query_tokens) / len(query_tokens)

    def known_terms(self, tokens: list[str]) -> set[str]:
        """Those of `tokens` ever written to the KB: one query per 500."""
        unique = [t for t in dict.fromkeys(tokens) if len(t.encode("utf-8")) <= S.TERM_MAX]
        seen: set[str] = set()
        for i in range(0, len(unique), 500):
            part = unique[i:i + 500]
            seen |= {r["term"] for r in self.client.query(self.names.terms, filter=S.is_in("term", part),
                                                            output_fields=["term"], limit=len(part))}
        return seen
