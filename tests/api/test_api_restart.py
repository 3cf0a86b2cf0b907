"""Durability of the service: kill -9 during an upload job, restart, the job completes; KBs, keys,
documents and jobs survive; the KB is consistent (its documents are exactly the files indexed)."""
from __future__ import annotations

import time

import pytest

from cli.testing import Server, wait_job

TOPICS = ["savings accounts", "credit limits", "mortgage rates", "branch hours", "card fees", "online banking",
          "foreign exchange", "cheque deposits", "overdraft protection", "student loans"]


def _files(n: int) -> list[tuple[str, tuple[str, bytes]]]:
    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        body = "\n\n".join(f"Section {j} of note {i} about {topic}. Customers asking about {topic} in region {i} "
                           f"should follow procedure {i}-{j}, which was updated in year {2000 + j}." for j in range(12))
        out.append(("files", (f"note_{i:03d}.md", f"# Note {i}: {topic}\n\n{body}\n".encode())))
    return out


@pytest.mark.slow  # ~21 s: make test-all runs it
def test_kill_during_upload_then_restart_completes_the_job_and_keeps_everything(tmp_path):
    home = tmp_path / "home"
    srv = Server(home, RAG_INGEST_BATCH_CHUNKS="16", RAG_MAX_FILES="100").start()
    try:
        admin = srv.client()
        assert admin.post("/v1/kbs", json={"name": "bank"}).status_code == 201
        key = admin.post("/v1/keys", json={"kb": "bank", "scope": "write"}).json()["key"]
        c = srv.client(key)
        first = wait_job(c, c.post("/v1/kbs/bank/documents", files=_files(1)).json()["job_id"])
        assert first["status"] == "done" and first["files"][0]["status"] == "indexed"
        job_id = c.post("/v1/kbs/bank/documents", files=_files(60)[1:]).json()["job_id"]
        deadline = time.monotonic() + 60
        while c.get(f"/v1/jobs/{job_id}").json()["status"] != "running":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.1)
        # queries are served while the worker indexes (the writer lock never blocks readers)
        hits = c.post("/v1/kbs/bank/search", json={"query": "procedure 0-3 region 0", "k": 3})
        assert hits.status_code == 200 and hits.json()[0]["source"] == "note_000.md"
        assert c.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
        srv.kill()  # kill -9 in the middle of indexing
    finally:
        srv.kill()

    srv = Server(home, port=srv.port, RAG_MAX_FILES="100").start()
    try:
        c = srv.client(key)  # the key survived the restart
        job = wait_job(c, job_id)
        assert job["status"] == "done", job
        assert job["attempts"] == 2
        statuses = {f["status"] for f in job["files"]}
        assert statuses <= {"indexed", "unchanged"}, job["files"]
        docs = {d["source"]: d for d in c.get("/v1/kbs/bank/documents").json()}
        assert set(docs) == {f"note_{i:03d}.md" for i in range(60)}
        assert all(d["chunks"] > 0 for d in docs.values())
        # the indexes agree with the catalog: a search finds a late file's unique text
        hits = c.post("/v1/kbs/bank/search", json={"query": "procedure 57-3 region 57", "k": 3}).json()
        assert hits[0]["source"] == "note_057.md"
        assert c.get(f"/v1/jobs/{first['job_id']}").json()["status"] == "done"
        assert [k["name"] for k in srv.client().get("/v1/kbs").json()] == ["bank"]
        # graceful shutdown: uvicorn finishes the lifespan, then re-raises SIGTERM as its exit status
        assert srv.stop() in (0, -15)
        assert '"event": "stopped"' in srv.log.read_text()
    finally:
        srv.kill()
