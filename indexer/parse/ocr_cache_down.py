"""A state database found unreachable, remembered for DOWN_FOR_S across the files a parser process reads, so that
cluster mode's shared OCR cache (indexer.parse.ocr_cache_pg) costs one connection wait (CONNECT_TIMEOUT_S, 5 s)
that long rather than one each file: a 50-file scan upload with PostgreSQL away waited 250 s more than without a
cache. The files' pages are read by OCR meanwhile; after DOWN_FOR_S a file tries to connect again.

    is_down(url) -> bool        # marked, and not yet DOWN_FOR_S ago: skip the cache at once
    mark_down(url) -> bool      # a connection failed; True the first time since it was last reached (warn then)
    mark_up(url)                # connected

Each file is read in a child the parser process forks (indexer.parse.sandbox), so what one file's reader learns
would go with its child: the mark lives in a shared anonymous mapping made when this module is imported, which the
parser process does (its OCR warm-up) before it forks any child. One mark, for the last URL found away (a process
has one state database). A child that a hostile file took over can at worst turn the cache off for DOWN_FOR_S:
a mark further ahead than that is not believed."""
from __future__ import annotations

import hashlib
import mmap
import struct
import threading
import time

# 30 s: skipping the cache costs a page 1-3 s of OCR it might have been spared, a failed connection 5 s; a
# database restarting or failing over is usually back within a minute, and is used again at most 30 s after
DOWN_FOR_S = 30.0

_MARK = struct.Struct("<16sdB")  # the URL's digest, down until (time.monotonic: one clock for every process), warned
_shared = mmap.mmap(-1, _MARK.size)  # MAP_SHARED: children forked after this see one another's marks
_lock = threading.Lock()  # threads of one process (parsing in-process)


def is_down(url: str) -> bool:
    digest, until, _ = _read()
    now = time.monotonic()
    return digest == _digest(url) and now < until <= now + DOWN_FOR_S


def mark_down(url: str) -> bool:
    """The database at `url` could not be reached: skipped for DOWN_FOR_S from now. True when it was not marked
    away already (reached since, or never marked): the caller then logs a warning, else only a debug line."""
    digest = _digest(url)
    with _lock:
        marked, _, warned = _read()
        _write(digest, time.monotonic() + DOWN_FOR_S, 1)
    return not (marked == digest and warned)


def mark_up(url: str) -> None:
    """Connected to `url`: a mark of it goes (the next time it is away is warned about again)."""
    with _lock:
        if _read()[0] == _digest(url):
            _write(b"\0" * 16, 0.0, 0)


def _digest(url: str) -> bytes:
    return hashlib.sha256(url.encode()).digest()[:16]


def _read() -> tuple[bytes, float, int]:
    return _MARK.unpack_from(_shared, 0)


def _write(digest: bytes, until: float, warned: int) -> None:
    _MARK.pack_into(_shared, 0, digest, until, warned)
