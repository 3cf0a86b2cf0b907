"""In cluster mode the OCR cache is the state database's (indexer.parse.ocr_cache_pg), shared by every `rag worker`
and API replica. Before, each worker kept its own SQLite cache in its own RAG_HOME: a re-read taken by another worker
(or by the same one redeployed, with an empty RAG_HOME: exactly when a parser upgrade re-reads everything) ran
Tesseract on every scanned page again, and a scan deleted through a replica stayed on the workers' disks until their
next prune check (up to 60 s).

Real PostgreSQL, Redis, Milvus Lite server, one replica and two workers one after the other (the first stopped: the
second, with a RAG_HOME of its own, takes the reparse); real Tesseract through the PATH wrapper of
tests/indexer/test_ocr_cache.py (each run logged); an English and a Chinese scan."""
from __future__ import annotations

from pathlib import Path

import pytest

from api.state.factory import open_database
from cli.testing import wait_job
from cli.testing.cluster import LocalCluster, Worker
from indexer.parse.ocr_cache import CACHE_FILE
from tests.indexer.test_ocr_cache import _logged_tesseract, _page_runs
from tests.ocr_scans import FEE_EN, HOURS_ZH, needs_tesseract, save_pdf, scan

pytestmark = pytest.mark.cluster


def _upload(api, kb: str, *paths: Path) -> dict:
    r = api.post(f"/v1/kbs/{kb}/documents", files=[("files", (p.name, p.read_bytes(), "application/octet-stream"))
                                                   for p in paths])
    assert r.status_code == 202, r.text
    done = wait_job(api, r.json()["job_id"], timeout=300)
    assert done["status"] == "done" and done["counts"]["failed"] == 0, done
    return done


def _shared_text(db, kb: str = "bank") -> str:
    return "\n".join(r["lines"] for r in db.query("SELECT lines FROM ocr_cache_pages WHERE kb = ?", (kb,)))


@needs_tesseract
@pytest.mark.slow  # a whole cluster, two scanned pages read by OCR, two workers started: make test-all
def test_a_scan_read_by_one_worker_is_not_read_again_by_another_and_a_delete_removes_its_pages(tmp_path,
                                                                                                monkeypatch):
    log = _logged_tesseract(tmp_path, monkeypatch)  # before the cluster starts: its workers inherit PATH
    docs = tmp_path / "docs"
    docs.mkdir()
    fees = save_pdf(docs / "fees.pdf", scan(["Card Services Fee Notice", "", FEE_EN]))
    lost = save_pdf(docs / "挂失.pdf", scan(["挂失须知", "", HOURS_ZH]))
    with LocalCluster(tmp_path / "cluster", replicas=1, workers=1) as c:
        db = open_database(c.pg.url, tmp_path)
        try:
            with c.client(base=c.replicas[0].url) as api:  # the replica itself: no balancer in the way
                assert api.post("/v1/kbs", json={"name": "bank"}).status_code == 201
                assert _upload(api, "bank", fees, lost)["counts"]["indexed"] == 2
                runs = _page_runs(log)
                text = _shared_text(db)
                assert runs >= 2 and FEE_EN[:20] in text and HOURS_ZH[:10] in text, text
                first = c.workers[0]
                first.stop()
                assert not (first.home / "bank" / CACHE_FILE).exists()  # in PostgreSQL, not on the worker's disk

                second = Worker(tmp_path / "worker1", c.env).start()  # a RAG_HOME of its own: a new pod
                c.workers.append(second)
                r = api.post("/v1/kbs/bank/reparse")
                assert r.status_code == 202, r.text
                done = wait_job(api, r.json()["job_id"], timeout=300)
                assert done["status"] == "done" and done["counts"]["updated"] == 2, done
                assert _page_runs(log) == runs  # both pages from the first worker's reading
                assert not (second.home / "bank" / CACHE_FILE).exists()

                ids = {d["source"]: d["doc_id"] for d in api.get("/v1/kbs/bank/documents").json()}
                assert api.delete(f"/v1/kbs/bank/documents/{ids['挂失.pdf']}").status_code == 204
                text = _shared_text(db)  # at once: no worker's check to wait for
                assert HOURS_ZH[:10] not in text and FEE_EN[:20] in text, text

                assert api.delete("/v1/kbs/bank").status_code in (200, 204)
                assert db.one("SELECT count(*) AS n FROM ocr_cache_pages")["n"] == 0
                assert db.one("SELECT count(*) AS n FROM ocr_cache_owners")["n"] == 0
        finally:
            db.close()
