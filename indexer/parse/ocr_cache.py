"""What OCR read from each page, kept in the KB's folder, so that reading a scan again (`rag index --reparse`, a
chunker or screen upgrade, new tags) does not run Tesseract again for the same text: on a large scanned archive
that was hours of the same work.

    open_cache(options, source) -> PageCache | None   # indexer.parse.ocr_cache_where: this file, or in cluster mode
                                                      # the state database (indexer.parse.ocr_cache_pg)
    cache.key(image, dpi) -> str                   # the page as rendered, before lighting, deskew, turning
    cache.get(key) -> lines | None; cache.put(key, lines)   # indexer.parse.ocr_text's OcrLines
    cache.forget(file_sha); forget(path, file_sha) # a document's file left the KB: its pages go
    cache.keep_only(files) -> int | None           # only the pages of these files stay (indexer.parse.ocr_cache_prune)

A page's key is the SHA-256 of its image as it came to OCR (mode, size, pixels) and its resolution, together
with everything else that decides what OCR reads from it: OCR_VERSION (raised whenever the reading changes:
lighting, deskew, orientation, line order, headings), the languages, psm and fallback psm, the constants of those
steps and of the lines' sizes (indexer.parse.ocr_text_size), and Tesseract's identity (its version with its
libraries', its language files: indexer.parse.ocr.identity).
Any of them changing reads the page again; an unchanged page anywhere (in another file too) is read once.

One SQLite file (CACHE_FILE) in the KB's folder, in WAL mode: a kill leaves it at its last committed put; the
parser processes of one run share it (each write waits up to 10 s for the other's). A local KB's folder is the
one its catalog is in; a Milvus KB's is RAG_HOME/NAME on the machine that indexes (beside its kept uploads: its
documents live in Milvus). In cluster mode the cache is the state database's instead, shared by every worker
(indexer.parse.ocr_cache_pg). It is removed with the KB (`rag kb delete`), and a page with the document it came from (`forget`, by the SHA-256 of its file, which each page records
as its owner: the store, local or Milvus, calls it when a document OCR read is deleted or replaced by another
version of its file), so that a deleted scan's text does not stay behind. A KB rebuilt by `rag kb reembed` keeps
it (indexer.parse.ocr_cache_files): no key depends on the embedder. At most cache_mb MB of entries: past it the
entries used longest ago go, down to 90% of it.
An entry is a page's lines as JSON, each [text, left, right, size] (what indexer.parse.ocr_headings needs; a
heading's level is worked out again on each read, not kept). OCR_VERSION 3 added the numbers: an older entry
(text alone) is under another key and never read.
A cache that fails never fails indexing: an entry that does not match its checksum (or is not a list of lines)
is ignored and written again; a file that is not a database (damaged) is removed and started again; any other
error (locked past the wait, disk full) skips the cache for that page, and OCR reads it as without one.
"""
from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from indexer.parse.ocr_cache_base import KEEP, checksum, entry_bytes, entry_text, hit
from indexer.parse.ocr_text import OcrLine

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)


CACHE_FILE = "ocr-cache.sqlite"
WAIT_S = 10  # for the other parser process's write
_SCHEMA = ("CREATE TABLE IF NOT EXISTS pages (key TEXT PRIMARY KEY, lines TEXT NOT NULL, checksum TEXT NOT NULL, "
           "bytes INTEGER NOT NULL, used REAL NOT NULL)", "CREATE INDEX IF NOT EXISTS pages_used ON pages (used)",
           # owners: the files (SHA-256) each page was found in
           "CREATE TABLE IF NOT EXISTS owners (file TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (file, key)) "
           "WITHOUT ROWID", "CREATE INDEX IF NOT EXISTS owners_key ON owners (key)")


def page_key(engine: str, image: "Image", dpi: int | None) -> str:
    """A page's key: its image as it came to OCR (mode, size, pixels), its resolution and `engine` (the settings
    that decide what OCR reads: indexer.parse.ocr_cache_where.engine)."""
    h = hashlib.sha256(f"{engine}|{image.mode}|{image.width}x{image.height}|{dpi}|".encode())
    h.update(image.tobytes())
    return h.hexdigest()


class OcrCache:
    def __init__(self, path: str, max_bytes: int, engine: str, owner: str = "") -> None:
        """owner: the SHA-256 of the file whose pages these are ('' for none)."""
        self.path, self.max_bytes, self.engine, self.owner = path, max_bytes, engine, owner
        self._db: sqlite3.Connection | None = None
        self._warned = False

    def key(self, image: "Image", dpi: int | None) -> str:
        return page_key(self.engine, image, dpi)

    def get(self, key: str) -> list[OcrLine] | None:
        row = self._run(lambda db: db.execute("SELECT lines, checksum FROM pages WHERE key = ?", (key,)).fetchone())

        def use(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.execute("UPDATE pages SET used = ? WHERE key = ?", (time.time(), key))
                self._own(db, key)

        return hit(key, row, lambda: self._run(use))

    def put(self, key: str, lines: list[OcrLine]) -> None:
        text = entry_text(lines)
        size = entry_bytes(key, text)

        def write(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.execute("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?)",
                           (key, text, checksum(key, text), size, time.time()))
                self._own(db, key)
                total = db.execute("SELECT total(bytes) FROM pages").fetchone()[0]
                if total > self.max_bytes:  # the entries used longest ago, until KEEP of the cap is left
                    db.execute("DELETE FROM pages WHERE key IN (SELECT key FROM (SELECT key, bytes, SUM(bytes) OVER "
                               "(ORDER BY used, key) AS running FROM pages) WHERE running - bytes < ?)",
                               (total - KEEP * self.max_bytes,))
                    db.execute("DELETE FROM owners WHERE key NOT IN (SELECT key FROM pages)")
            if total > self.max_bytes:
                db.execute("PRAGMA incremental_vacuum")

        self._run(write)

    def forget(self, file_sha: str) -> bool:
        """Remove the pages of the file `file_sha` (a deleted or replaced document's), but those another file holds
        too; False when the cache could not be changed (logged)."""
        def drop(db: sqlite3.Connection) -> bool:
            with _transaction(db):
                db.execute("CREATE TEMP TABLE IF NOT EXISTS gone (key TEXT PRIMARY KEY)")
                db.execute("DELETE FROM gone")
                db.execute("INSERT INTO gone SELECT key FROM owners WHERE file = ?", (file_sha,))
                db.execute("DELETE FROM owners WHERE file = ?", (file_sha,))
                db.execute("DELETE FROM pages WHERE key IN (SELECT key FROM gone) AND key NOT IN "
                           "(SELECT key FROM owners)")
            db.execute("PRAGMA incremental_vacuum")
            return True

        return bool(self._run(drop, f"still holds the pages of the deleted file {file_sha[:12]}… (taken out at the "
                                    "KB's next write, or with the cache file)"))

    def keep_only(self, files: Iterable[str]) -> int | None:
        """Keep only the pages found in one of `files` (the SHA-256s of the files of the KB's documents); a page
        with no owner recorded goes too. How many pages went; None when the cache could not be changed (logged)."""
        wanted = [(sha,) for sha in set(files)]

        def drop(db: sqlite3.Connection) -> int:
            with _transaction(db):
                db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (file TEXT PRIMARY KEY)")
                db.execute("DELETE FROM wanted")
                db.executemany("INSERT INTO wanted VALUES (?)", wanted)
                db.execute("DELETE FROM owners WHERE file NOT IN (SELECT file FROM wanted)")
                gone = db.execute("DELETE FROM pages WHERE key NOT IN (SELECT key FROM owners)").rowcount
                db.execute("DELETE FROM wanted")
            if gone:
                db.execute("PRAGMA incremental_vacuum")  # the space back, as a trim does
            return gone

        return self._run(drop, "still holds pages of documents deleted from its KB (removing the cache file "
                               "removes them; scans are then read by OCR again)")

    def add_entries(self, pages: Iterable[tuple], owners: Iterable[tuple]) -> None:
        """Write entries as they are kept ((key, lines, checksum, bytes, used) and (file, key)) in one transaction:
        a copy of another cache (indexer.parse.ocr_cache_pg.dump). Raises sqlite3.Error, OSError."""
        db = self._connect()
        with _transaction(db):
            db.executemany("INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?)", pages)
            db.executemany("INSERT OR IGNORE INTO owners VALUES (?, ?)", owners)

    def _own(self, db: sqlite3.Connection, key: str) -> None:
        if self.owner:
            db.execute("INSERT OR IGNORE INTO owners VALUES (?, ?)", (self.owner, key))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _run(self, work, failed: str = "not used for this page (OCR reads it)"):
        """work(connection), or None when the cache fails (logged once per file read, with what `failed` means):
        a damaged file is removed and made again."""
        for attempt in (1, 2):
            try:
                return work(self._connect())
            except sqlite3.DatabaseError as exc:
                self.close()
                damaged = not isinstance(exc, sqlite3.OperationalError)  # locked, disk full: operational
                if not damaged or attempt == 2:
                    return self._failed(failed, exc)
                log.warning("OCR cache %s is damaged (%s): removed and started again", self.path, exc)
                remove_files(self.path)
            except OSError as exc:
                self.close()
                return self._failed(failed, exc)
        return None

    def _failed(self, failed: str, exc: Exception) -> None:
        log.log(logging.DEBUG if self._warned else logging.WARNING, "OCR cache %s %s: %s", self.path, failed, exc)
        self._warned = True

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(self.path, timeout=WAIT_S, isolation_level=None)  # one put, one commit
            try:
                db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # before the table: a trim gives the space back
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
                for statement in _SCHEMA:
                    db.execute(statement)
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db


def forget(path: Path, file_sha: str) -> None:
    """Remove from the cache file `path` the pages of the file `file_sha` (OcrCache.forget). Never raises."""
    if not path.is_file():
        return
    cache = OcrCache(str(path), 0, "")
    try:
        cache.forget(file_sha)
    finally:
        cache.close()


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One transaction (the connection commits each statement by itself otherwise)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.rollback()
        raise
    db.commit()


def remove_files(path: str) -> None:
    """The cache file `path` and its WAL and shared memory; never raises (a failure is logged)."""
    for name in (path, f"{path}-wal", f"{path}-shm"):
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("OCR cache: %s could not be removed (%s)", name, exc)
