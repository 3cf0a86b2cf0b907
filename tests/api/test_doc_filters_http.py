"""`filters.sources` and `filters.doc_ids` of the HTTP routes name documents of the KB, as `rag search --source` does
(a real server, a KB indexed from paths, English and Chinese file names). A source given another way than it was
indexed (a bare file name) answered 200 [] from /search and a refusal from /query, as if the KB did not hold the
answer; now it is 422 invalid_request naming it and the sources it may have meant, and an absolute or ./ path is
the document it names."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cli.testing import ADMIN, ROOT, Server

pytestmark = pytest.mark.slow  # ~40 s: an index with the e5 model, a server, answers


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("doc-filters")
    docs = root / "docs"
    docs.mkdir()
    (docs / "fees.md").write_text("# Fees\n\nA replacement card costs 5 dollars.\n")
    (docs / "收费标准.md").write_text("# 收费标准\n\n补办银行卡每张收费5元。\n", encoding="utf-8")
    (docs / "hours.md").write_text("# Hours\n\nBranches open at 9 am. A replacement card is printed at once.\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_HOME": str(root / "home"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)})
    p = subprocess.run([sys.executable, "-m", "cli", "index", "docs", "--kb", "bank", "--embed-model", "e5",
                        "--no-calibrate", "-q"], env=env, cwd=root, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr  # stored as indexed: docs/fees.md, docs/收费标准.md, docs/hours.md
    srv = Server(root / "home", RAG_ANSWER_MODE="extract", RAG_WARM_UP="false").start()
    yield srv, docs
    srv.stop()


def _refused(r, kb: str = "bank") -> dict:
    assert r.status_code == 422, (r.status_code, r.text)
    err = r.json()["error"]
    assert err["code"] == "invalid_request" and f"GET /v1/kbs/{kb}/documents" in err["message"], err
    return err


def test_a_source_naming_no_document_is_422_with_the_sources_meant(served):
    srv, _ = served
    with srv.client() as c:
        err = _refused(c.post("/v1/kbs/bank/search", json={"query": "replacement card", "filters": {
            "sources": ["docs/hours.md", "fees.md"]}}))
        assert "'fees.md'" in err["message"] and "'docs/fees.md'" in err["message"], err
        assert "docs/hours.md" not in err["message"].split("did you mean")[0], err  # the known one is not named
        assert err["details"] == [{"loc": ["body", "filters", "sources", 1], "type": "unknown_source",
                                   "msg": "no document of 'bank' has this source (did you mean 'docs/fees.md'?)",
                                   "alike": ["docs/fees.md"]}], err

        err = _refused(c.post("/v1/kbs/bank/query", json={"question": "补办银行卡收费多少？",
                                                          "filters": {"sources": ["收费标准.md"]}}))
        assert "'收费标准.md'" in err["message"] and "'docs/收费标准.md'" in err["message"], err
        assert err["details"][0]["alike"] == ["docs/收费标准.md"]
        # streamed: the 422 comes before any event
        err = _refused(c.post("/v1/kbs/bank/query", json={"question": "补办银行卡收费多少？", "stream": True,
                                                          "filters": {"sources": ["收费.md"]}}))
        assert err["details"][0]["alike"] == ["docs/收费标准.md"], err  # the closest name
        err = _refused(c.post("/v1/kbs/bank/search", json={"query": "card", "filters": {"sources": ["fee.md"]}}))
        assert err["details"][0]["alike"] == ["docs/fees.md"], err
        err = _refused(c.post("/v1/kbs/bank/search", json={"query": "card", "filters": {"sources": ["年报.pdf"]}}))
        assert err["details"][0]["alike"] == [] and "did you mean" not in err["message"], err

        err = _refused(c.post("/v1/kbs/bank/search", json={"query": "card", "filters": {"doc_ids": ["d0000000000000"]}}))
        assert err["details"] == [{"loc": ["body", "filters", "doc_ids", 0], "type": "unknown_doc_id",
                                   "msg": "no document of 'bank' has this id"}], err
        assert "'d0000000000000'" in err["message"]


def test_the_same_file_named_another_way_is_that_document(served):
    srv, docs = served
    with srv.client() as c:
        hits = c.post("/v1/kbs/bank/search", json={"query": "replacement card", "filters": {
            "sources": [str(docs / "fees.md")]}})
        assert hits.status_code == 200 and hits.json(), hits.text
        assert {h["source"] for h in hits.json()} == {"docs/fees.md"}
        hits = c.post("/v1/kbs/bank/search", json={"query": "replacement card", "filters": {"sources": ["docs/fees.md"]}})
        assert hits.status_code == 200 and {h["source"] for h in hits.json()} == {"docs/fees.md"}, hits.text
        r = c.post("/v1/kbs/bank/query", json={"question": "补办银行卡收费多少？",
                                               "filters": {"sources": ["./docs/收费标准.md"]}})
        assert r.status_code == 200, r.text
        ans = r.json()
        assert not ans["refused"] and "5元" in ans["answer"], ans
        assert {cit["source"] for cit in ans["citations"]} == {"docs/收费标准.md"}
        # a relative path is not read against the server's working directory (not the client's)
        _refused(c.post("/v1/kbs/bank/search", json={"query": "card", "filters": {"sources": ["../docs/fees.md"]}}))


def test_the_websocket_says_so_and_stays_open(served):
    from websockets.sync.client import connect

    srv, docs = served
    url = srv.url.replace("http", "ws") + "/v1/kbs/bank/ws"
    with connect(url, additional_headers={"Authorization": f"Bearer {ADMIN}"}) as ws:
        ws.send(json.dumps({"question": "补办银行卡收费多少？", "filters": {"sources": ["收费标准.md"]}}))
        msg = json.loads(ws.recv(timeout=60))
        assert msg["type"] == "error" and msg["status"] == 422, msg
        assert msg["error"]["details"][0]["loc"] == ["filters", "sources", 0], msg
        assert msg["error"]["details"][0]["alike"] == ["docs/收费标准.md"], msg
        ws.send(json.dumps({"question": "补办银行卡收费多少？", "filters": {"sources": [str(docs / "收费标准.md")]}}))
        while (msg := json.loads(ws.recv(timeout=120)))["type"] != "done":
            assert msg["type"] in ("token", "citations"), msg
        assert not msg["answer"]["refused"] and "5元" in msg["answer"]["answer"], msg
