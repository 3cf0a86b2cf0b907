"""SQLite state backend (the embedded default): RAG_HOME/service.sqlite, one connection serialized
by a lock, WAL mode, full fsync: a crashed service resumes its unfinished jobs."""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api.state.blobs import iter_blob


class _Tx:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, tuple(args)).rowcount

    def executemany(self, sql: str, rows) -> None:
        self.conn.executemany(sql, [tuple(r) for r in rows])

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, tuple(args)).fetchall()


class SQLiteDatabase:
    dialect = "sqlite"

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            # deleted rows (a forgotten user's questions, purged answers) are overwritten with zeros, not left
            # in the file's free space; some builds (Debian's) do it by default, not every one
            self._conn.execute("PRAGMA secure_delete=ON")

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, tuple(args)).fetchall()

    def one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self.query(sql, args)
        return rows[0] if rows else None

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self._lock:
            return self._conn.execute(sql, tuple(args)).rowcount

    @contextmanager
    def tx(self) -> Iterator[_Tx]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def scrub(self) -> None:
        """Leave deleted rows nowhere on disk: write the WAL's pages (those that zeroed them) into the file and
        empty the WAL. Until then the file keeps the rows' old pages. Best effort: a reader in another
        process holding an older snapshot makes SQLite checkpoint only what it can, and the next one finishes."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def ping(self) -> bool:
        try:
            self.query("SELECT 1")
            return True
        except sqlite3.Error:
            return False

    def iter_blob(self, sql: str, args: Sequence[Any] = ()) -> Iterator[bytes]:
        return iter_blob(self.one, sql, args)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
