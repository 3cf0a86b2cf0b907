"""A KB's synonyms in a cluster: two `rag serve` replicas on one KB home sharing a Redis answer cache. A
change made through one replica is read by the other at its next request, and an answer cached in Redis
under the old rules is not served under the new ones by either."""
from __future__ import annotations

import pytest

from cli.testing import Server, wait_job
from cli.testing.redis_server import RedisServer, redis_server_path
from tests.conftest import SAMPLE

DOCS = [SAMPLE / "en" / "lost_or_stolen_cards.txt", SAMPLE / "en" / "wire_transfers.html",
        SAMPLE / "zh" / "card_loss_reporting.txt"]


@pytest.mark.slow
def test_a_change_on_one_replica_is_read_by_the_other_and_the_shared_cache_keys_it(tmp_path):
    if redis_server_path() is None:
        pytest.fail("redis-server (Debian package) is needed; .ci/run installs it")
    redis = RedisServer(tmp_path / "redis").start()
    env = {"RAG_WARM_UP": "false", "RAG_REDIS_URL": redis.url}
    a = Server(tmp_path / "home", **env).start()
    b = None
    try:
        admin_a = a.client()
        assert admin_a.post("/v1/kbs", json={"name": "bank"}).status_code == 201
        r = admin_a.post("/v1/kbs/bank/documents", files=[("files", (p.name, p.read_bytes())) for p in DOCS])
        wait_job(admin_a, r.json()["job_id"])
        b = Server(tmp_path / "home", **env).start()
        admin_b = b.client()
        asked = {"en": {"question": "What is the zorblax code for an incoming wire?"},
                 "zh": {"question": "银行卡报失打什么电话？"}}
        before = {k: admin_b.post("/v1/kbs/bank/query", json=q).json() for k, q in asked.items()}
        assert "HRBRUS33" not in before["en"]["answer"]
        assert all(admin_a.post("/v1/kbs/bank/query", json=q).json()["cached"] for q in asked.values())  # shared
        assert admin_a.put("/v1/kbs/bank/synonyms", json={"text": "zorblax => SWIFT\n报失, 挂失"}).status_code == 200
        after = {k: admin_b.post("/v1/kbs/bank/query", json=q).json() for k, q in asked.items()}
        assert not any(x["cached"] for x in after.values()), after  # other rules: not the cached answers
        assert "HRBRUS33" in after["en"]["answer"], after["en"]["answer"]  # B read A's rules at once
        assert admin_b.get("/v1/kbs/bank/synonyms").json()["text"] == "zorblax => SWIFT\n报失, 挂失\n"
        assert all(admin_a.post("/v1/kbs/bank/query", json=q).json()["cached"] for q in asked.values())
        assert admin_b.delete("/v1/kbs/bank/synonyms").status_code == 204
        back = admin_a.post("/v1/kbs/bank/query", json=asked["en"]).json()
        assert back["answer"] == before["en"]["answer"] and "HRBRUS33" not in back["answer"]
    finally:
        if b is not None:
            b.stop()
        a.stop()
        redis.stop()
