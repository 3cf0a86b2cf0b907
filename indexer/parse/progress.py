"""Progress of a long parse (OCR of a scanned PDF, page by page), reported to whoever watches it.

    with watching(callback): parse_file(...)      # callback(done, total) after each page
    report(done, total)                            # from inside a parser

The watcher is per context (a ContextVar), so files parsed at once in threads report to their own
callbacks. In the sandboxed child the callback writes to a file the caller reads (indexer.parse.sandbox).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Callback = Callable[[int, int], None]

_watcher: ContextVar[Callback | None] = ContextVar("parse_progress", default=None)


@contextmanager
def watching(callback: Callback | None) -> Iterator[None]:
    token = _watcher.set(callback)
    try:
        yield
    finally:
        _watcher.reset(token)


def report(done: int, total: int) -> None:
    """`done` of `total` units (pages) finished. A watcher that fails never stops the parse."""
    callback = _watcher.get()
    if callback is not None:
        try:
            callback(done, total)
        except Exception:  # noqa: BLE001 - progress is a courtesy
            pass
