"""Folders built once and kept in a cache (converted models).

A folder is built into a temporary folder next to its target and renamed into place under a file
lock, so a crash leaves no half-written folder and two processes do not both build it. Used by the
encoders' CTranslate2 conversion (indexer.embed.ct2_convert) and the generator's GGUF conversion
(rag.generation.model_cache)."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path


def say_stderr(msg: str) -> None:
    """Progress of a long one-time step, on stderr (stdout may be a command's JSON)."""
    print(f"[rag] {msg}", file=sys.stderr, flush=True)


@contextmanager
def file_lock(path: Path):
    """Process-wide exclusive lock (so two processes do not both spend minutes building one folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except (ImportError, OSError):  # no flock (Windows, some network file systems): rely on the rename
            pass
        yield


def build_once(out: Path, current: Callable[[], bool], build: Callable[[Path], None]) -> bool:
    """Make the folder `out` with `build(target)` (which writes the whole folder at `target`) unless
    `current()` says it is already there, checked again once the lock is held. A stale `out` is
    replaced. True when it was built by this call."""
    if current():
        return False
    with file_lock(out.parent / f".{out.name}.lock"):
        if current():  # built by another process while we waited
            return False
        tmp = Path(tempfile.mkdtemp(prefix=out.name + ".tmp-", dir=out.parent))
        try:
            target = tmp / "m"
            build(target)
            if out.exists():  # stale: replace it
                shutil.rmtree(out, ignore_errors=True)
            os.replace(target, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return True
