"""A cluster worker's OCR caches kept to the KBs' documents: a scan deleted on an API replica leaves the worker's
disk too (docs/ocr.md, "In cluster mode"). Only where the state database is not PostgreSQL (a worker or replica
indexing from Redis with a SQLite state database): with PostgreSQL the cache is shared in it (api.jobs.ocr_cache),
a delete removes its pages at once, and caches an earlier release left on a disk are moved into it at start
(api.jobs.adopt_ocr_cache).

Each `rag worker` keeps what OCR read in its own RAG_HOME/<kb>/ocr-cache.sqlite (indexer.parse.ocr_cache), and a
document or KB deleted through the HTTP API is deleted on a replica, which cannot reach the workers' disks. So the
worker's job loop (api.jobs.streams) calls

    pruner.before_job(kb)   # before each job on KB kb: its cache keeps only its documents' files' pages
    pruner.idle()           # between jobs, at most every every_s (RAG_OCR_CACHE_CHECK_S, IDLE_EVERY_S): every
                            # KB cache on this disk; a deleted KB's (and its folder, when nothing else is in it) goes

Both run on the job loop's thread, never while this worker indexes (its parsers write the cache then). A check
lists the KB's documents from the store (Milvus) and deletes the pages of no listed file's SHA-256
(indexer.parse.ocr_cache_prune); only KB folders that hold a cache are checked. Never raises: a store away
(a Milvus restart) leaves the caches for the next check.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from indexer.kbs import KBManager, KBNotFound, check_name
from indexer.parse.ocr_cache import CACHE_FILE
from indexer.parse.ocr_cache_files import remove
from indexer.parse.ocr_cache_prune import keep_only
from indexer.reread import file_sha

log = logging.getLogger("api.jobs")

# A deleted scan's text leaves an idle worker's disk within this many seconds. A check lists each cached KB's
# documents from Milvus: 0.2-0.4 s for 3,000 documents (under 0.2 s of it the worker's CPU), about 1 s for 10,000
# (docs/ocr.md). Once a minute is under 1% of a core for a KB of thousands of scans, and a minute is prompt for a
# delete; a busy worker also checks before each job, so it never waits for an idle minute.
IDLE_EVERY_S = 60.0


class OcrCachePruner:
    def __init__(self, manager: KBManager, every_s: float = IDLE_EVERY_S,
                 clock: Callable[[], float] = time.monotonic):
        self.manager, self.every_s, self.clock = manager, every_s, clock
        self._last = clock()  # the worker just started: its first idle check comes after every_s

    def before_job(self, kb: str) -> None:
        self._check(kb)

    def idle(self) -> None:
        if self.clock() - self._last < self.every_s:
            return
        for kb in self.cached_kbs():
            self._check(kb)
        self._last = self.clock()

    def cached_kbs(self) -> list[str]:
        """The KBs with an OCR cache on this disk (folders of valid KB names; '.worker', '.uploads' are not)."""
        home = self.manager.home
        if not home.is_dir():
            return []
        return sorted(p.name for p in home.iterdir() if _valid(p.name) and (p / CACHE_FILE).is_file())

    def _check(self, kb: str) -> None:
        folder = self.manager.home / kb
        if not self.manager.uri or not _valid(kb) or not (folder / CACHE_FILE).is_file():
            return  # a local KB's store drops a deleted document's pages itself (same disk)
        try:
            try:
                store = self.manager.open(kb)
            except KBNotFound:
                remove(folder)
                _remove_if_empty(folder)
                log.info("OCR cache of the deleted knowledge base %r removed from this worker", kb,
                         extra={"event": "ocr_cache_pruned"})
                return
            try:
                files = {file_sha(d.content_hash) for d in store.documents()}
            finally:
                store.close()
        except Exception as exc:  # Milvus away: the next check tries again
            log.warning("OCR cache of %r not checked against its documents (%s: %s); tried again later", kb,
                        type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "")
            return
        gone = keep_only(folder / CACHE_FILE, files)
        if gone:
            log.info("OCR cache of %r: %d page(s) of deleted documents removed from this worker", kb, gone,
                     extra={"event": "ocr_cache_pruned"})


def _valid(name: str) -> bool:
    try:
        check_name(name)
    except ValueError:
        return False
    return True


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # something else is in it (or it is gone): left as it is
        pass
