"""The OCR result cache in the service's state database (PostgreSQL), for cluster mode: every `rag worker` and API
replica has a RAG_HOME of its own but the same database, so a page one of them read by OCR is not read again by
another, and a redeployed pod (an empty RAG_HOME) loses nothing. Same entries, keys, checksums, bound and owners as
the SQLite cache (indexer.parse.ocr_cache_base); the tables are made by the service's schema migration 11
(api.state.migrations): `ocr_cache_pages` (kb, key, lines, checksum, bytes, used) and `ocr_cache_owners` (kb,
file, key); migration 12's `ocr_cache_sizes` (kb, bytes) keeps each KB's bytes as a running total, so that a put
checks the cap by one row instead of summing every entry of its KB. Every change of a KB's entries takes that row
first (locked until it commits): the total stays their sum with several workers writing, and two trims of one KB
never cross.

This module is the indexer's side of them (the parser processes that run OCR import no api module): it talks to
the database through psycopg with the connection string it is given, each wait bounded (CONNECT_TIMEOUT_S to
connect, WAIT_MS for a statement or a lock). A cache that fails never fails indexing: a database away skips the
cache for the rest of that file (no further connection waits), and for the next files this parser process reads
within DOWN_FOR_S (indexer.parse.ocr_cache_down: no wait at all), logged once until it is reached again."""
from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from indexer.parse.ocr_cache_base import KEEP, checksum, entry_bytes, entry_lines, entry_text, hit
from indexer.parse.ocr_cache_down import DOWN_FOR_S, is_down, mark_down, mark_up
from indexer.parse.ocr_text import OcrLine
from indexer.url_secret import hide_password

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)
T = TypeVar("T")

PAGES, OWNERS, SIZES = "ocr_cache_pages", "ocr_cache_owners", "ocr_cache_sizes"
CONNECT_TIMEOUT_S = 5  # a database away costs this once each DOWN_FOR_S: the cache is then off meanwhile
WAIT_MS = 10_000  # a statement or a row lock, as the SQLite cache's wait for the other parser's write (WAIT_S)
BATCH = 1000  # pages a load sends in one round trip and commits in one transaction (the KB's total held that long)
_OPTIONS = f"-c statement_timeout={WAIT_MS} -c lock_timeout={WAIT_MS}"


def connect(url: str):
    """A connection with every wait bounded (psycopg.Connection, autocommit outside `with conn.transaction()`)."""
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, options=_OPTIONS)


class PostgresOcrCache:
    """KB `kb`'s cache in the database at `url`. owner: the SHA-256 of the file being read ('' for none)."""

    def __init__(self, url: str, kb: str, max_bytes: int = 0, engine: str = "", owner: str = "") -> None:
        self.url, self.kb, self.max_bytes, self.engine, self.owner = url, kb, max_bytes, engine, owner
        self._db: Any = None
        self._down = False  # the database away: the cache is off for the rest of this reader's file
        self._warned = False

    def key(self, image: "Image", dpi: int | None) -> str:
        from indexer.parse.ocr_cache import page_key

        return page_key(self.engine, image, dpi)

    def get(self, key: str) -> list[OcrLine] | None:
        row = self._run(lambda db: db.execute(f"SELECT lines, checksum FROM {PAGES} WHERE kb = %s AND key = %s",
                                              (self.kb, key)).fetchone())

        def use(db) -> None:
            with db.transaction():
                db.execute(f"UPDATE {PAGES} SET used = %s WHERE kb = %s AND key = %s", (time.time(), self.kb, key))
                self._own(db, key)

        return hit(key, row, lambda: self._run(use))

    def put(self, key: str, lines: list[OcrLine]) -> None:
        text = entry_text(lines)
        size = entry_bytes(key, text)

        def write(db) -> None:
            with db.transaction():
                total = _total(db, self.kb)
                old = db.execute(f"SELECT bytes FROM {PAGES} WHERE kb = %s AND key = %s", (self.kb, key)).fetchone()
                db.execute(f"INSERT INTO {PAGES} (kb, key, lines, checksum, bytes, used) VALUES (%s, %s, %s, %s, %s, %s) "
                           "ON CONFLICT (kb, key) DO UPDATE SET lines = EXCLUDED.lines, checksum = EXCLUDED.checksum, "
                           "bytes = EXCLUDED.bytes, used = EXCLUDED.used",
                           (self.kb, key, text, checksum(key, text), size, time.time()))
                self._own(db, key)
                total = _trim(db, self.kb, total + size - (old[0] if old else 0), self.max_bytes)
                _set_total(db, self.kb, total)

        self._run(write)

    def forget(self, file_sha: str) -> bool:
        def drop(db) -> bool:
            with db.transaction():
                total = _total(db, self.kb)
                gone = [r[0] for r in db.execute(f"DELETE FROM {OWNERS} WHERE kb = %s AND file = %s RETURNING key",
                                                 (self.kb, file_sha)).fetchall()]
                total -= _deleted(db, f"DELETE FROM {PAGES} p WHERE kb = %s AND key = ANY(%s) AND NOT EXISTS "
                                      f"(SELECT 1 FROM {OWNERS} o WHERE o.kb = p.kb AND o.key = p.key)",
                                  (self.kb, gone))[1]
                _set_total(db, self.kb, total)
            return True

        return bool(self._run(drop, f"still holds the pages of the deleted file {file_sha[:12]}… (taken out at the "
                                    "KB's next write)", page=False))

    def keep_only(self, files: Iterable[str]) -> int | None:
        wanted = sorted(set(files))

        def drop(db) -> int:
            with db.transaction():
                total = _total(db, self.kb)
                db.execute(f"DELETE FROM {OWNERS} WHERE kb = %s AND NOT (file = ANY(%s))", (self.kb, wanted))
                pages, freed = _deleted(db, f"DELETE FROM {PAGES} p WHERE kb = %s AND NOT EXISTS (SELECT 1 FROM "
                                            f"{OWNERS} o WHERE o.kb = p.kb AND o.key = p.key)", (self.kb,))
                _set_total(db, self.kb, total - freed)
                return pages

        return self._run(drop, "still holds pages of documents deleted from its KB", page=False)

    def close(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            finally:
                self._db = None

    def _own(self, db, key: str) -> None:
        if self.owner:
            db.execute(f"INSERT INTO {OWNERS} (kb, file, key) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                       (self.kb, self.owner, key))

    def _run(self, work: Callable[[Any], T], failed: str = "not used for this page (OCR reads it)",
             page: bool = True) -> T | None:
        """work(connection), or None when the cache fails (logged once per file read, and a database away once until
        it is reached again). page: a page's get or put, skipped at once while the database is remembered away
        (indexer.parse.ocr_cache_down: by this parser process, for any file), and a failed connection remembered;
        forget and keep_only (documents deleted: their pages must go) always try."""
        import psycopg

        if self._down:
            return None
        connecting = self._db is None or self._db.closed
        if connecting and page and is_down(self.url):
            self._down = True  # an earlier file found it away within DOWN_FOR_S (and said so): no wait, no warning
            log.debug("OCR cache of %r: the state database was away %g s ago or less, not tried for this file",
                      self.kb, DOWN_FOR_S)
            return None
        try:
            if connecting:
                self._db = None
                self._db = connect(self.url)
                if page:
                    mark_up(self.url)
            return work(self._db)
        except (psycopg.Error, OSError) as exc:
            # the database away (no connection, or a broken one): off for this file, so no page waits again; a
            # statement that failed alone (a timeout, a deadlock between two trims) skips this page only
            unreached = page and self._db is None
            self._down = self._db is None or self._db.broken or self._db.closed
            self.close()
            news = mark_down(self.url) if unreached else True  # else warned already, by this file or an earlier one
            said = hide_password(str(exc).strip(), self.url)  # psycopg quotes a connection string it cannot parse
            log.log(logging.WARNING if news and not self._warned else logging.DEBUG, "OCR cache of %r in the state "
                    "database %s: %s", self.kb, f"not reached: not used for {DOWN_FOR_S:g} s, OCR reads the pages "
                    "meanwhile" if unreached else failed, said.splitlines()[0][:300] if said else type(exc).__name__)
            self._warned = True
            return None


def drop_kb(url: str, kb: str) -> None:
    """KB `kb`'s whole cache goes (the KB is deleted). Raises psycopg.Error."""
    with connect(url) as db, db.transaction():
        _drop(db, kb)


def copy_kb(url: str, src: str, dst: str) -> None:
    """KB `dst`'s cache becomes a copy of `src`'s (`rag kb reembed --into`), in one transaction. Raises
    psycopg.Error."""
    with connect(url) as db, db.transaction():
        _drop(db, dst)
        _total(db, dst)
        added = db.execute(f"WITH added AS (INSERT INTO {PAGES} (kb, key, lines, checksum, bytes, used) SELECT %s, key, "
                           f"lines, checksum, bytes, used FROM {PAGES} WHERE kb = %s RETURNING bytes) "
                           "SELECT coalesce(sum(bytes), 0)::bigint FROM added", (dst, src)).fetchone()[0]
        _set_total(db, dst, added)
        db.execute(f"INSERT INTO {OWNERS} (kb, file, key) SELECT %s, file, key FROM {OWNERS} WHERE kb = %s", (dst, src))


def dump(url: str, kb: str, path: Path) -> int:
    """KB `kb`'s cache written into a new SQLite cache file `path` (indexer.parse.ocr_cache's schema: what an
    export archive carries); how many pages. Raises psycopg.Error, sqlite3.Error, OSError."""
    from indexer.parse.ocr_cache import OcrCache

    sqlite_cache = OcrCache(str(path), 0, "")
    try:
        with connect(url) as db:
            with db.cursor(name="ocr_cache_dump") as cur, db.transaction():  # server-side: not all in memory
                cur.execute(f"SELECT key, lines, checksum, bytes, used FROM {PAGES} WHERE kb = %s", (kb,))
                pages = 0
                while rows := cur.fetchmany(500):
                    sqlite_cache.add_entries(rows, ())
                    pages += len(rows)
            sqlite_cache.add_entries((), db.execute(f"SELECT file, key FROM {OWNERS} WHERE kb = %s", (kb,)).fetchall())
        return pages
    finally:
        sqlite_cache.close()


def load(url: str, kb: str, path: Path, *, max_bytes: int, replace: bool = True) -> int:
    """The entries of SQLite cache file `path` (an imported archive's; `replace`: they replace KB `kb`'s cache, else
    they join it: a worker's own cache of an earlier release, api.jobs.adopt_ocr_cache): the entries whose checksum
    matches, with their owners, trimmed to `max_bytes` (the KB's bound, ocr_cache_mb) as a put trims: each worker's
    file is within it but the files of several workers together are not, and the cap may have been lowered since
    the file was written. `max_bytes` 0 (ocr_cache_mb 0, the cache off): no entry goes in (a replaced KB's cache
    goes all the same). How many pages. Raises psycopg.Error, sqlite3.Error.

    A batch of BATCH pages a transaction, each holding the KB's running total only while it adds its pages (a
    cache of 512 MB is some 100,000 pages, about 7.5 s to load: as one transaction, every other worker's page of
    the KB waited for it all, up to WAIT_MS, and was then read by OCR). A load that fails part way leaves the
    batches it added, each whole (pages, owners, total); loading the file again adds the rest."""
    if max_bytes <= 0:
        if replace:
            drop_kb(url, kb)
        return 0
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with connect(url) as db:
            if replace:
                with db.transaction():
                    _drop(db, kb)
            pages = 0
            rows = src.execute("SELECT key, lines, checksum, bytes, used FROM pages")
            while read := rows.fetchmany(BATCH):
                # the owners of every page read, its copy damaged or not: the database may have the page (another
                # worker's), and the owner says this file's document uses it, so that deleting the other keeps it
                batch = _entries(kb, read, time.time())
                keys = json.dumps([row[0] for row in read if isinstance(row[0], str)])
                owners = _owners(kb, src.execute("SELECT file, key FROM owners WHERE key IN (SELECT value FROM "
                                                 "json_each(?))", (keys,)))
                if batch or owners:
                    pages += _add(db, kb, batch, owners, max_bytes)
            # and the owners of pages the file does not hold at all (the database may have them all the same)
            unpaged = src.execute("SELECT file, key FROM owners o WHERE NOT EXISTS (SELECT 1 FROM pages p WHERE "
                                  "p.key = o.key)")
            while found := unpaged.fetchmany(BATCH):
                if owners := _owners(kb, found):
                    _add(db, kb, [], owners, max_bytes)
        return pages
    finally:
        src.close()


def _add(db, kb: str, batch: list[tuple], owners: list[tuple], max_bytes: int) -> int:
    """One batch of a load in a transaction of its own: its pages (those the KB has not already: a worker's cache
    beside another's), the file's owners of them and of any other page the KB has, the KB's total, trimmed to
    `max_bytes` when over it. How many pages went in."""
    with db.transaction(), db.cursor() as cur:
        total, added = _total(db, kb), 0
        if batch:  # one round trip a batch (pipeline), not one a page: the database may be on another host
            cur.executemany(f"INSERT INTO {PAGES} (kb, key, lines, checksum, bytes, used) VALUES (%s, %s, %s, %s, "
                            "%s, %s) ON CONFLICT (kb, key) DO NOTHING RETURNING bytes", batch, returning=True)
            while True:
                if row := cur.fetchone():
                    total, added = total + row[0], added + 1
                if not cur.nextset():
                    break
        cur.executemany(f"INSERT INTO {OWNERS} (kb, file, key) SELECT %s, %s, %s WHERE EXISTS (SELECT 1 FROM {PAGES} "
                        "WHERE kb = %s AND key = %s) ON CONFLICT DO NOTHING", owners)
        _set_total(db, kb, _trim(db, kb, total, max_bytes))
    return added


def _owners(kb: str, found: Iterable[tuple]) -> list[tuple]:
    """A SQLite cache file's owners rows (file, key) as the database's are added (kb, file, key, and the page's kb
    and key for the check that the database has it: no page, no owner)."""
    return [(kb, file, key, kb, key) for file, key in found
            if isinstance(file, str) and isinstance(key, str)]  # else damaged: not owned


def _trim(db, kb: str, total: int, max_bytes: int) -> int:
    """KB `kb`'s entries used longest ago removed, with their owners, until KEEP of `max_bytes` is left, when its
    `total` is over it; the total then."""
    if total <= max_bytes:
        return total
    total -= _deleted(db, f"DELETE FROM {PAGES} WHERE kb = %s AND key IN (SELECT key FROM (SELECT key, bytes, "
                          f"SUM(bytes) OVER (ORDER BY used, key) AS running FROM {PAGES} WHERE kb = %s) AS r "
                          "WHERE running - bytes < %s)", (kb, kb, total - KEEP * max_bytes))[1]
    db.execute(f"DELETE FROM {OWNERS} o WHERE kb = %s AND NOT EXISTS (SELECT 1 FROM {PAGES} p WHERE p.kb = o.kb "
               "AND p.key = o.key)", (kb,))
    return total


def _entries(kb: str, rows: list[tuple], now: float) -> list[tuple]:
    """The rows of a SQLite cache file's pages as they go into the database: the damaged ones left out (read by OCR
    again when asked). The checksum covers the key and lines only, so the file's size and last use are not
    trusted: a negative size kept the bound from ever trimming, a use to come kept an entry first forever, a value
    that is no number failed the whole file."""
    return [(kb, key, text, check, entry_bytes(key, text), _used(used, now)) for key, text, check, _size, used in rows
            if isinstance(key, str) and entry_lines(key, text, check) is not None]


def _used(used: object, now: float) -> float:
    """An entry's last use as a cache file gives it: a time no later than `now`, else `now`."""
    if isinstance(used, (int, float)) and not isinstance(used, bool) and 0 <= used <= now:
        return float(used)
    return now


def _drop(db, kb: str) -> None:
    _total(db, kb)
    db.execute(f"DELETE FROM {OWNERS} WHERE kb = %s", (kb,))
    db.execute(f"DELETE FROM {PAGES} WHERE kb = %s", (kb,))
    db.execute(f"DELETE FROM {SIZES} WHERE kb = %s", (kb,))


def _total(db, kb: str) -> int:
    """KB `kb`'s bytes (its running total), its row locked until the transaction ends: taken before any change of
    the KB's entries."""
    return db.execute(f"INSERT INTO {SIZES} (kb, bytes) VALUES (%s, 0) ON CONFLICT (kb) DO UPDATE SET bytes = "
                      f"{SIZES}.bytes RETURNING bytes", (kb,)).fetchone()[0]


def _set_total(db, kb: str, total: int) -> None:
    db.execute(f"UPDATE {SIZES} SET bytes = %s WHERE kb = %s", (max(int(total), 0), kb))


def _deleted(db, delete: str, params: tuple) -> tuple[int, int]:
    """DELETE statement `delete` (of cache pages) run: how many pages went and their bytes."""
    return db.execute(f"WITH gone AS ({delete} RETURNING bytes) SELECT count(*), coalesce(sum(bytes), 0)::bigint "
                      "FROM gone", params).fetchone()
