"""Reading a file stored in chunks, one row at a time (both backends): a 50 MB upload is never in
memory at once."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any


def iter_blob(one: Callable[[str, Sequence[Any]], Mapping[str, Any] | None], sql: str,
              args: Sequence[Any] = ()) -> Iterator[bytes]:
    """The first column of each row of `sql` (which must order its rows), fetched row by row."""
    i = 0
    while True:
        row = one(f"{sql} LIMIT 1 OFFSET {i}", args)
        if row is None:
            return
        yield bytes(next(iter(dict(row).values())))
        i += 1
