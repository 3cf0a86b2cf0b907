"""OCR caches an earlier release kept on a process's own disk in cluster mode, moved into the state database at start.

Before the OCR cache was shared in PostgreSQL (indexer.parse.ocr_cache_pg), each `rag worker` (or replica indexing
from Redis) kept what it read in RAG_HOME/<kb>/ocr-cache.sqlite. A process of this release whose OCR cache is the
state database hands each such file's pages to it, those of the KB's current documents only (a page of a document
deleted meanwhile is not carried), and removes the file: its pages are not read by OCR again, and nothing stays on
a disk that the KB's deletes never reach. Chosen over keeping the periodic prune of those files (api.jobs.ocr_prune,
which now runs only where the cache is not shared): the pages are kept rather than read again, and no worker lists
each KB's documents every minute. A file that cannot be moved now (the store or the database away) stays for the
next start."""
from __future__ import annotations

import logging

from indexer.kbs import KBManager, KBNotFound, check_name
from indexer.parse.ocr_cache import CACHE_FILE, remove_files
from indexer.parse.ocr_cache_base import MB
from indexer.parse.ocr_cache_pg import load
from indexer.parse.ocr_cache_prune import keep_only
from indexer.reread import file_sha

log = logging.getLogger("api.jobs")


def adopt_local_ocr_caches(manager: KBManager) -> int:
    """Move this home's OCR cache files into the shared cache (only where the settings name one); how many pages."""
    url = manager.settings.ocr_cache_url
    if not url or not manager.home.is_dir():
        return 0
    moved = 0
    for path in sorted(manager.home.glob(f"*/{CACHE_FILE}")):
        kb = path.parent.name
        try:
            check_name(kb)
        except ValueError:
            continue  # '.worker', a shadow folder: no KB's
        try:
            moved += _adopt(manager, kb)
        except Exception:  # never keeps the process from starting: the file stays for the next start
            log.warning("%s: could not move the OCR cache %s into the state database", kb, path, exc_info=True)
    if moved:
        log.info("moved %d OCR cache pages from %s into the state database", moved, manager.home)
    return moved


def _adopt(manager: KBManager, kb: str) -> int:
    path = manager.home / kb / CACHE_FILE
    try:
        store = manager.open(kb)
    except KBNotFound:  # deleted through another process: its pages go
        remove_files(str(path))
        return 0
    try:
        files = {file_sha(d.content_hash) for d in store.documents()}
    finally:
        store.close()
    if keep_only(path, files) is None:
        raise RuntimeError(f"the OCR cache {path} could not be read")
    moved = load(manager.settings.ocr_cache_url, kb, path, replace=False,  # beside other workers' files: bounded
                 max_bytes=manager.settings.ocr_cache_mb * MB)
    remove_files(str(path))
    return moved
