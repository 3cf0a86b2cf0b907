"""A state server restarting while a `rag worker` indexes a job (the cluster on loopback: PostgreSQL,
Redis, a Milvus Lite server, one API replica, one worker): the job pauses and goes on by itself once the
server is back, every file indexed exactly once and none failed for it; the worker never needs a restart,
and the API's first requests after PostgreSQL came back are answered (not a 503 per thread)."""
from __future__ import annotations

import time

import httpx
import pytest

from cli.testing.cluster import LocalCluster

pytestmark = [pytest.mark.cluster, pytest.mark.slow]  # ~36 s: servers restarted mid-job
N = 24


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with LocalCluster(tmp_path_factory.mktemp("outages"), replicas=1, workers=1) as c:
        yield c


def _start_job(c: httpx.Client, kb: str) -> str:
    assert c.post("/v1/kbs", json={"name": kb}).status_code == 201
    files = [("files", (f"policy{i:02d}.txt", (f"Policy {i} of {kb}: account type {i} costs {i} dollars a month. "
                                               * 60).encode(), "text/plain")) for i in range(N)]
    r = c.post(f"/v1/kbs/{kb}/documents", files=files)
    assert r.status_code == 202, r.text
    job = r.json()["job_id"]
    deadline = time.monotonic() + 120
    while c.get(f"/v1/jobs/{job}").json()["counts"]["indexed"] < 2:  # the worker is in the middle of it
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.1)
    return job


def _finished(c: httpx.Client, job: str, kb: str) -> None:
    deadline = time.monotonic() + 300
    while True:
        r = c.get(f"/v1/jobs/{job}")
        assert r.status_code == 200, r.text  # PostgreSQL is back: no 503 from a connection it dropped
        done = r.json()
        if done["status"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, done
        time.sleep(0.3)
    assert done["status"] == "done" and done["attempts"] == 1, done
    assert done["counts"]["failed"] == 0 and done["counts"]["pending"] == 0, done["files"]
    docs = c.get(f"/v1/kbs/{kb}/documents").json()
    assert sorted(d["source"] for d in docs) == [f"policy{i:02d}.txt" for i in range(N)]


def test_postgres_restarting_mid_job_pauses_it_and_it_finishes(cluster):
    with cluster.client(base=cluster.replicas[0].url) as c:
        job = _start_job(c, "pgjob")
        cluster.pg.stop()
        time.sleep(4)  # the worker meets it away: it must not fail files or die
        cluster.pg.start()
        _finished(c, job, "pgjob")
    assert cluster.workers[0].proc.poll() is None, "the worker exited"


def test_milvus_restarting_mid_job_pauses_it_and_it_finishes(cluster):
    with cluster.client(base=cluster.replicas[0].url) as c:
        job = _start_job(c, "milvusjob")
        cluster.milvus.kill()
        time.sleep(4)
        cluster.milvus.start()
        _finished(c, job, "milvusjob")
        hits = c.post("/v1/kbs/milvusjob/search", json={"query": "Policy 17 account type 17"}).json()
        assert hits[0]["source"] == "policy17.txt"
    assert cluster.workers[0].proc.poll() is None, "the worker exited"
