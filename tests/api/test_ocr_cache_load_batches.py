"""A large SQLite cache file going into the shared cache (indexer.parse.ocr_cache_pg.load: an import, or a worker's
own file of an earlier release adopted at its start) holds the KB's running total (ocr_cache_sizes) one batch at a
time, not for the whole load: every other worker's write to that KB takes that row first. Before, the load was one
transaction (about 7.5 s a 100,000 pages), so another worker's page waited for all of it (up to the 10 s lock
timeout, then was read by OCR with no cache). Real PostgreSQL; a file of PAGES English and Chinese pages loaded
while another worker puts pages of the same KB; the total stays the sum of the KB's entries.

No timing ratio (a loaded machine would make one flaky): the file's pages show in the table part by part, and the
other worker's puts that begin after the first part showed go through before load() returns. As one transaction,
nothing showed until the whole file had gone in, so no put could begin after it and still end first."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from indexer.parse.ocr_cache import OcrCache
from indexer.parse.ocr_cache_base import checksum, entry_text
from indexer.parse.ocr_cache_pg import BATCH, PostgresOcrCache, connect, load
from indexer.parse.ocr_text import OcrLine
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_ocr_cache_sizes import _agree, _db

PAGES = 20 * BATCH  # 20 batches: 19 commits after the first, each a gap the other worker's put goes through
LOADER, OTHER = "a" * 64, "b" * 64  # the owners (files) of the loaded pages and of the other worker's
HANG_S = 120  # only a real hang takes this long: the load is about 1.5 s here, a put some milliseconds


def _cache_file(path) -> None:
    cache = OcrCache(str(path), 0, "")
    try:
        rows = []
        for i in range(PAGES):
            key = f"{i:064x}"
            words = f"第{i}页 银行卡挂失须知" if i % 2 else f"page {i}: report a lost card at once"
            text = entry_text([OcrLine(words + " " + "x" * 200, 100, 900, 40)])
            rows.append((key, text, checksum(key, text), 0, time.time() - PAGES + i))
        cache.add_entries(rows, [(LOADER, key) for key, *_ in rows])
    finally:
        cache.close()


@dataclass
class _Seen:
    """What the other worker saw while the file loaded."""
    first_part: int = 0  # the file's pages in the table when the worker first found any
    puts: list[tuple[float, float]] = field(default_factory=list)  # each put begun after that: (began, ended)
    written: int = 0  # pages the worker put in all, each under a key of its own


def _other_worker(url: str, done: threading.Event, seen: _Seen) -> None:
    cache = PostgresOcrCache(url, "t", max_bytes=1 << 30, engine="test", owner=OTHER)
    watch = connect(url)
    try:
        while not done.is_set():
            if not seen.first_part:
                seen.first_part = watch.execute("SELECT count(*) FROM ocr_cache_owners WHERE kb = 't' AND file = %s",
                                                (LOADER,)).fetchone()[0]
            words = ("挂号费 " if seen.written % 2 else "Registration fee ") + str(seen.written)
            began = time.monotonic()
            cache.put(f"f{seen.written:063x}", [OcrLine(words, 100, 900, 40)])  # never a key of the file's
            if seen.first_part:
                seen.puts.append((began, time.monotonic()))
            seen.written += 1
    finally:
        watch.close()
        cache.close()


def test_a_large_load_lets_another_workers_writes_to_the_kb_through_between_batches(postgres, tmp_path):  # noqa: F811
    db = _db(postgres, tmp_path)
    _cache_file(tmp_path / "cache.sqlite")
    done, seen = threading.Event(), _Seen()
    worker = threading.Thread(target=_other_worker, args=(postgres.url, done, seen), daemon=True)
    worker.start()
    try:
        while not seen.written and worker.is_alive():  # the other worker writing before the load begins
            time.sleep(0.01)
        assert load(postgres.url, "t", tmp_path / "cache.sqlite", replace=False, max_bytes=1 << 30) == PAGES
        returned = time.monotonic()
    finally:
        done.set()
        worker.join(HANG_S)
    try:
        assert not worker.is_alive(), f"the other worker's put hung for {HANG_S} s"
        assert 0 < seen.first_part < PAGES, f"the file's pages showed {seen.first_part} at once, not part by part"
        through = [p for p in seen.puts if p[1] <= returned]
        assert len(through) >= 3, (f"{len(through)} of the other worker's puts begun after the file's first "
                                   f"{seen.first_part} pages showed ended before the load of {PAGES} did")
        assert db.query("SELECT count(*) AS n FROM ocr_cache_owners WHERE kb = 't' AND file = ?",
                        (OTHER,))[0]["n"] == seen.written  # each put went in: none gave up at the lock timeout
        assert db.query("SELECT count(*) AS n FROM ocr_cache_owners WHERE kb = 't' AND file = ?",
                        (LOADER,))[0]["n"] == PAGES
        assert _agree(db)["t"] > 0  # the running total exact, the other worker's puts counted too
    finally:
        db.close()
