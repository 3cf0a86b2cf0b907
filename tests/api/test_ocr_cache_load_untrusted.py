"""A SQLite OCR cache file put into the shared cache (an imported archive's, or a worker's own file of an earlier
release adopted at start: indexer.parse.ocr_cache_pg.load) is not trusted for an entry's size or last use: its
checksum covers the key and the lines only. Before, a file whose entry claimed a negative size kept the KB's cache
from ever being trimmed (the bound summed the claimed sizes), a last use to come kept an entry from ever going
first, and one value of another type (SQLite keeps what it is given) failed the whole file: the import's cache was
dropped, the adoption's file warned at every start. Real PostgreSQL; English and Chinese pages."""
from __future__ import annotations

import time
from pathlib import Path

from PIL import Image

from api.state.factory import open_database
from indexer.parse.ocr_cache import OcrCache
from indexer.parse.ocr_cache_base import checksum, entry_bytes, entry_text
from indexer.parse.ocr_cache_pg import PostgresOcrCache, load
from indexer.parse.ocr_text import OcrLine
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)

OWNER = "a" * 64


def _key(shade: int) -> str:
    return PostgresOcrCache("", "", engine="test").key(Image.new("L", (40, 20), shade), 300)


def _file(path: Path, rows: list[tuple[str, list[OcrLine], object, object]]) -> None:
    """A SQLite cache file whose entries are right (key, lines, checksum) but claim `size` and `used`."""
    cache = OcrCache(str(path), 0, "")
    try:
        pages = [(key, text, checksum(key, text), size, used)
                 for key, lines, size, used in rows for text in [entry_text(lines)]]
        cache.add_entries(pages, [(OWNER, key) for key, *_ in rows] + [(7, key) for key, *_ in rows[:1]])  # a damaged owner
    finally:
        cache.close()


def test_an_adopted_or_imported_cache_files_sizes_and_times_are_not_trusted(postgres, tmp_path):  # noqa: F811
    db = open_database(postgres.url, tmp_path)
    with db.tx() as t:
        for table in ("ocr_cache_owners", "ocr_cache_pages"):
            t.execute(f"DELETE FROM {table}")
    pages = {_key(1): [OcrLine("第一页 挂失须知", 100, 900, 40), OcrLine("x" * 800, 100, 2200, 40)],
             _key(2): [OcrLine("page two: fees", 100, 900, 40), OcrLine("y" * 800, 100, 2200, 40)],
             _key(3): [OcrLine("第三页 page three", 100, 900, 40), OcrLine("z" * 800, 100, 2200, 40)]}
    (k1, p1), (k2, p2), (k3, p3) = pages.items()
    _file(tmp_path / "cache.sqlite", [(k1, p1, -10**12, time.time() - 60),  # a size that cancels any other
                                      (k2, p2, 10, 1e15),                 # used 30 million years from now
                                      (k3, p3, "about 1 KB", "yesterday")])  # not numbers at all
    cache = PostgresOcrCache(postgres.url, "t", max_bytes=3000, engine="test", owner=OWNER)
    try:
        assert load(postgres.url, "t", tmp_path / "cache.sqlite", max_bytes=1 << 30) == 3
        rows = {r["key"]: r for r in db.query("SELECT key, lines, bytes, used FROM ocr_cache_pages WHERE kb = 't'")}
        assert {k: int(r["bytes"]) for k, r in rows.items()} == {k: entry_bytes(k, rows[k]["lines"]) for k in pages}
        assert all(r["used"] <= time.time() for r in rows.values()), rows
        assert all(cache.get(k) == lines for k, lines in pages.items())

        cache.put(_key(4), [OcrLine("第四页 page four", 100, 900, 40), OcrLine("w" * 800, 100, 2200, 40)])
        kept = db.query("SELECT coalesce(sum(bytes), 0) AS b, count(*) AS n FROM ocr_cache_pages WHERE kb = 't'")[0]
        assert int(kept["b"]) <= 3000 and kept["n"] < 4, kept  # the bound holds: the pages used longest ago went
        assert cache.get(_key(4)) is not None
    finally:
        cache.close()
        db.close()
