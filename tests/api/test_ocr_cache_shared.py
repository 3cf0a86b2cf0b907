"""The OCR cache shared in the state database in cluster mode (indexer.parse.ocr_cache_pg, chosen by
api.jobs.ocr_cache from a PostgreSQL RAG_DATABASE_URL): before, each worker kept its own SQLite cache in its own
RAG_HOME, so a re-read taken by another worker (or by a redeployed pod) ran Tesseract on every scanned page again.

Two homes (two workers, or one pod before and after a redeploy) over one real PostgreSQL; the KB's local store copied
from the first home to the second (what a shared store such as Milvus gives every worker); real parser processes
(the connection string reaches them inside OcrOptions); real Tesseract through the PATH wrapper of
tests/indexer/test_ocr_cache.py (each run logged); an English and a Chinese scan."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from api.jobs.adopt_ocr_cache import adopt_local_ocr_caches
from api.jobs.ocr_cache import ocr_cache_settings
from api.state.factory import open_database
from api.state.forget import forget_kb
from indexer.config import IndexerSettings
from indexer.ingest import Ingestor, delete
from indexer.kbs import KBManager
from indexer.parse.ocr_cache import CACHE_FILE
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.indexer.test_ocr_cache import _logged_tesseract, _page_runs, _scans
from tests.ocr_scans import FEE_EN, FEE_ZH, HOURS_ZH, needs_tesseract


def _pg(postgres, tmp_path):  # noqa: F811
    db = open_database(postgres.url, tmp_path)  # migrated: the cache's tables are there
    with db.tx() as t:
        t.execute("DELETE FROM ocr_cache_owners")
        t.execute("DELETE FROM ocr_cache_pages")
    return db


def _tesseract_log(tmp_path: Path, monkeypatch) -> Path:
    """The PATH wrapper's log, with the parser processes started again (sandbox.shutdown): ones an earlier test
    started would run the tesseract of that test's PATH."""
    from indexer.parse import sandbox

    log = _logged_tesseract(tmp_path, monkeypatch)
    sandbox.shutdown()
    return log


def _worker(home: Path, url: str | None, minilm) -> KBManager:
    return KBManager(ocr_cache_settings(IndexerSettings(home=home, embed_model="minilm"), url),
                     encoders={"minilm": minilm})


def _index(manager: KBManager, docs: Path, **kwargs) -> dict[str, list[str]]:
    store = manager.open("t", writable=True, create=True)
    try:
        report = Ingestor(store, manager.encoder(), manager.settings).index_paths([str(docs)], progress=False,
                                                                                  **kwargs)
        texts = {Path(d.source).name: [c.text for c in store.doc_chunks(d.doc_id)] for d in store.documents()}
    finally:
        store.close()
    assert not report.failed, report.failed
    return texts


def _shared_text(db, kb: str = "t") -> str:
    return "\n".join(r["lines"] for r in db.query("SELECT lines FROM ocr_cache_pages WHERE kb = ?", (kb,)))


@needs_tesseract
@pytest.mark.slow  # three pages read by OCR in parser processes, a local PostgreSQL: ~40 s
def test_a_scan_read_by_one_worker_is_not_read_by_ocr_again_by_another(postgres, minilm, tmp_path,  # noqa: F811
                                                                       monkeypatch):
    db = _pg(postgres, tmp_path)
    try:
        log = _tesseract_log(tmp_path, monkeypatch)
        docs = _scans(tmp_path)
        first = _worker(tmp_path / "w1", postgres.url, minilm)
        assert first.settings.ocr_cache_url == postgres.url and first.settings.parse_isolation  # parser processes
        texts = _index(first, docs)
        runs = _page_runs(log)
        assert runs >= 3 and any(FEE_ZH[:8] in t for t in texts["fees.pdf"]), texts
        assert not (first.home / "t" / CACHE_FILE).exists()  # nothing on this worker's disk
        shared = _shared_text(db)
        assert FEE_EN[:20] in shared and HOURS_ZH[:10] in shared, shared

        second = _worker(tmp_path / "w2", postgres.url, minilm)  # another worker, or the pod redeployed
        shutil.copytree(first.home / "t", second.home / "t")  # the shared store, as Milvus is to every worker
        assert _index(second, docs, reparse=True) == texts
        assert _page_runs(log) == runs  # every page, English and Chinese, from the first worker's reading

        store = second.open("t", writable=True)  # a delete through another process: its pages go at once
        try:
            assert delete(store, str(docs / "挂失.pdf"))
        finally:
            store.close()
        shared = _shared_text(db)
        assert HOURS_ZH[:10] not in shared and FEE_EN[:20] in shared and FEE_ZH[:8] in shared, shared

        forget_kb(db, "t")  # the KB deleted (api.service.delete_kb, `rag kb delete`): its whole cache
        assert db.query("SELECT count(*) AS n FROM ocr_cache_pages")[0]["n"] == 0
        assert db.query("SELECT count(*) AS n FROM ocr_cache_owners")[0]["n"] == 0
    finally:
        db.close()


@needs_tesseract
@pytest.mark.slow  # three pages read by OCR once, a local PostgreSQL: ~30 s
def test_a_workers_own_ocr_cache_of_an_earlier_release_is_moved_into_the_shared_one(postgres, minilm,  # noqa: F811
                                                                                    tmp_path, monkeypatch):
    """A worker of an earlier release kept its cache in RAG_HOME/<kb>/ocr-cache.sqlite: at start its pages of the
    KB's documents join the shared cache (none is read by OCR again) and the file goes (no copy stays on a disk the
    KB's deletes never reach); a deleted document's pages are not carried."""
    db = _pg(postgres, tmp_path)
    try:
        log = _tesseract_log(tmp_path, monkeypatch)
        docs = _scans(tmp_path)
        old = _worker(tmp_path / "w", None, minilm)  # the earlier release: its own file
        texts = _index(old, docs)
        runs = _page_runs(log)
        assert (old.home / "t" / CACHE_FILE).is_file()
        # deleted through a replica, which does not reach this disk: the document goes, its pages stay in the file
        cache = old.home / "t" / CACHE_FILE
        cache.rename(tmp_path / "aside")
        store = old.open("t", writable=True)
        try:
            assert delete(store, str(docs / "挂失.pdf"))
        finally:
            store.close()
        (tmp_path / "aside").rename(cache)
        (docs / "挂失.pdf").unlink()

        new = _worker(tmp_path / "w", postgres.url, minilm)  # the same home, this release
        assert adopt_local_ocr_caches(new) == 2  # the two pages of fees.pdf
        assert not (new.home / "t" / CACHE_FILE).exists()
        shared = _shared_text(db)
        assert FEE_EN[:20] in shared and FEE_ZH[:8] in shared and HOURS_ZH[:10] not in shared, shared
        again = _index(new, docs, reparse=True)
        assert again["fees.pdf"] == texts["fees.pdf"]
        assert _page_runs(log) == runs  # from the shared cache
    finally:
        db.close()


def test_the_shared_cache_keeps_to_its_size_per_kb_and_ignores_a_damaged_entry(postgres, tmp_path):  # noqa: F811
    """The bound and the checksum of the SQLite cache (tests/indexer/test_ocr_cache.py), in PostgreSQL: a cap of 4 KB
    and entries of about 1 KB; a put past the cap trims that KB's entries down to 90% of it, used longest ago first
    (a get counts as a use), and another KB's entries are not touched; an entry whose checksum is wrong is not read."""
    from PIL import Image

    from indexer.parse.ocr_cache_pg import PostgresOcrCache
    from indexer.parse.ocr_text import OcrLine

    db = _pg(postgres, tmp_path)
    cache = PostgresOcrCache(postgres.url, "t", max_bytes=4000, engine="test", owner="a" * 64)
    other = PostgresOcrCache(postgres.url, "other", max_bytes=4000, engine="test")
    try:
        keys = [cache.key(Image.new("L", (40, 20), shade), 300) for shade in range(6)]
        other.put(keys[5], [OcrLine("另一个知识库 another KB"), OcrLine("x" * 800)])
        for i, key in enumerate(keys[:3]):
            cache.put(key, [OcrLine(f"第{i}页 page {i}", 100, 420, 50), OcrLine(""), OcrLine("x" * 800, 100, 2200, 50)])
        assert cache.get(keys[0]) == [OcrLine("第0页 page 0", 100, 420, 50), OcrLine(""),
                                      OcrLine("x" * 800, 100, 2200, 50)]  # page 0 used last: page 1 the oldest
        cache.put(keys[3], [OcrLine("page 3"), OcrLine("x" * 800)])
        cache.put(keys[4], [OcrLine("page 4"), OcrLine("x" * 800)])
        assert cache.get(keys[1]) is None and cache.get(keys[2]) is None
        assert [cache.get(k) is not None for k in (keys[0], keys[3], keys[4])] == [True, True, True]
        assert other.get(keys[5]) == [OcrLine("另一个知识库 another KB"), OcrLine("x" * 800)]
        owned = db.query("SELECT key FROM ocr_cache_owners WHERE kb = 't' AND file = ?", ("a" * 64,))
        assert sorted(r["key"] for r in owned) == sorted([keys[0], keys[3], keys[4]])  # the trimmed pages' went

        with db.tx() as t:
            t.execute("UPDATE ocr_cache_pages SET lines = ? WHERE kb = 't' AND key = ?", ('[["changed", 0, 0, 0]]',
                                                                                        keys[0]))
        assert cache.get(keys[0]) is None  # read by OCR again, and written again
        cache.put(keys[0], [OcrLine("page 0")])
        assert cache.get(keys[0]) == [OcrLine("page 0")]
    finally:
        cache.close()
        other.close()
        db.close()


def test_a_shared_cache_that_cannot_be_reached_never_fails_and_waits_once(caplog):
    """A database away (a closed port here) costs the file being read one bounded connection attempt: the cache is
    off for the rest of that file, and every call returns as without a cache."""
    import socket
    import time

    from PIL import Image

    from indexer.parse.ocr_cache_pg import PostgresOcrCache
    from indexer.parse.ocr_text import OcrLine

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    cache = PostgresOcrCache(f"postgresql://rag@127.0.0.1:{port}/rag", "t", max_bytes=4000, engine="test")
    key = cache.key(Image.new("L", (40, 20), 0), 300)
    start = time.monotonic()
    assert cache.get(key) is None
    cache.put(key, [OcrLine("page")])
    cache.forget("a" * 64)
    assert cache.keep_only(["a" * 64]) is None and cache.get(key) is None
    cache.close()
    assert time.monotonic() - start < 10
    warnings = [r for r in caplog.records if "OCR cache" in r.getMessage() and r.levelname == "WARNING"]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]


def _index_kb(manager: KBManager, kb: str, docs: Path) -> dict[str, list[str]]:
    store = manager.open(kb, writable=True)
    try:
        report = Ingestor(store, manager.encoder(store.embed_model), manager.settings).index_paths(
            [str(docs)], progress=False, reparse=True)
        texts = {Path(d.source).name: [c.text for c in store.doc_chunks(d.doc_id)] for d in store.documents()}
    finally:
        store.close()
    assert not report.failed and {r.status for r in report.results} == {"updated"}, report.results
    return texts


def _entries(db, kb: str) -> list[tuple[str, str, str]]:
    return sorted((r["key"], r["checksum"], r["file"]) for r in db.query(
        "SELECT p.key, p.checksum, o.file FROM ocr_cache_pages p JOIN ocr_cache_owners o ON o.kb = p.kb AND "
        "o.key = p.key WHERE p.kb = ?", (kb,)))


@needs_tesseract
@pytest.mark.slow  # three pages read by OCR once, a KB re-embedded twice: ~25 s
def test_a_reembedded_kb_and_its_copy_take_their_scans_from_the_shared_cache(postgres, minilm, tmp_path,  # noqa: F811
                                                                             monkeypatch):
    """`rag kb reembed --into` copies the KB's shared cache for the copy and an in-place re-embed keeps it (by name):
    neither runs Tesseract again on the next re-read."""
    db = _pg(postgres, tmp_path)
    try:
        log = _tesseract_log(tmp_path, monkeypatch)
        docs = _scans(tmp_path)
        manager = _worker(tmp_path / "w", postgres.url, minilm)
        texts = _index(manager, docs)
        runs, kept = _page_runs(log), _entries(db, "t")
        assert runs >= 3 and len({key for key, _, _ in kept}) == 3, kept

        assert manager.reembed("t", "minilm", into="t2", progress=False)["reembedded"] == 2
        assert manager.reembed("t", "minilm", progress=False)["reembedded"] == 2
        assert _entries(db, "t2") == kept and _entries(db, "t") == kept
        assert not (manager.home / "t2" / CACHE_FILE).exists() and not (manager.home / "t" / CACHE_FILE).exists()
        assert _index_kb(manager, "t2", docs) == texts and _index_kb(manager, "t", docs) == texts
        assert _page_runs(log) == runs
    finally:
        db.close()


@needs_tesseract
@pytest.mark.slow  # three pages read by OCR once, a KB exported and imported: ~25 s
def test_an_archive_carries_the_shared_cache_and_an_import_puts_it_back_into_the_database(postgres, minilm,  # noqa: F811
                                                                                          tmp_path, monkeypatch):
    """`rag kb export` (and the HTTP export) carries the KB's shared cache as a SQLite cache file, as from a KB
    folder, and an import puts it into the database for the imported KB, not into its folder: its next re-read runs
    no Tesseract. Before, a cluster's export carried no cache (nothing in the exporting process's folder)."""
    import zipfile

    from indexer.archive import format as F
    from indexer.archive.export import export_kb
    from indexer.archive.import_ import import_archive
    from indexer.originals import Originals

    db = _pg(postgres, tmp_path)
    try:
        log = _tesseract_log(tmp_path, monkeypatch)
        docs = _scans(tmp_path)
        manager = _worker(tmp_path / "w", postgres.url, minilm)
        texts = _index(manager, docs)
        runs, kept = _page_runs(log), _entries(db, "t")
        assert runs >= 3 and kept

        store = manager.open("t")
        try:
            out = export_kb(store, "t", tmp_path / "t.zip", manager.settings.chunk.model_dump(), progress=False,
                            originals=Originals.of(manager.settings, "t"))
        finally:
            store.close()
        assert out.files.ocr_cache_bytes > 0
        with zipfile.ZipFile(tmp_path / "t.zip") as z:
            assert F.OCR_CACHE in z.namelist()

        rep = import_archive(manager, tmp_path / "t.zip", "copy", progress=False)
        assert rep.files.ocr_cache and _entries(db, "copy") == kept
        assert not (manager.home / "copy" / CACHE_FILE).exists()  # in the database, not on this process's disk
        assert _index_kb(manager, "copy", docs) == texts and _page_runs(log) == runs
    finally:
        db.close()


def test_a_statement_that_fails_skips_that_page_only(postgres, tmp_path):  # noqa: F811
    """A statement that fails while the database is there (here: a database not yet migrated; in service a lock or
    statement timeout, a deadlock between two trims) skips the cache for that page only: the next page uses it."""
    import psycopg
    from PIL import Image

    from indexer.parse.ocr_cache_pg import PostgresOcrCache
    from indexer.parse.ocr_text import OcrLine

    with psycopg.connect(postgres.url, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS fresh")
        admin.execute("CREATE DATABASE fresh")
    url = postgres.url.rsplit("/", 1)[0] + "/fresh"
    cache = PostgresOcrCache(url, "t", max_bytes=4000, engine="test")
    try:
        key = cache.key(Image.new("L", (40, 20), 0), 300)
        cache.put(key, [OcrLine("第一页 page 1")])  # no tables: skipped, and nothing raised
        assert cache.get(key) is None
        open_database(url, tmp_path).close()  # migrated meanwhile
        cache.put(key, [OcrLine("第一页 page 1")])
        assert cache.get(key) == [OcrLine("第一页 page 1")]
    finally:
        cache.close()
