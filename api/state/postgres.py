"""PostgreSQL state backend (RAG_DATABASE_URL=postgresql://...): shared by every API replica and
indexing worker. One connection per thread (psycopg 3), autocommit outside explicit transactions."""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from api.state.blobs import iter_blob
from indexer.url_secret import hide_password

_QMARK = re.compile(r"\?")
_TYPES = (("BLOB", "BYTEA"), ("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY"))


def translate(sql: str) -> str:
    """SQLite-flavoured SQL -> PostgreSQL: `?` -> `%s`, BLOB -> BYTEA. Our SQL has no literal '?'."""
    for a, b in _TYPES:
        sql = sql.replace(a, b)
    return _QMARK.sub("%s", sql.replace("%", "%%"))


class _Tx:
    def __init__(self, cur):
        self.cur = cur

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        self.cur.execute(translate(sql), tuple(args))
        return self.cur.rowcount

    def executemany(self, sql: str, rows) -> None:
        self.cur.executemany(translate(sql), [tuple(r) for r in rows])

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict]:
        self.cur.execute(translate(sql), tuple(args))
        return self.cur.fetchall() if self.cur.description else []


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, url: str, connect_timeout: float = 5.0):
        self.url, self.connect_timeout = url, connect_timeout
        self._local = threading.local()
        self._all: list = []
        self._lock = threading.Lock()
        self._conn()  # fail fast with a clear error when the server is unreachable

    def _conn(self):
        import psycopg
        from psycopg.rows import dict_row

        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            try:
                conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row,
                                       connect_timeout=int(self.connect_timeout))
            except psycopg.OperationalError as e:
                raise ConnectionError(hide_password(f"cannot reach PostgreSQL at {self.url}: {e}".strip(), self.url)) \
                    from None  # the server's message only: psycopg's own may quote the connection string
            except psycopg.ProgrammingError as e:  # not parsed: psycopg's message quotes it, password included
                raise ValueError(f"RAG_DATABASE_URL is not a valid PostgreSQL URL ({hide_password(str(e).strip(), self.url)}); "
                                 "write it as postgresql://USER:PASSWORD@HOST:PORT/DB, percent-encoding any space, "
                                 "'@', ':' or '/' in the password") from None
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict]:
        """Rows of a statement. A SELECT on a connection the server dropped (PostgreSQL restarted since this
        thread last used it) is run once more on a new connection: a read is safe to repeat, and without it
        every thread's first request after a restart failed. Writes are never repeated here."""
        import psycopg

        for attempt in range(2):
            conn = self._conn()
            try:
                with conn.cursor() as cur:
                    cur.execute(translate(sql), tuple(args))
                    return cur.fetchall() if cur.description else []
            except psycopg.OperationalError:
                if attempt or not conn.broken or not sql.lstrip()[:6].upper() == "SELECT":
                    raise
        raise AssertionError("unreachable")

    def one(self, sql: str, args: Sequence[Any] = ()) -> dict | None:
        rows = self.query(sql, args)
        return rows[0] if rows else None

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        with self._conn().cursor() as cur:
            cur.execute(translate(sql), tuple(args))
            return cur.rowcount

    @contextmanager
    def tx(self) -> Iterator[_Tx]:
        conn = self._conn()
        with conn.transaction(), conn.cursor() as cur:
            yield _Tx(cur)

    def scrub(self) -> None:
        """Nothing: PostgreSQL keeps a deleted row's old version in its table files until VACUUM lets the space
        be reused and something overwrites it, and in its WAL and backups for as long as the operator keeps
        them; no statement erases them (docs/service.md says so)."""

    def ping(self) -> bool:
        try:
            self.query("SELECT 1")
            return True
        except Exception:
            self._local.conn = None
            return False

    def iter_blob(self, sql: str, args: Sequence[Any] = ()) -> Iterator[bytes]:
        return iter_blob(self.one, sql, args)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except Exception:
                    pass
            self._all.clear()
