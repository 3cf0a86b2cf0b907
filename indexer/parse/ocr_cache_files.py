"""The KB's OCR result cache (indexer.parse.ocr_cache) as the KB's folders change: a KB rebuilt by `rag kb reembed`
keeps it (no cache key depends on the embedder), so that its next re-read does not run Tesseract on every scanned
page again; a Milvus KB's, in its folder under RAG_HOME, goes when the KB is deleted.

    move(old_kb, new_kb)    # the re-embedded folder about to take the KB's place takes its cache
    copy(src_kb, dst_kb)    # a copy of the KB under another name (`rag kb reembed --into`) gets a copy
    remove(kb)              # the KB was deleted and its folder is not removed with it (Milvus)
    copy_shared(url, a, b)  # cluster mode: KB b gets a copy of KB a's cache in the state database
"""
from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from indexer.parse.ocr_cache import CACHE_FILE, WAIT_S, remove_files

log = logging.getLogger(__name__)


def move(old_kb: Path, new_kb: Path) -> None:
    """The cache of KB folder `old_kb` goes to `new_kb`, the rebuilt copy about to take its place (`rag kb reembed`):
    renamed, the database file first, then its WAL (a crash in between leaves the file as of its last checkpoint,
    a consistent database). Call with no cache connection open: under the KB's writer lock (only a writer's
    parsers open it). A cache `new_kb` had is replaced. Never raises: a cache that cannot be moved is logged,
    and the KB's scans are then read by OCR again on their next re-read."""
    src, dst = old_kb / CACHE_FILE, new_kb / CACHE_FILE
    if not src.is_file() or not new_kb.is_dir():
        return
    try:
        remove_files(str(dst))
        os.replace(src, dst)
        if os.path.exists(f"{src}-wal"):
            os.replace(f"{src}-wal", f"{dst}-wal")
        _unlink(f"{src}-shm")  # rebuilt from the WAL by the next connection
    except OSError as exc:
        log.warning("OCR cache %s could not be moved to the re-embedded KB (%s): its scans are read by OCR again on "
                    "their next re-read", src, exc)


def copy(src_kb: Path, dst_kb: Path) -> None:
    """A copy of KB folder `src_kb`'s cache for `dst_kb` (a copy of the KB under another name, `rag kb reembed
    --into`), made by SQLite's backup (consistent while the source is being written) into a temporary file renamed
    into place: a crash leaves no half copy. A cache `dst_kb` had is replaced. Never raises: a cache that cannot
    be copied is logged, and the copy's scans are then read by OCR again on their next re-read."""
    src, dst = src_kb / CACHE_FILE, dst_kb / CACHE_FILE
    if not src.is_file():
        return
    tmp = dst_kb / f".{CACHE_FILE}.copying"
    try:
        dst_kb.mkdir(parents=True, exist_ok=True)  # a Milvus KB's folder may not be there yet
        remove_files(str(tmp))
        backup(src, tmp)
        remove_files(str(dst))
        os.replace(tmp, dst)
    except (OSError, sqlite3.Error) as exc:
        remove_files(str(tmp))
        log.warning("OCR cache %s could not be copied to %s (%s): the copy's scans are read by OCR again on their "
                    "next re-read", src, dst_kb, exc)


def copy_shared(url: str, src: str, dst: str) -> None:
    """KB `dst` gets a copy of KB `src`'s cache in the state database at `url` (cluster mode: `rag kb reembed
    --into`), in one transaction. Never raises: a cache that cannot be copied is logged."""
    import psycopg

    from indexer.parse.ocr_cache_pg import copy_kb

    try:
        copy_kb(url, src, dst)
    except (psycopg.Error, OSError) as exc:
        log.warning("OCR cache of %r could not be copied to %r in the state database (%s): the copy's scans are read "
                    "by OCR again on their next re-read", src, dst, exc)


def backup(src: Path, dst: Path, read_only: bool = False) -> None:
    """A consistent copy of cache `src` (written meanwhile) at `dst`, by SQLite's backup; `read_only`: `src` is
    opened read-only (an export, which must not write the KB). Raises sqlite3.Error."""
    source = sqlite3.connect(f"file:{src}?mode=ro" if read_only else src, uri=read_only, timeout=WAIT_S)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def remove(kb: Path) -> None:
    """Remove KB folder `kb`'s cache (the KB is deleted where its folder is not removed with it: Milvus)."""
    remove_files(str(kb / CACHE_FILE))


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
