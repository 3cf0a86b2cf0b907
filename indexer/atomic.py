"""Files replaced all at once.

A file is written under a temporary name beside its target (unique per process), flushed to disk,
then renamed over the target (`os.replace`, atomic on POSIX and Windows): a reader or a crash sees the
old file or the new one, never part of one, and an interrupted write leaves no file that a later run
could take for a finished one. Folders built once go through indexer.cached_build instead.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path


def temp_name(path: Path) -> Path:
    """A hidden, per-process temporary name beside `path` that keeps its suffix (np.save, torch.save and
    llama.cpp's writers see the extension they expect)."""
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


def fsync_path(path: Path) -> None:
    """Flush a file (or, on POSIX, a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_target(path: str | Path, sync: bool = True) -> Iterator[Path]:
    """A temporary path for a writer that needs a file name; renamed over `path` when the block ends
    without an error, removed when it raises. `sync`: flush the file to disk before the rename (off for
    caches that can be rebuilt, where a lost write costs only time)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        yield tmp
        if sync:
            fsync_path(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale(path: str | Path) -> int:
    """Remove the temporaries of `path` that killed writers left behind (any process's: call it only where
    its writers are serialised, e.g. under the store's write lock); how many there were."""
    path = Path(path)
    stale = list(path.parent.glob(f".{path.stem}.*.tmp{path.suffix}"))
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically; returns the path."""
    with atomic_target(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return Path(path)


def write_lines(path: str | Path, lines: Iterable[str], encoding: str = "utf-8") -> Path:
    """Write one line per item (a newline after each) to `path` atomically, streaming; returns the path."""
    with atomic_target(path) as tmp, open(tmp, "w", encoding=encoding) as fh:
        for line in lines:
            fh.write(line + "\n")
    return Path(path)
