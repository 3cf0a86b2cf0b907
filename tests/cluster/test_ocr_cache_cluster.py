"""In cluster mode each `rag worker` keeps what OCR read in its own RAG_HOME (indexer.parse.ocr_cache), and a
document or KB deleted through the HTTP API is deleted on an API replica: a deleted scan's text stayed on the
worker's disk until the cache's size bound pushed it out or the pod was replaced (a hospital deleting a patient's
scanned form). The worker now checks its caches against the KBs' documents (api.jobs.ocr_prune): before each job on
a KB, and every RAG_OCR_CACHE_CHECK_S when idle.

Real PostgreSQL, Redis, Milvus Lite server, one replica and one worker; real Tesseract through the PATH wrapper of
tests/indexer/test_ocr_cache.py (each run logged); an English and a Chinese scan."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from cli.testing import wait_job
from cli.testing.cluster import LocalCluster, Worker
from indexer.parse.ocr_cache import CACHE_FILE
from tests.indexer.test_ocr_cache import _logged_tesseract, _page_runs
from tests.indexer.test_ocr_cache_kbs import _cached_text
from tests.ocr_scans import FEE_EN, HOURS_ZH, needs_tesseract, save_pdf, scan

pytestmark = pytest.mark.cluster


def _upload(api, kb: str, *paths: Path) -> dict:
    r = api.post(f"/v1/kbs/{kb}/documents", files=[("files", (p.name, p.read_bytes(), "application/octet-stream"))
                                                   for p in paths])
    assert r.status_code == 202, r.text
    done = wait_job(api, r.json()["job_id"], timeout=300)
    assert done["status"] == "done" and done["counts"]["failed"] == 0, done
    return done


def _until(what, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "the worker's OCR cache was not checked in time"
        time.sleep(0.5)


@needs_tesseract
@pytest.mark.slow  # a whole cluster, three scanned pages read by OCR, a worker started twice: make test-all
def test_a_scan_deleted_through_a_replica_leaves_the_workers_ocr_cache(tmp_path, monkeypatch):
    log = _logged_tesseract(tmp_path, monkeypatch)  # before the cluster starts: its worker inherits PATH
    docs = tmp_path / "docs"
    docs.mkdir()
    fees = save_pdf(docs / "fees.pdf", scan(["Card Services Fee Notice", "", FEE_EN]))
    lost = save_pdf(docs / "挂失.pdf", scan(["挂失须知", "", HOURS_ZH]))
    # no idle check in the first part: what removes the pages there is the check before the next job
    with LocalCluster(tmp_path / "cluster", replicas=1, workers=1, RAG_OCR_CACHE_CHECK_S="3600") as c:
        worker = c.workers[0]
        cache = worker.home / "bank" / CACHE_FILE
        with c.client(base=c.replicas[0].url) as api:  # the replica itself: no balancer in the way
            assert api.post("/v1/kbs", json={"name": "bank"}).status_code == 201
            assert _upload(api, "bank", fees, lost)["counts"]["indexed"] == 2
            text = _cached_text(cache)
            assert FEE_EN[:20] in text and HOURS_ZH[:10] in text, text
            ids = {d["source"]: d["doc_id"] for d in api.get("/v1/kbs/bank/documents").json()}

            assert api.delete(f"/v1/kbs/bank/documents/{ids['挂失.pdf']}").status_code == 204
            assert HOURS_ZH[:10] in _cached_text(cache)  # deleted on the replica: the worker's disk not reached
            note = docs / "note.txt"
            note.write_text("Branches open at 9 a.m.\n")
            _upload(api, "bank", note)  # the worker's next job on the KB checks its cache first
            text = _cached_text(cache)
            assert HOURS_ZH[:10] not in text and FEE_EN[:20] in text, text  # the kept document's pages stay

            runs = _page_runs(log)
            _upload(api, "bank", lost)  # the same scan again: its pages had left, so OCR reads them again
            assert _page_runs(log) > runs and HOURS_ZH[:10] in _cached_text(cache)

            worker.stop()  # the same worker, now checking every second when idle
            c.workers[0] = Worker(worker.home, {**c.env, "RAG_OCR_CACHE_CHECK_S": "1"}).start()
            ids = {d["source"]: d["doc_id"] for d in api.get("/v1/kbs/bank/documents").json()}
            assert api.delete(f"/v1/kbs/bank/documents/{ids['fees.pdf']}").status_code == 204
            _until(lambda: FEE_EN[:20] not in _cached_text(cache))
            assert HOURS_ZH[:10] in _cached_text(cache)

            assert api.delete("/v1/kbs/bank").status_code in (200, 204)
            _until(lambda: not (worker.home / "bank").exists())  # the deleted KB's cache, and its emptied folder
