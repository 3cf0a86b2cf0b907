"""The SQLite catalog of a knowledge base: documents, chunks (text, BM25 tokens, vectors)
and a generation counter. It is the source of truth: the FAISS and BM25 files are
derived from it and can always be rebuilt. Each document is written in one transaction,
so a crash leaves either the old or the new version."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from indexer.page_breaks import decode, encode
from indexer.store.base import now, text_hash  # noqa: F401  (text_hash: re-exported for callers)
from indexer.types import Chunk, ChunkRecord, DocumentInfo

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, content_hash TEXT NOT NULL, size INTEGER NOT NULL,
    tags TEXT NOT NULL DEFAULT '{}', indexed_at TEXT NOT NULL, n_chunks INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, text TEXT NOT NULL, title TEXT NOT NULL, page INTEGER,
    n_tokens INTEGER NOT NULL, text_hash TEXT NOT NULL, tokens TEXT NOT NULL, vector BLOB NOT NULL,
    page_breaks TEXT);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_text_hash ON chunks(text_hash);
"""
SEP = "\x1f"
DOC_COLUMNS = "SELECT doc_id, source, content_hash, size, tags, indexed_at, n_chunks FROM documents"
# chunks.page_breaks (indexer.page_breaks) came after the first catalogs: one opened for writing gains the
# column (its chunks have none: each is shown on its first page); one opened read-only reads NULL
_ADD_PAGE_BREAKS = "ALTER TABLE chunks ADD COLUMN page_breaks TEXT"


class Catalog:
    def __init__(self, path: Path, readonly: bool = False):
        self.path = path
        uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
        self.db = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA foreign_keys=ON")
        if not readonly:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            self._add_page_breaks()
        has = any(r[1] == "page_breaks" for r in self.db.execute("PRAGMA table_info(chunks)"))
        self._record_columns = ("c.id, c.chunk_id, c.doc_id, d.source, c.text, c.title, c.page, d.tags, "
                                + ("c.page_breaks" if has else "NULL"))

    def _add_page_breaks(self) -> None:
        if any(r[1] == "page_breaks" for r in self.db.execute("PRAGMA table_info(chunks)")):
            return
        try:
            self.db.execute(_ADD_PAGE_BREAKS)
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise

    def close(self) -> None:
        self.db.close()

    # ---- meta ------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def generation(self) -> int:
        return int(self.get_meta("generation", "0"))

    # ---- documents -------------------------------------------------------------
    def _doc(self, row) -> DocumentInfo:
        return DocumentInfo(doc_id=row[0], source=row[1], content_hash=row[2], size=row[3],
                            tags=json.loads(row[4]), indexed_at=row[5], chunks=row[6])

    def documents(self) -> list[DocumentInfo]:
        rows = self.db.execute(f"{DOC_COLUMNS} ORDER BY source, doc_id").fetchall()
        return [self._doc(r) for r in rows]

    def document(self, doc_id: str) -> DocumentInfo | None:
        row = self.db.execute(f"{DOC_COLUMNS} WHERE doc_id=?", (doc_id,)).fetchone()
        return self._doc(row) if row else None

    def documents_by_source(self, source: str) -> list[DocumentInfo]:
        rows = self.db.execute(f"{DOC_COLUMNS} WHERE source=?", (source,)).fetchall()
        return [self._doc(r) for r in rows]

    def cached_vectors(self, hashes: list[str]) -> dict[str, np.ndarray]:
        """Vectors already computed for identical chunk text (any document): no re-encoding."""
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(hashes), 500):
            part = hashes[i:i + 500]
            q = f"SELECT text_hash, vector FROM chunks WHERE text_hash IN ({','.join('?' * len(part))})"
            for h, blob in self.db.execute(q, part):
                out[h] = np.frombuffer(blob, dtype=np.float32)
        return out

    def replace_document(self, info: DocumentInfo, chunks: list[Chunk], tokens: list[list[str]],
                         vectors: np.ndarray, hashes: list[str]) -> None:
        """Write a document and its chunks in one transaction (old chunks go in the same one)."""
        with self._tx():
            self.db.execute("DELETE FROM documents WHERE doc_id=?", (info.doc_id,))
            self.db.execute("INSERT INTO documents VALUES (?,?,?,?,?,?,?)",
                            (info.doc_id, info.source, info.content_hash, info.size,
                             json.dumps(info.tags, ensure_ascii=False), info.indexed_at, len(chunks)))
            self.db.executemany(
                "INSERT INTO chunks(chunk_id, doc_id, ordinal, text, title, page, n_tokens, text_hash, tokens, vector,"
                " page_breaks) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(c.chunk_id, c.doc_id, c.ordinal, c.text, c.title, c.page, c.n_tokens, h, SEP.join(t),
                  np.asarray(v, dtype=np.float32).tobytes(), encode(c.page_breaks))
                 for c, t, v, h in zip(chunks, tokens, vectors, hashes)])
            self._bump()

    def delete_document(self, doc_id: str) -> bool:
        with self._tx():
            n = self.db.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,)).rowcount
            if n:
                self._bump()
        return bool(n)

    def _bump(self) -> None:
        self.set_meta("generation", str(self.generation() + 1))

    def _tx(self):
        db = self.db

        class Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                db.execute("ROLLBACK" if exc_type else "COMMIT")
        return Tx()

    # ---- chunks ----------------------------------------------------------------
    def chunk_rows(self) -> np.ndarray:
        return np.fromiter((r for (r,) in self.db.execute("SELECT id FROM chunks")), dtype=np.int64)

    def chunk_payload(self, rows: np.ndarray) -> tuple[np.ndarray, list[list[str]], np.ndarray]:
        """(rows, BM25 tokens, vectors) for building indexes."""
        ids, toks, vecs = [], [], []
        rows = [int(r) for r in rows]
        for i in range(0, len(rows), 900):
            part = rows[i:i + 900]
            q = f"SELECT id, tokens, vector FROM chunks WHERE id IN ({','.join('?' * len(part))})"
            for r, t, v in self.db.execute(q, part):
                ids.append(r)
                toks.append(t.split(SEP) if t else [])
                vecs.append(np.frombuffer(v, dtype=np.float32))
        dim = len(vecs[0]) if vecs else 0
        return np.asarray(ids, np.int64), toks, (np.vstack(vecs) if vecs else np.zeros((0, dim), np.float32))

    def chunks(self, rows: list[int]) -> dict[int, ChunkRecord]:
        out: dict[int, ChunkRecord] = {}
        for i in range(0, len(rows), 900):
            part = [int(r) for r in rows[i:i + 900]]
            q = (f"SELECT {self._record_columns} FROM chunks c "
                 f"JOIN documents d ON d.doc_id = c.doc_id WHERE c.id IN ({','.join('?' * len(part))})")
            for r in self.db.execute(q, part):
                out[r[0]] = _record(r)
        return out

    def doc_chunks(self, doc_id: str) -> list[ChunkRecord]:
        """A document's chunks in order, read by one statement: one snapshot of the catalog, so a writer
        replacing the document meanwhile gives the old chunks or the new, never a row gone between two reads
        (an export running beside an indexer failed with a KeyError)."""
        q = (f"SELECT {self._record_columns} FROM chunks c "
             "JOIN documents d ON d.doc_id = c.doc_id WHERE c.doc_id = ? ORDER BY c.ordinal")
        return [_record(r) for r in self.db.execute(q, (doc_id,))]

    def filter_rows(self, doc_ids=None, sources=None, tags: dict[str, str] | None = None) -> np.ndarray:
        where, args = [], []
        if doc_ids:
            where.append(f"d.doc_id IN ({','.join('?' * len(doc_ids))})")
            args += list(doc_ids)
        if sources:
            where.append(f"d.source IN ({','.join('?' * len(sources))})")
            args += list(sources)
        for k, v in (tags or {}).items():
            where.append("json_extract(d.tags, ?) = ?")
            args += [f'$."{k}"', v]
        q = "SELECT c.id FROM chunks c JOIN documents d ON d.doc_id = c.doc_id"
        if where:
            q += " WHERE " + " AND ".join(where)
        return np.fromiter((r for (r,) in self.db.execute(q, args)), dtype=np.int64)


def _record(r) -> ChunkRecord:
    return ChunkRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7]), decode(r[8]))
