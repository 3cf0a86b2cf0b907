"""POST /v1/kbs/import runs as a job on a real `rag serve`: the request answers 202 with the job as soon as the
archive is kept, the job shows how far the import is, a second import into the same name is refused while it
runs, and a service killed during the import leaves no half KB and, started again, finishes the import."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from cli.testing import ROOT, Server, wait_job
from tests.api.import_archives import grown

EXTRA = 3000  # synthetic documents: their import takes ~10 s on 2 cores, long enough to be killed in the middle


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("import-job") / "home"
    env = {**os.environ, "RAG_HOME": str(home), "RAG_EMBED_MODEL": "minilm", "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "cli", "index", str(ROOT / "data/sample/en/lost_or_stolen_cards.txt"),
                    str(ROOT / "data/sample/zh/card_loss_reporting.txt"), "--kb", "bank", "-q"],
                   env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    return home


def _server(home) -> Server:
    return Server(home, RAG_ANSWER_MODE="extract", RAG_WARM_UP="false", RAG_MAX_IMPORT_MB="64").start()


@pytest.mark.slow  # ~60 s: two service starts and an import of 3,000 documents
def test_a_service_killed_during_an_import_job_finishes_it_when_started_again(home, tmp_path):
    srv = _server(home)
    try:
        with srv.client() as c:
            (tmp_path / "bank.zip").write_bytes(c.get("/v1/kbs/bank/export").content)
            big = grown(tmp_path / "bank.zip", tmp_path / "big.zip", EXTRA).read_bytes()
            r = c.post("/v1/kbs/import", params={"name": "branches"}, content=big,
                       headers={"content-type": "application/zip"})
            assert r.status_code == 202, r.text
            job_id = r.json()["job_id"]
            assert r.headers["Location"] == r.json()["location"] == f"/v1/jobs/{job_id}"
            assert r.json()["status"] == "queued" and r.json()["kb"] == "branches"
            again = c.post("/v1/kbs/import", params={"name": "branches"}, content=big)
            assert again.status_code == 409 and again.json()["error"]["code"] == "import_running", again.text
            assert job_id in again.json()["error"]["message"]
            seen = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                job = c.get(f"/v1/jobs/{job_id}").json()
                assert job["status"] in ("queued", "running"), job  # still going: not done before we look
                if job["progress"]:
                    seen.append(job["progress"]["stage"])
                    p = job["progress"]
                    if p["stage"] == "importing" and 0 < p["done"] < p["total"] // 2:
                        break
                time.sleep(0.05)
            else:
                raise AssertionError(f"the import never showed its progress: {job}")
            assert job["kind"] == "import" and job["progress"]["unit"] == "chunks"
            assert job["progress"]["total"] == EXTRA + 12 and job["result"] is None
        srv.kill()  # kill -9 in the middle of the import
        assert not (home / "branches").exists()  # no half KB under its name
        assert (home / ".branches.importing").is_dir()  # the hidden copy a re-run resumes
    finally:
        srv.kill()
    srv = _server(home)
    try:
        with srv.client() as c:
            job = wait_job(c, job_id, timeout=240)
            assert job["status"] == "done" and job["attempts"] == 2, job
            assert job["result"] == {"name": "branches", "source_kb": "bank", "documents": EXTRA + 2, "chunks": EXTRA + 12,
                                     "embed_model": "minilm", "replaced": False, "left_out": [], "state": None,
                                     "originals": 0, "originals_not_kept": 0, "ocr_cache": False}
            assert job["files"][0]["status"] == "imported" and job["error_code"] == ""
            assert c.get("/v1/kbs/branches").json()["documents"] == EXTRA + 2
            hits = c.post("/v1/kbs/branches/search", json={"query": "第7号网点工作日营业时间", "k": 3, "mode": "bm25"}).json()
            assert hits[0]["doc_id"] == "branch7"
            assert not (home / ".branches.importing").exists()
    finally:
        srv.kill()
