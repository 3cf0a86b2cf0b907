"""A KB moved to a new server with its service state, over HTTP on two real `rag serve`s: GET .../export?
with_state=true carries its API keys as hashes, its channel without the secret (named as left out) and its
promoted settings; POST /v1/kbs/import on the other server restores them (the key works there), refuses state
that would take another KB's keys (409 state_conflict, or without_state=true for the KB alone), and
with_secrets (a global admin's) carries the channel whole."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from io import BytesIO

import pytest

from cli.testing import ROOT, Server

SECRET = "dt-app-secret-钉钉-0002"
TOP_K = {"answer": {"top_k": 1}}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    root = tmp_path_factory.mktemp("kb-state")
    env = {**os.environ, "RAG_HOME": str(root / "a"), "RAG_EMBED_MODEL": "minilm", "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "cli", "index", str(ROOT / "data/sample/en/lost_or_stolen_cards.txt"),
                    str(ROOT / "data/sample/zh/card_loss_reporting.txt"), "--kb", "bank", "-q"],
                   env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    a = Server(root / "a", RAG_ANSWER_MODE="extract", RAG_WARM_UP="false").start()
    b = Server(root / "b", RAG_ANSWER_MODE="extract", RAG_WARM_UP="false").start()
    yield a, b
    a.kill()
    b.kill()


def _state(archive: bytes) -> dict:
    with zipfile.ZipFile(BytesIO(archive)) as z:
        return json.loads(z.read("service_state.json"))


@pytest.mark.slow  # ~40 s: two services and an indexing
def test_a_kb_moves_to_another_server_with_its_keys_channel_and_settings(servers):
    a, b = servers
    with a.client() as c:
        reader = c.post("/v1/keys", json={"kb": "bank", "scope": "read", "label": "柜员"}).json()["key"]
        kb_admin = c.post("/v1/keys", json={"kb": "bank", "scope": "admin"}).json()["key"]
        assert c.post("/v1/kbs/bank/channels", json={"platform": "dingtalk", "app_secret": SECRET}).status_code == 201
        exp = {"name": "topk", "arms": [{"name": "a", "share": 1}, {"name": "b", "share": 1, "overrides": TOP_K}]}
        assert c.post("/v1/kbs/bank/experiments", json=exp).status_code == 201
        assert c.post("/v1/kbs/bank/experiments/topk/promote", json={"arm": "b"}).status_code == 200
        with a.client(kb_admin) as k:
            assert k.get("/v1/kbs/bank/export", params={"with_state": "true", "with_secrets": "true"}
                         ).status_code == 403  # the secrets are a global admin's
            plain = k.get("/v1/kbs/bank/export", params={"with_state": "true"})
        assert plain.status_code == 200, plain.text
        assert reader.encode() not in plain.content and SECRET.encode() not in plain.content
        st = _state(plain.content)
        assert sorted((k["scope"], k["label"]) for k in st["keys"]) == [("admin", ""), ("read", "柜员")]
        assert st["channels"] == [{"platform": "dingtalk", "settings": {}, "left_out": ["app_secret"]}]
        assert st["settings"] == TOP_K
        assert c.get("/v1/kbs/bank/export", params={"with_secrets": "true"}).status_code == 422
        whole = c.get("/v1/kbs/bank/export", params={"with_state": "true", "with_secrets": "true"}).content
        # the same server, another name: the keys are bank's, never moved
        copy = c.post("/v1/kbs/import", params={"name": "copy"}, content=plain.content)
        assert copy.status_code == 409 and copy.json()["error"]["code"] == "state_conflict", copy.text
        assert "without_state=true" in copy.json()["error"]["message"]
        alone = c.post("/v1/kbs/import", params={"name": "copy", "without_state": "true", "wait": "true"},
                       content=plain.content)
        assert alone.status_code == 201 and alone.json()["state"] is None, alone.text
    with b.client() as c:
        with b.client(reader) as r:
            assert r.post("/v1/kbs/bank/search", json={"query": "挂失", "k": 1}).status_code == 401
        moved = c.post("/v1/kbs/import", params={"wait": "true"}, content=plain.content)
        assert moved.status_code == 201, moved.text
        assert moved.json()["state"] == {"keys": 2, "revoked_here": [], "channels": [],
                                         "secrets_needed": {"dingtalk": ["app_secret"]}, "settings": TOP_K,
                                         "experiments": ["topk"], "experiments_taken": [], "settings_history": 1}
        shown = c.get("/v1/kbs/bank/experiments").json()  # its experiment and its promotion came along
        assert [(e["name"], e["status"], e["winner"]) for e in shown] == [("topk", "promoted", "b")], shown
        assert c.post("/v1/kbs/bank/settings/rollback").json()["restored"] == {}
        with b.client(reader) as r:  # the holder's key works on the new server
            hits = r.post("/v1/kbs/bank/search", json={"query": "如何挂失银行卡？", "k": 1})
            assert hits.status_code == 200 and hits.json(), hits.text
        assert c.get("/v1/kbs/bank/channels").json() == []
        again = c.post("/v1/kbs/import", params={"replace": "true", "wait": "true"}, content=whole)
        assert again.status_code == 201 and again.json()["state"]["channels"] == ["dingtalk"], again.text
        shown = c.get("/v1/kbs/bank/channels").json()
        assert [ch["platform"] for ch in shown] == ["dingtalk"] and SECRET not in json.dumps(shown)
