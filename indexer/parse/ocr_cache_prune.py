"""The pages of a KB's OCR cache (indexer.parse.ocr_cache) whose file no document of the KB holds any more, dropped.

Where a document is deleted on the machine that keeps the cache, the store removes its pages at once (`forget`).
Where workers keep caches on their own disks (indexing from Redis with no PostgreSQL state database) it is not: a
document is deleted on an API replica, so a worker compares its cache with the KB's documents (api.jobs.ocr_prune)
and calls this; a worker moving an earlier release's cache into the shared one drops the pages of deleted documents
first (api.jobs.adopt_ocr_cache).

    keep_only(path, files) -> int | None   # pages owned by none of `files` (SHA-256s) go; how many (None: failed)

A page with no owner at all (none recorded) goes too: no document can be shown to hold it.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from indexer.parse.ocr_cache import OcrCache


def keep_only(path: Path, files: Iterable[str]) -> int | None:
    """Keep in the cache file `path` only the pages found in one of `files` (the SHA-256s of the files of the KB's
    documents); how many pages went. Never raises: a cache that cannot be changed is logged (None)."""
    if not path.is_file():
        return 0
    cache = OcrCache(str(path), 0, "")
    try:
        return cache.keep_only(files)
    finally:
        cache.close()
