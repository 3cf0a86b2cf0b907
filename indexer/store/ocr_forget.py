"""A deleted or replaced document's OCR pages taken out of its KB's OCR cache, now or at the KB's next write.

The cache can be away when a document goes (in cluster mode it is the state database: a PostgreSQL restart, a
failover), and nothing else ever takes those pages out (the shared cache is not checked against the KB's
documents), so the deleted scan's text would stay until the KB is deleted. A file whose pages could not be taken
out is noted in the KB's own meta (PENDING) and tried again at each write of the KB (its commit), by whichever
process writes it next. A file that is the KB's again by then (uploaded once more) loses its pages too: only a
cache, read by OCR again.

    forget_file(store, at, file_sha)   # a document's file left the KB
    forget_pending(store, at)          # the KB is being written: what an earlier forget left
"""
from __future__ import annotations

import json

from indexer.parse.ocr_cache_where import OcrCacheAt
from indexer.store.base import Store

PENDING = "ocr_cache_forget_pending"  # meta: JSON list of the SHA-256s whose pages are still in the cache


def forget_file(store: Store, at: OcrCacheAt, file_sha: str) -> None:
    _forget(store, at, {file_sha})


def forget_pending(store: Store, at: OcrCacheAt) -> None:
    _forget(store, at, set())


def _forget(store: Store, at: OcrCacheAt, files: set[str]) -> None:
    noted = _pending(store)
    wanted = noted | files
    if not wanted:
        return
    cache = at.cache()
    if cache is None:  # no cache (any more): nothing of theirs is in it
        left: set[str] = set()
    else:
        try:
            left = {sha for sha in sorted(wanted) if not cache.forget(sha)}
        finally:
            cache.close()
    if left != noted:
        store.set_meta(PENDING, json.dumps(sorted(left)))


def _pending(store: Store) -> set[str]:
    try:
        noted = json.loads(store.get_meta(PENDING) or "[]")
    except ValueError:
        return set()
    return {s for s in noted if isinstance(s, str)} if isinstance(noted, list) else set()
