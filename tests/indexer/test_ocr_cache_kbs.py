"""The KB's OCR result cache (indexer.parse.ocr_cache) where a KB is not one folder for good: a KB in Milvus keeps
it in its folder under RAG_HOME, and `rag kb reembed` carries it to the re-embedded KB (in place, or a copy under
another name), so that a re-read afterwards runs Tesseract on no page again.

Real tesseract through the PATH wrapper of test_ocr_cache (each run logged), scans drawn here (English and
Chinese pages), the real local store, Milvus Lite, MiniLM and e5+MiniLM."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from indexer.ingest import Ingestor, delete
from indexer.parse.ocr_cache import CACHE_FILE
from tests.indexer.test_ocr_cache import _logged_tesseract, _page_runs, _scans
from tests.ocr_scans import FEE_EN, FEE_ZH, HOURS_ZH, needs_tesseract, save_pdf, scan


def _index(manager, kb: str, docs: Path, **kwargs) -> tuple[list[str], dict[str, list[str]]]:
    """Index `docs` into `kb` (created with the manager's model when new): each file's status, and its chunks."""
    store = manager.open(kb, writable=True, create=True)
    try:
        report = Ingestor(store, manager.encoder(store.embed_model), manager.settings).index_paths(
            [str(docs)], progress=False, **kwargs)
        texts = {Path(d.source).name: [c.text for c in store.doc_chunks(d.doc_id)] for d in store.documents()}
    finally:
        store.close()
    assert not report.failed, report.failed
    return sorted(r.status for r in report.results), texts


def _cached_text(cache: Path) -> str:
    db = sqlite3.connect(cache)
    try:
        return "\n".join(lines for (lines,) in db.execute("SELECT lines FROM pages"))
    finally:
        db.close()


@needs_tesseract
@pytest.mark.slow  # three pages read by OCR once, the KB re-embedded twice: ~4 s, and e5+MiniLM loaded once a session
def test_a_reembedded_kb_and_its_copy_take_their_scans_from_the_ocr_cache(manager, ens, tmp_path, monkeypatch):
    """`rag kb reembed` builds the KB in a new folder that takes the old one's place: the cache was left in the old
    folder and removed with it, and the next re-read ran Tesseract on every scanned page again."""
    docs = _scans(tmp_path)
    log = _logged_tesseract(tmp_path, monkeypatch)
    manager.settings.parse_isolation = False  # the parser runs here, and sees the wrapper on PATH
    manager._encoders["e5+minilm"] = ens  # the session's, loaded once
    _, texts = _index(manager, "t", docs)
    runs = _page_runs(log)
    assert runs >= 3 and any(FEE_ZH[:8] in t for t in texts["fees.pdf"]), texts

    assert manager.reembed("t", "e5+minilm", progress=False)["reembedded"] == 2
    cache = manager.home / "t" / CACHE_FILE
    assert cache.is_file() and not (manager.home / ".t.replaced").exists()
    statuses, again = _index(manager, "t", docs, reparse=True)
    assert statuses == ["updated", "updated"] and again == texts
    assert _page_runs(log) == runs  # every page from the cache, English and Chinese

    assert manager.reembed("t", "minilm", into="copy", progress=False)["reembedded"] == 2
    assert cache.is_file()  # the KB keeps its own
    statuses, copied = _index(manager, "copy", docs, reparse=True)
    assert statuses == ["updated", "updated"] and copied == texts
    assert _page_runs(log) == runs

    store = manager.open("copy", writable=True)  # the copy's cache is its own: a scan deleted there stays here
    try:
        assert delete(store, str(docs / "挂失.pdf"))
    finally:
        store.close()
    assert HOURS_ZH[:10] not in _cached_text(manager.home / "copy" / CACHE_FILE)
    assert HOURS_ZH[:10] in _cached_text(cache) and FEE_ZH[:10] in _cached_text(cache)


def _release(db: Path) -> None:
    """Stop the in-process Milvus Lite server of `db` (pymilvus starts one per .db path)."""
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(str(db))


@pytest.mark.slow  # ~17 s: three pages read by OCR once, Milvus Lite, the KB re-embedded twice
@needs_tesseract
def test_a_milvus_kb_keeps_its_ocr_cache_under_home_through_reembedding_until_it_is_deleted(tmp_path, minilm, ens,
                                                                                            monkeypatch):
    """A KB in Milvus has no folder of its own for its index: it had no OCR cache at all, and every re-read ran
    Tesseract on every scanned page again. Its cache is in RAG_HOME/NAME; a deleted or replaced scan's pages leave
    it, re-embedding keeps it, a copy gets one, and `rag kb delete` removes it (and the folder, then empty)."""
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager

    db = tmp_path / "m.db"
    manager = KBManager(IndexerSettings(home=tmp_path / "home", store_uri=str(db), embed_model="minilm",
                                        parse_isolation=False), encoders={"minilm": minilm, "e5+minilm": ens})
    docs = _scans(tmp_path)
    log = _logged_tesseract(tmp_path, monkeypatch)
    try:
        _, texts = _index(manager, "t", docs)
        runs = _page_runs(log)
        cache = manager.home / "t" / CACHE_FILE
        assert runs >= 3 and cache.is_file()
        assert any("$29" in t for t in texts["fees.pdf"]) and any(HOURS_ZH[:8] in t for t in texts["挂失.pdf"]), texts
        statuses, again = _index(manager, "t", docs, reparse=True)
        assert statuses == ["updated", "updated"] and again == texts and _page_runs(log) == runs

        store = manager.open("t", writable=True)
        try:
            assert delete(store, str(docs / "挂失.pdf"))
        finally:
            store.close()
        (docs / "挂失.pdf").unlink()
        assert HOURS_ZH[:10] not in _cached_text(cache) and FEE_ZH[:10] in _cached_text(cache)
        save_pdf(docs / "fees.pdf", scan(["Card Services Fee Notice", "", FEE_EN]))  # the Chinese page taken out
        assert _index(manager, "t", docs)[0] == ["updated"] and _page_runs(log) == runs
        assert FEE_ZH[:10] not in _cached_text(cache) and "$29" in _cached_text(cache)

        assert manager.reembed("t", "e5+minilm", progress=False)["reembedded"] == 1
        assert _index(manager, "t", docs, reparse=True)[0] == ["updated"] and _page_runs(log) == runs
        assert manager.reembed("t", "minilm", into="copy", progress=False)["reembedded"] == 1
        assert (manager.home / "copy" / CACHE_FILE).is_file()
        assert _index(manager, "copy", docs, reparse=True)[0] == ["updated"] and _page_runs(log) == runs

        manager.delete("t")
        assert not (manager.home / "t").exists()  # the cache, its WAL and the folder
        assert (manager.home / "copy" / CACHE_FILE).is_file()  # the copy's stays with the copy
        manager.delete("copy")
        assert not (manager.home / "copy").exists()
    finally:
        _release(db)
