"""A document deleted while the state database that holds the shared OCR cache is away (a PostgreSQL restart, a
failover): the store deletes it, but its pages could not be taken out of the cache. They stayed for good: in
cluster mode nothing checks the shared cache against the KB's documents, so the deleted scan's text stayed in the
database until the whole KB was deleted. Now the store notes the file and takes its pages out at its next write.
Real PostgreSQL (stopped and started), a real parser process, Tesseract; an English and a Chinese page."""
from __future__ import annotations

import pytest

from indexer.ingest import delete
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_ocr_cache_shared import _index, _pg, _shared_text, _tesseract_log, _worker
from tests.indexer.test_ocr_cache import _fee_scan
from tests.ocr_scans import FEE_EN, FEE_ZH, needs_tesseract


@needs_tesseract
@pytest.mark.slow  # two pages read by OCR in a parser process, PostgreSQL stopped and started: ~30 s
def test_a_scan_deleted_while_the_database_is_away_leaves_the_cache_at_the_next_write(postgres, minilm,  # noqa: F811
                                                                                       tmp_path, monkeypatch):
    db = _pg(postgres, tmp_path)
    try:
        _tesseract_log(tmp_path, monkeypatch)
        docs = _fee_scan(tmp_path)
        manager = _worker(tmp_path / "w", postgres.url, minilm)
        _index(manager, docs)
        assert FEE_ZH[:8] in _shared_text(db)

        db.close()
        postgres.stop()  # the database away while the scan is deleted
        try:
            store = manager.open("t", writable=True)
            try:
                assert delete(store, str(docs / "fees.pdf"))
            finally:
                store.close()
        finally:
            postgres.start()
        db = _reopen(postgres, tmp_path)
        assert FEE_ZH[:8] in _shared_text(db)  # still there: the delete could not reach it

        (docs / "fees.pdf").unlink()
        (docs / "notice.txt").write_text("营业时间：工作日九点至五点。Opening hours: 9 to 5 on weekdays.\n",
                                         encoding="utf-8")
        _index(manager, docs)  # the KB's next write
        shared = _shared_text(db)
        assert FEE_ZH[:8] not in shared and FEE_EN[:20] not in shared, shared
        assert db.query("SELECT count(*) AS n FROM ocr_cache_owners WHERE kb = 't'")[0]["n"] == 0
    finally:
        db.close()


def _reopen(postgres, tmp_path):  # noqa: F811
    from api.state.factory import open_database

    return open_database(postgres.url, tmp_path)  # the rows as they are (not cleared, as _pg does)
