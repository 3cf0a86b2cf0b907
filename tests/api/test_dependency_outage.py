"""A server the service depends on goes away while it serves queries (PostgreSQL stopped, the Milvus
server killed) and comes back: every request in between is a 503 naming the dependency, with
Retry-After (never a 500), /readyz names the failing check, and the service answers again by itself,
without a restart. Real PostgreSQL, a real Milvus Lite server and a real `rag serve`."""
from __future__ import annotations

import time

import pytest

from cli.testing import Server, wait_job
from cli.testing.cluster import Milvus
from cli.testing.postgres_server import PostgresServer

QUERIES = {"en": "How do I report a stolen card?", "zh": "银行卡丢了怎么挂失？"}


@pytest.fixture(scope="module")
def deps(tmp_path_factory):
    root = tmp_path_factory.mktemp("outage")
    with PostgresServer() as pg:
        milvus = Milvus(root / "milvus").start()
        srv = Server(root / "home", RAG_DATABASE_URL=pg.url, RAG_STORE_URI=milvus.uri, RAG_ANSWER_MODE="extract")
        try:
            srv.start()
            with srv.client() as c:
                assert c.post("/v1/kbs", json={"name": "bank"}).status_code == 201
                files = [("files", ("cards.txt", b"To report a stolen card call 1-800-555-0199 at any hour.",
                                    "text/plain")),
                         ("files", ("挂失.txt", "银行卡丢失后请立即拨打客服热线95555挂失。".encode(), "text/plain"))]
                job = wait_job(c, c.post("/v1/kbs/bank/documents", files=files).json()["job_id"])
                assert job["status"] == "done" and job["counts"]["indexed"] == 2, job
            yield srv, pg, milvus
        finally:
            srv.stop()
            milvus.kill()


def _assert_outage(c, dependency: str) -> None:
    for lang, q in QUERIES.items():
        for route, body in (("search", {"query": q}), ("query", {"question": q})):
            r = c.post(f"/v1/kbs/bank/{route}", json=body)
            assert r.status_code == 503, (lang, route, r.status_code, r.text)
            err = r.json()["error"]
            assert err["code"] == "dependency_unavailable" and err["dependency"] == dependency, err
            assert "unreachable" in err["message"] and r.headers["retry-after"]
    ready = c.get("/readyz")
    assert ready.status_code == 503 and ready.json()[dependency] is False, ready.text


def _assert_recovers(c, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        codes = {lang: c.post("/v1/kbs/bank/search", json={"query": q}).status_code for lang, q in QUERIES.items()}
        if set(codes.values()) == {200}:
            break
        assert time.monotonic() < deadline and set(codes.values()) <= {200, 503}, codes
        time.sleep(0.5)
    assert c.post("/v1/kbs/bank/search", json={"query": QUERIES["en"]}).json()[0]["source"] == "cards.txt"
    assert c.post("/v1/kbs/bank/search", json={"query": QUERIES["zh"]}).json()[0]["source"] == "挂失.txt"
    assert c.get("/readyz").status_code == 200


@pytest.mark.parametrize("dependency", [
    "database",  # PostgreSQL stopped
    pytest.param("store", marks=pytest.mark.slow),  # the Milvus server killed; ~11 s
])
def test_a_dependency_away_gives_503_naming_it_and_the_service_recovers_by_itself(deps, dependency):
    srv, pg, milvus = deps
    stop, start = {"database": (pg.stop, pg.start), "store": (milvus.kill, milvus.start)}[dependency]
    with srv.client(timeout=60) as c:
        stop()
        try:
            _assert_outage(c, dependency)
        finally:
            start()
        _assert_recovers(c)
    assert "unhandled error" not in srv.log.read_text()


@pytest.mark.slow  # a long robustness or end-to-end run: make test-all
def test_redis_away_refuses_uploads_naming_it_keeps_answering_and_takes_uploads_again(tmp_path):
    from cli.testing.redis_server import RedisServer

    with RedisServer(tmp_path / "redis") as redis_server:
        srv = Server(tmp_path / "home", RAG_REDIS_URL=redis_server.url, RAG_ANSWER_MODE="extract").start()
        try:
            with srv.client(timeout=60) as c:
                assert c.post("/v1/kbs", json={"name": "bank"}).status_code == 201
                card = [("files", ("cards.txt", b"To report a stolen card call 1-800-555-0199.", "text/plain"))]
                assert wait_job(c, c.post("/v1/kbs/bank/documents", files=card).json()["job_id"])["status"] == "done"
                redis_server.stop()
                loss = [("files", ("挂失.txt", "银行卡丢失后请立即拨打客服热线95555挂失。".encode(), "text/plain"))]
                r = c.post("/v1/kbs/bank/documents", files=loss)
                assert r.status_code == 503 and r.headers["retry-after"], r.text
                assert r.json()["error"]["code"] == "queue_unavailable" and "Redis is unreachable" in r.text, r.text
                assert c.get("/v1/kbs/bank/jobs").json()[0]["files"][0]["filename"] == "cards.txt"  # none kept
                hits = c.post("/v1/kbs/bank/search", json={"query": QUERIES["en"]})  # answers go on without Redis
                assert hits.status_code == 200 and hits.json()[0]["source"] == "cards.txt"
                redis_server.start()
                deadline = time.monotonic() + 30
                while (r := c.post("/v1/kbs/bank/documents", files=loss)).status_code == 503:
                    assert time.monotonic() < deadline, r.text
                    time.sleep(0.5)
                assert r.status_code == 202 and wait_job(c, r.json()["job_id"])["status"] == "done"
                assert c.post("/v1/kbs/bank/search", json={"query": QUERIES["zh"]}).json()[0]["source"] == "挂失.txt"
        finally:
            srv.stop()
