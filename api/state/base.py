"""The database protocol the service's state is kept through (keys, jobs, uploaded files).

SQL is written once, with `?` placeholders and the common subset of SQLite and PostgreSQL; a
backend translates what differs (placeholders, blob type). Rows read like mappings (`row["id"]`).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol


class Transaction(Protocol):
    def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows changed."""
        ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Mapping[str, Any]]: ...


class Database(Protocol):
    dialect: str  # "sqlite" | "postgresql"

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[Mapping[str, Any]]: ...

    def one(self, sql: str, args: Sequence[Any] = ()) -> Mapping[str, Any] | None: ...

    def execute(self, sql: str, args: Sequence[Any] = ()) -> int: ...

    def tx(self) -> AbstractContextManager[Transaction]:
        """A transaction: committed when the block ends, rolled back when it raises."""
        ...

    def ping(self) -> bool:
        """The database answers (readiness)."""
        ...

    def scrub(self) -> None:
        """After deleting personal data (a forgotten user, a purge): leave the deleted rows nowhere the
        backend can reach (SQLite: checkpoint and empty the WAL; PostgreSQL: nothing it can do, see there)."""
        ...

    def iter_blob(self, sql: str, args: Sequence[Any] = ()) -> Iterator[bytes]:
        """The first column of each row as bytes, in order (uploaded files are stored in chunks)."""
        ...

    def close(self) -> None: ...
