"""A KB deleted while a worker reads its scan by OCR (cluster mode: the OCR cache is the state database's, shared).

The KB's delete (api.service.delete_kb: forget_kb, then the store) takes its cached pages out at once, but the
parser process goes on reading the scan and put each page it read after that back under the KB's name; the
worker's write then fails (the store fences off a deleted KB) and those pages stayed in the database, text of a
deleted KB that no delete, prune or document of the name ever takes out again. Now an index run fenced off that
way forgets the pages of the files it read. Real PostgreSQL, real parser processes, real Tesseract; a scan of an
English and a Chinese page."""
from __future__ import annotations

import threading
import time

import pytest

from api.state.forget import forget_kb
from indexer.ingest import Ingestor
from indexer.store.base import KBGoneError
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_ocr_cache_shared import _pg, _tesseract_log, _worker
from tests.indexer.test_ocr_cache import _fee_scan
from tests.ocr_scans import needs_tesseract


@needs_tesseract
@pytest.mark.slow  # two pages read by OCR in a parser process, a local PostgreSQL: ~30 s
def test_a_kb_deleted_while_its_scan_is_read_keeps_none_of_its_pages(postgres, minilm, tmp_path,  # noqa: F811
                                                                     monkeypatch):
    db = _pg(postgres, tmp_path)
    try:
        _tesseract_log(tmp_path, monkeypatch)
        docs = _fee_scan(tmp_path)
        manager = _worker(tmp_path / "w", postgres.url, minilm)
        store = manager.open("t", writable=True, create=True)
        failed: list[BaseException] = []

        def index() -> None:
            try:
                Ingestor(store, manager.encoder(), manager.settings).index_paths([str(docs)], progress=False)
            except BaseException as e:  # noqa: BLE001  (the fenced-off write, looked at below)
                failed.append(e)

        worker = threading.Thread(target=index)
        worker.start()
        try:
            deadline = time.monotonic() + 120
            while not db.query("SELECT key FROM ocr_cache_pages WHERE kb = 't'"):  # the first page is read
                assert worker.is_alive() and time.monotonic() < deadline, failed
                time.sleep(0.1)
            forget_kb(db, "t")  # the KB's delete through a replica (api.service.delete_kb)
            manager.delete("t")
        finally:
            worker.join(180)
            store.close()
        assert not worker.is_alive()
        assert len(failed) == 1 and isinstance(failed[0], KBGoneError), failed  # the write was fenced off
        left = db.query("SELECT lines FROM ocr_cache_pages WHERE kb = 't'")
        assert left == [], [r["lines"][:80] for r in left]  # neither page's text stayed
        assert db.query("SELECT key FROM ocr_cache_owners WHERE kb = 't'") == []
    finally:
        db.close()
