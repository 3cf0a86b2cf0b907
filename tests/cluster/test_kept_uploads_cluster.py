"""Uploads kept in cluster mode (api.state.kept_uploads): every replica and worker has a RAG_HOME of its own, so an
upload kept by the worker that indexed it must be where every other one reads it, the state database. Uploaded
through one replica and indexed by one worker; that worker stopped and another started; the reparse asked of the
other replica plans every upload as kept and the new worker reads each again (English and Chinese)."""
from __future__ import annotations

import pytest

from api.state.factory import open_database
from cli.testing import wait_job
from cli.testing.cluster import LocalCluster, Worker

pytestmark = pytest.mark.cluster

FILES = {"cards.txt": "To report a stolen card call 1-800-555-0199 at any hour.",
         "挂失.txt": "银行卡丢失后请立即拨打客服热线 95588 挂失。"}


@pytest.mark.slow  # a whole cluster: make test-all
def test_an_upload_kept_by_one_worker_is_read_again_by_another_through_the_other_replica(tmp_path):
    with LocalCluster(tmp_path, replicas=2, workers=1) as c:
        a, b = c.replicas
        with c.client(base=a.url) as ca, c.client(base=b.url) as cb:
            assert ca.post("/v1/kbs", json={"name": "bank"}).status_code == 201
            r = ca.post("/v1/kbs/bank/documents",
                        files=[("files", (n, t.encode(), "text/plain")) for n, t in FILES.items()])
            assert r.status_code == 202, r.text
            done = wait_job(ca, r.json()["job_id"])
            assert done["status"] == "done" and done["counts"]["indexed"] == 2, done
            first = c.workers[0]
            first.stop()
            assert not (first.home / "bank" / "originals").exists()  # kept in PostgreSQL, not on its disk
            c.workers.append(Worker(tmp_path / "worker1", c.env).start())

            r = cb.post("/v1/kbs/bank/reparse")
            assert r.status_code == 202, r.text
            assert sorted(r.json()["files"]) == sorted(FILES) and r.json()["not_reread"] == [], r.json()
            done = wait_job(cb, r.json()["job_id"])
            assert done["status"] == "done" and done["counts"]["updated"] == 2, done
            assert all(f["reason"] == "" for f in done["files"]), done["files"]
            hits = cb.post("/v1/kbs/bank/search", json={"query": "银行卡丢了怎么挂失"}).json()
            assert hits and hits[0]["source"] == "挂失.txt"

            docs = {d["source"]: d["doc_id"] for d in cb.get("/v1/kbs/bank/documents").json()}
            assert cb.delete(f"/v1/kbs/bank/documents/{docs['cards.txt']}").status_code == 204
            db = open_database(c.pg.url, tmp_path)
            try:
                assert [r["name"][-4:] for r in db.query("SELECT name FROM kept_uploads WHERE kb = 'bank'")] == [".txt"]
                assert ca.delete("/v1/kbs/bank").status_code in (200, 204)
                assert db.query("SELECT name FROM kept_uploads") == []
                assert db.one("SELECT count(*) AS n FROM kept_upload_chunks")["n"] == 0
            finally:
                db.close()
