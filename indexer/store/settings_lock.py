"""The lock of a KB's settings that users change (its synonyms), apart from the KB's writer lock.

A setting is one row of the KB's meta (the local catalog's table, Milvus's meta collection), written in one
statement (Store.set_meta, which needs no writer lock on either store), and an indexing run neither reads
nor rewrites those rows: a settings write need not wait for the writer lock, which an indexing run holds
from start to end (an upload's indexing: minutes, where the service gave up on it after 30 s).

What a settings write must not cross is a copy of the KB's settings that then takes the KB's place:
`rag kb reembed`'s last pass copies them under the writer lock and swaps the copy in. A setting written
after that copy was made, before the swap, would go with the old KB. That pass takes this lock too, and
so do two settings writes of one KB (a long synonym list is written in parts, then the key naming them).

Local store: flock on NAME/settings.lock. A re-embedded folder put in the KB's place has its own file:
a write that waited on the old one finds that file gone from the KB's path, and takes the new one's.
Milvus: a lock of indexer.store.milvus.lock named "NAME@settings" (Redis in a cluster, a file under the
home's .locks on one machine, in-process for Milvus Lite), as the writer locks are.
"""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from indexer.store.base import KBLockedError

FILE = "settings.lock"


@contextmanager
def settings_lock(folder: Path, uri: str | None = None, timeout: float = 30) -> Iterator[None]:
    """Hold KB `folder.name`'s settings lock (`folder`: home/NAME, as open_store takes it; `uri`: the Milvus,
    or None for the local store). KBLockedError after `timeout` seconds; FileNotFoundError when there is no
    local KB there."""
    if uri:
        from indexer.store.milvus.lock import default_locks

        lock = default_locks(uri, folder.parent / ".locks")(f"{folder.name}@settings")
        try:
            lock.acquire(timeout)
        except KBLockedError:
            raise _busy(folder.name) from None
        try:
            yield
        finally:
            lock.release()
        return
    fd = _flock(folder, time.monotonic() + timeout)
    try:
        yield
    finally:
        os.close(fd)  # closing drops the flock


def _flock(folder: Path, deadline: float) -> int:
    path = folder / FILE
    while True:
        if not (folder / "kb.sqlite").exists():
            raise FileNotFoundError(f"no knowledge base at {folder}; create it with `rag kb create` or `rag index`")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise _busy(folder.name) from None
                time.sleep(0.1)
        if _same_file(fd, path):
            return fd
        os.close(fd)  # the folder was swapped (or deleted) while this waited: the KB's path holds another file


def _busy(kb: str) -> KBLockedError:
    return KBLockedError(f"the settings of knowledge base {kb!r} are being written by another process (a "
                         "re-embedding's last pass, or another change); try again in a moment")


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False
