"""A large SQLite cache file going into the shared cache (indexer.parse.ocr_cache_pg.load: an import, or a worker's
own file of an earlier release adopted at its start) holds the KB's running total (ocr_cache_sizes) one batch at a
time, not for the whole load: every other worker's write to that KB takes that row first. Before, the load was one
transaction (about 7.5 s a 100,000 pages), so another worker's page waited for all of it (up to the 10 s lock
timeout, then was read by OCR with no cache). Real PostgreSQL; a file of PAGES English and Chinese pages loaded
while another worker puts pages of the same KB; the total stays the sum of the KB's entries."""
from __future__ import annotations

import threading
import time

from indexer.parse.ocr_cache import OcrCache
from indexer.parse.ocr_cache_base import checksum, entry_text
from indexer.parse.ocr_cache_pg import BATCH, PostgresOcrCache, load
from indexer.parse.ocr_text import OcrLine
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_ocr_cache_sizes import _agree, _db, _page

PAGES = 20 * BATCH  # 20 batches: a load of about 1.5 s here


def _cache_file(path) -> None:
    cache = OcrCache(str(path), 0, "")
    try:
        rows = []
        for i in range(PAGES):
            key = f"{i:064x}"
            words = f"第{i}页 银行卡挂失须知" if i % 2 else f"page {i}: report a lost card at once"
            text = entry_text([OcrLine(words + " " + "x" * 200, 100, 900, 40)])
            rows.append((key, text, checksum(key, text), 0, time.time() - PAGES + i))
        cache.add_entries(rows, [("a" * 64, key) for key, *_ in rows])
    finally:
        cache.close()


def test_a_large_load_lets_another_workers_writes_to_the_kb_through_between_batches(postgres, tmp_path):  # noqa: F811
    db = _db(postgres, tmp_path)
    _cache_file(tmp_path / "cache.sqlite")
    loading, done = threading.Event(), threading.Event()
    waits: list[float] = []  # each put of the other worker while the file loads: how long it took

    def other_worker() -> None:
        cache = PostgresOcrCache(postgres.url, "t", max_bytes=1 << 30, engine="test", owner="b" * 64)
        try:
            shade = 0
            while not done.is_set():
                key, lines = _page(shade % 256, ("挂号费 " if shade % 2 else "Registration fee ") + str(shade))
                started = time.monotonic()
                cache.put(key, lines)
                if loading.is_set():
                    waits.append(time.monotonic() - started)
                shade += 1
        finally:
            cache.close()

    worker = threading.Thread(target=other_worker)
    worker.start()
    try:
        time.sleep(0.3)  # the other worker writing
        loading.set()
        started = time.monotonic()
        assert load(postgres.url, "t", tmp_path / "cache.sqlite", replace=False, max_bytes=1 << 30) == PAGES
        took = time.monotonic() - started
    finally:
        done.set()
        worker.join()
    try:
        assert took > 0.5 and len(waits) >= 3, (took, waits)
        assert max(waits) < took / 3, (f"load {took:.2f} s", f"longest put {max(waits):.2f} s")  # it waited all
        assert db.query("SELECT count(*) AS n FROM ocr_cache_owners WHERE kb = 't' AND file = ?",
                        ("a" * 64,))[0]["n"] == PAGES
        assert _agree(db)["t"] > 0  # the running total exact, the other worker's puts counted too
    finally:
        db.close()
