"""A worker's OCR cache of an earlier release, moved into the state database at start (api.jobs.adopt_ocr_cache,
indexer.parse.ocr_cache_pg.load), goes in batches: one round trip a thousand pages, not one a page. A worker's
cache is up to ocr_cache_mb (512 MB): some 100,000 pages, so with the database a millisecond away the worker (or
replica, before it is ready) spent minutes starting, holding the KB's cache row locked all along (every other
worker's page of that KB waited 10 s for it, then was read by OCR). Real PostgreSQL behind a TCP relay that delays
each packet by LATENCY_S, as a database on another host is; English and Chinese pages."""
from __future__ import annotations

import time
from pathlib import Path

from api.state.factory import open_database
from indexer.parse.ocr_cache import OcrCache
from indexer.parse.ocr_cache_base import checksum, entry_text
from indexer.parse.ocr_cache_pg import PostgresOcrCache, load
from indexer.parse.ocr_text import OcrLine
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.tcp_relay import Relay

LATENCY_S = 0.003
PAGES = 3000  # one round trip each took at least PAGES * LATENCY_S = 9 s


def _cache_file(path: Path) -> dict[str, list[OcrLine]]:
    pages = {f"{i:064x}": [OcrLine(f"第{i}页 银行卡挂失须知 page {i}: report a lost card", 100, 900, 40)]
             for i in range(PAGES)}
    cache = OcrCache(str(path), 0, "")
    try:
        rows = [(key, text, checksum(key, text), 0, time.time()) for key, lines in pages.items()
                for text in [entry_text(lines)]]
        cache.add_entries(rows, [("a" * 64, key) for key in pages])
    finally:
        cache.close()
    return pages


def test_a_large_cache_goes_into_a_distant_database_in_batches(postgres, tmp_path):  # noqa: F811
    db = open_database(postgres.url, tmp_path)
    relay = Relay(postgres.port, LATENCY_S)
    try:
        with db.tx() as t:
            for table in ("ocr_cache_owners", "ocr_cache_pages"):
                t.execute(f"DELETE FROM {table}")
        pages = _cache_file(tmp_path / "ocr-cache.sqlite")
        far = relay.url(postgres.url, postgres.port)
        answered = relay.answers
        assert load(far, "t", tmp_path / "ocr-cache.sqlite", replace=False, max_bytes=1 << 30) == PAGES
        round_trips = relay.answers - answered  # counted, not timed: a loaded machine makes any time flaky
        assert round_trips < PAGES / 10, round_trips  # a round trip a page: PAGES at least
        assert db.query("SELECT count(*) AS n FROM ocr_cache_owners WHERE kb = 't'")[0]["n"] == PAGES
        cache = PostgresOcrCache(postgres.url, "t", 1 << 30, "")
        try:
            assert [cache.get(k) for k in (f"{0:064x}", f"{PAGES - 1:064x}")] == [pages[f"{0:064x}"],
                                                                                pages[f"{PAGES - 1:064x}"]]
        finally:
            cache.close()
    finally:
        relay.close()
        db.close()
