"""The shared OCR cache's running total of each KB's bytes (ocr_cache_sizes, migration 12): a put checks the cap by
that row instead of summing every entry of its KB (a query over all of them on each page read by OCR). Real
PostgreSQL; the total is compared with the entries' sum after every kind of change, and with two workers writing
one KB at once."""
from __future__ import annotations

import threading
import time

from PIL import Image

from api.state.factory import open_database
from api.state.forget import forget_kb
from api.state.migrations import MIGRATIONS
from indexer.parse.ocr_cache_pg import PostgresOcrCache, copy_kb, drop_kb, dump, load
from indexer.parse.ocr_text import OcrLine
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)


def _db(postgres, tmp_path):  # noqa: F811
    db = open_database(postgres.url, tmp_path)
    with db.tx() as t:
        for table in ("ocr_cache_sizes", "ocr_cache_owners", "ocr_cache_pages"):
            t.execute(f"DELETE FROM {table}")
    return db


def _totals(db) -> dict[str, tuple[int, int]]:
    """Each KB's (running total, sum of its entries)."""
    kept = {r["kb"]: int(r["bytes"]) for r in db.query("SELECT kb, bytes FROM ocr_cache_sizes")}
    summed = {r["kb"]: int(r["b"]) for r in db.query("SELECT kb, SUM(bytes) AS b FROM ocr_cache_pages GROUP BY kb")}
    return {kb: (kept.get(kb, 0), summed.get(kb, 0)) for kb in kept.keys() | summed.keys()}


def _agree(db) -> dict[str, int]:
    totals = _totals(db)
    assert all(kept == summed for kept, summed in totals.values()), totals
    return {kb: kept for kb, (kept, _) in totals.items()}


def _page(shade: int, words: str) -> tuple[str, list[OcrLine]]:
    image = Image.new("L", (40, 20), shade)
    return PostgresOcrCache("", "", engine="test").key(image, 300), [OcrLine(words, 100, 900, 40)]


def test_the_running_total_is_the_sum_of_the_kbs_entries_after_every_change(postgres, tmp_path):  # noqa: F811
    db = _db(postgres, tmp_path)
    a = PostgresOcrCache(postgres.url, "t", max_bytes=4000, engine="test", owner="a" * 64)
    b = PostgresOcrCache(postgres.url, "t", max_bytes=4000, engine="test", owner="b" * 64)
    try:
        pages = [_page(shade, f"第{shade}页 挂号费 page {shade} " + "x" * 400) for shade in range(12)]
        for key, lines in pages[:3]:
            a.put(key, lines)
        a.put(pages[0][0], [OcrLine("第0页 again, shorter")])  # the same key written again: its old bytes go
        b.put(pages[1][0], pages[1][1])  # one page in two files
        assert _agree(db)["t"] > 0
        for key, lines in pages[3:]:  # past the cap: trimmed down to 90% of it
            a.put(key, lines)
        assert 0 < _agree(db)["t"] <= 4000
        a.forget("a" * 64)  # page 1, if still there, stays: file b holds it
        _agree(db)
        b.put(pages[11][0], pages[11][1])
        assert a.keep_only(["c" * 64]) >= 1 and _agree(db)["t"] == 0

        for key, lines in pages[:2]:
            a.put(key, lines)
        copy_kb(postgres.url, "t", "copy")
        assert _agree(db)["copy"] == _agree(db)["t"] > 0
        archive = tmp_path / "cache.sqlite"
        assert dump(postgres.url, "t", archive) == 2
        assert load(postgres.url, "copy", archive, replace=False, max_bytes=1 << 30) == 0  # both there already: nothing added
        assert load(postgres.url, "other", archive, replace=False, max_bytes=1 << 30) == 2
        assert load(postgres.url, "other", archive, max_bytes=1 << 30) == 2  # replaced: counted once
        assert _agree(db)["other"] == _agree(db)["t"]
        drop_kb(postgres.url, "copy")
        assert forget_kb(db, "other")["ocr_cache_pages"] == 2
        assert set(_agree(db)) == {"t"}
    finally:
        a.close()
        b.close()
        db.close()


def test_two_workers_writing_one_kb_at_once_keep_its_total_and_its_cap(postgres, tmp_path):  # noqa: F811
    """Each puts the same pages (English and Chinese) at once, so their writes of one key and their trims meet."""
    db = _db(postgres, tmp_path)
    pages = [_page(shade, ("Registration fee " if shade % 2 else "挂号费 ") + "x" * 300) for shade in range(40)]
    failed: list[BaseException] = []

    def work(owner: str) -> None:
        cache = PostgresOcrCache(postgres.url, "t", max_bytes=6000, engine="test", owner=owner)
        try:
            for key, lines in pages:
                cache.put(key, lines)
        except BaseException as exc:  # pragma: no cover (reported below)
            failed.append(exc)
        finally:
            cache.close()

    try:
        workers = [threading.Thread(target=work, args=(c * 64,)) for c in "ab"]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert not failed
        assert 0 < _agree(db)["t"] <= 6000
    finally:
        db.close()


def test_the_migration_counts_the_entries_a_database_already_holds(postgres, tmp_path):  # noqa: F811
    db = _db(postgres, tmp_path)
    cache = PostgresOcrCache(postgres.url, "t", max_bytes=10**6, engine="test")
    try:
        for shade in range(3):
            cache.put(*_page(shade, f"page {shade} 第{shade}页"))
        expected = _agree(db)
        with db.tx() as t:  # a database of schema 11, with the cache's entries
            t.execute("DROP TABLE ocr_cache_sizes")
            t.execute("UPDATE schema_version SET version = 11")
        db.close()
        db = open_database(postgres.url, tmp_path)
        assert db.one("SELECT version FROM schema_version")["version"] == len(MIGRATIONS)
        assert _agree(db) == expected
    finally:
        cache.close()
        db.close()


def test_a_put_reads_one_row_for_the_cap_not_the_kbs_entries(postgres, tmp_path):  # noqa: F811
    """100,000 small entries in one KB: a put's statements touch none of them but its own (the plan of the cap's
    check is the running total's primary key)."""
    import psycopg

    db = _db(postgres, tmp_path)
    cache = PostgresOcrCache(postgres.url, "t", max_bytes=10**9, engine="test")
    try:
        with psycopg.connect(postgres.url, autocommit=True) as pg:
            pg.execute("INSERT INTO ocr_cache_pages (kb, key, lines, checksum, bytes, used) SELECT 't', md5(i::text), "
                       "'[]', '', 100, i FROM generate_series(1, 100000) AS i")
            pg.execute("INSERT INTO ocr_cache_sizes (kb, bytes) VALUES ('t', 10000000)")
            pg.execute("SELECT pg_stat_reset()")
            pg.execute("ANALYZE ocr_cache_pages")
            cache.put(*_page(1, "挂号费 registration fee"))
            cache.close()  # its statistics reach the server as its connection ends
            for _ in range(100):
                inserted, scanned = pg.execute("SELECT n_tup_ins, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
                                               "FROM pg_stat_user_tables WHERE relname = 'ocr_cache_pages'").fetchone()
                if inserted:
                    break
                time.sleep(0.05)
        assert scanned < 10, scanned
        assert db.one("SELECT bytes FROM ocr_cache_sizes WHERE kb = 't'")["bytes"] > 10_000_000
    finally:
        cache.close()
        db.close()
