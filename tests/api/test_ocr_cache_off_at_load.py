"""ocr_cache_mb = 0 (no OCR cache) and a cap lowered since a cache file was written hold where a SQLite cache file
goes into the shared cache in the state database (indexer.parse.ocr_cache_pg.load): a worker's own file of an
earlier release adopted at its start (api.jobs.adopt_ocr_cache), and an imported archive's cache put back by an
import run again after it stopped (the KB had taken its name, its cache was still a file in its folder). Before,
0 meant "no bound" to load: every page of the file went into the table of a KB whose cache was turned off, and
the rerun import's cache went in whole, over the cap. Real PostgreSQL, a real local KB with an English and a
Chinese document, a real export archive."""
from __future__ import annotations

from api.jobs.adopt_ocr_cache import adopt_local_ocr_caches
from indexer.archive.export import export_kb
from indexer.archive.import_ import import_archive
from indexer.kbs import KBManager
from indexer.originals import Originals
from indexer.parse.ocr_cache import CACHE_FILE
from indexer.parse.ocr_cache_base import MB
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_ocr_cache_adopt_bound import PAGES, _indexed_kb, _manager, _worker_file
from tests.api.test_ocr_cache_shared import _pg


def _kb_with_cache(manager: KBManager, docs) -> int:
    """KB 't' of an English and a Chinese document, its cache file (in its folder) of 2 * PAGES pages of about 1 KB
    owned by them: about 1.5 MB. Its entries' bytes."""
    owners = _indexed_kb(manager, docs)
    return sum(_worker_file(manager.home / "t" / CACHE_FILE, owners, n * PAGES) for n in range(2))


def _pages(db, kb: str) -> tuple[int, int]:
    row = db.query("SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM ocr_cache_pages WHERE kb = ?", (kb,))[0]
    return int(row["n"]), int(row["b"])


def test_a_workers_cache_file_is_not_adopted_where_the_cache_is_off(postgres, minilm, tmp_path):  # noqa: F811
    db = _pg(postgres, tmp_path)
    try:
        assert _kb_with_cache(_manager(tmp_path / "w", None, minilm, 512), tmp_path / "docs") > MB
        assert adopt_local_ocr_caches(_manager(tmp_path / "w", postgres.url, minilm, 0)) == 0
        assert _pages(db, "t") == (0, 0)  # it was 2 * PAGES pages, 挂失须知 and all
        assert db.query("SELECT count(*) AS n FROM ocr_cache_owners WHERE kb = 't'")[0]["n"] == 0
        assert not (tmp_path / "w" / "t" / CACHE_FILE).exists()  # keeps nothing: not left on the disk either
    finally:
        db.close()


def test_an_import_run_again_puts_its_cache_in_within_the_cap_and_none_where_it_is_off(postgres, minilm,  # noqa: F811
                                                                                      tmp_path):
    db = _pg(postgres, tmp_path)
    try:
        embedded = _manager(tmp_path / "home", None, minilm, 512)
        entries = _kb_with_cache(embedded, tmp_path / "docs")
        assert entries > MB
        store = embedded.open("t")
        try:
            out = export_kb(store, "t", tmp_path / "t.zip", embedded.settings.chunk.model_dump(), progress=False,
                            originals=Originals.of(embedded.settings, "t"))
        finally:
            store.close()
        assert out.files.ocr_cache_bytes > entries
        for name in ("small", "off"):  # each stopped where a cluster's import puts the cache into the database
            assert import_archive(embedded, tmp_path / "t.zip", name, progress=False).files.ocr_cache
            assert (embedded.home / name / CACHE_FILE).is_file()

        import_archive(_manager(tmp_path / "home", postgres.url, minilm, 1), tmp_path / "t.zip", "small",
                       progress=False, rerun=True)  # the cap lowered to 1 MB meanwhile
        pages, size = _pages(db, "small")
        assert 0 < size <= MB and pages < 2 * PAGES, (pages, size)
        newest = db.query("SELECT lines FROM ocr_cache_pages WHERE kb = 'small' AND key = ?", (f"{2 * PAGES - 1:064x}",))
        assert newest and f"第{2 * PAGES - 1}页" in newest[0]["lines"]  # the page used last stays
        assert int(db.query("SELECT bytes FROM ocr_cache_sizes WHERE kb = 'small'")[0]["bytes"]) == size

        import_archive(_manager(tmp_path / "home", postgres.url, minilm, 0), tmp_path / "t.zip", "off",
                       progress=False, rerun=True)  # the cache turned off meanwhile
        assert _pages(db, "off") == (0, 0)
        assert not (embedded.home / "off" / CACHE_FILE).exists() and not (embedded.home / "small" / CACHE_FILE).exists()
    finally:
        db.close()
