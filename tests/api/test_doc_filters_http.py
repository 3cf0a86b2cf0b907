"""`filters.sources` and `filters.doc_ids` of the HTTP routes name documents of the KB, as `rag search --source` does
(a real server, a KB indexed from paths, English and Chinese file names). A source given another way than it was
indexed (a bare file name) answered 200 [] from /search and a refusal from /query, as if the KB did not hold the
answer; now it is 422 invalid_request naming it and the sources it may have meant, and an absolute or ./ path is
the document it names. The OpenAI route takes the same `filters` (the openai client's extra_body)."""
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


def _chat(srv):
    from openai import OpenAI

    return OpenAI(base_url=srv.url + "/v1", api_key=ADMIN, max_retries=0)


def _streamed(stream) -> dict:
    """The last chunk's extras of a streamed chat completion: the whole checked answer, its citations."""
    last = None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].finish_reason == "stop":
            last = chunk
    assert last is not None
    return last.model_extra


def test_openai_chat_answers_from_the_filtered_documents_only(served):
    """`filters` sent by the openai client (extra_body) was an unknown field the route ignored: the answer came
    from the whole KB (the fee, from docs/fees.md, for a question kept to docs/hours.md)."""
    srv, docs = served
    client = _chat(srv)
    ask = [{"role": "user", "content": "How much does a replacement card cost?"}]
    whole = client.chat.completions.create(model="bank", messages=ask)
    assert "docs/fees.md" in {c["source"] for c in whole.model_extra["citations"]}, whole  # the KB's answer
    kept = client.chat.completions.create(model="bank", messages=ask, extra_body={"filters": {
        "sources": ["docs/hours.md"]}})
    assert {c["source"] for c in kept.model_extra["citations"]} <= {"docs/hours.md"}, kept
    assert "5 dollars" not in kept.choices[0].message.content, kept

    ask = [{"role": "user", "content": "补办银行卡收费多少？"}]
    end = _streamed(client.chat.completions.create(model="bank", messages=ask, stream=True, extra_body={
        "filters": {"sources": ["docs/hours.md"]}}))
    assert {c["source"] for c in end["citations"]} <= {"docs/hours.md"} and "5元" not in end["answer"], end
    end = _streamed(client.chat.completions.create(model="bank", messages=ask, stream=True, extra_body={
        "filters": {"sources": [str(docs / "收费标准.md")]}}))
    assert {c["source"] for c in end["citations"]} == {"docs/收费标准.md"} and "5元" in end["answer"], end


def test_openai_chat_refuses_filters_naming_no_document_or_malformed(served):
    import openai

    srv, _ = served
    client = _chat(srv)
    ask = [{"role": "user", "content": "补办银行卡收费多少？"}]
    for stream in (False, True):  # streamed: the 422 comes before any chunk
        with pytest.raises(openai.UnprocessableEntityError) as e:
            client.chat.completions.create(model="bank", messages=ask, stream=stream,
                                           extra_body={"filters": {"sources": ["收费标准.md"]}})
        err = e.value.body
        assert err["code"] == "invalid_request" and "GET /v1/kbs/bank/documents" in err["message"], err
        assert err["details"] == [{"loc": ["body", "filters", "sources", 0], "type": "unknown_source",
                                   "msg": "no document of 'bank' has this source (did you mean 'docs/收费标准.md'?)",
                                   "alike": ["docs/收费标准.md"]}], err
    with pytest.raises(openai.UnprocessableEntityError) as e:
        client.chat.completions.create(model="bank", messages=[{"role": "user", "content": "Card fee?"}],
                                       extra_body={"filters": {"sources": ["fee.md"], "doc_ids": ["d0000000000000"]}})
    assert [d["type"] for d in e.value.body["details"]] == ["unknown_doc_id", "unknown_source"], e.value.body
    assert e.value.body["details"][1]["alike"] == ["docs/fees.md"]

    for filters, loc in (({"source": ["docs/fees.md"]}, ["body", "filters", "source"]),
                         ({"sources": "docs/fees.md"}, ["body", "filters", "sources"]),
                         (["docs/fees.md"], ["body", "filters"])):
        with pytest.raises(openai.UnprocessableEntityError) as e:
            client.chat.completions.create(model="bank", messages=ask, extra_body={"filters": filters})
        err = e.value.body
        assert err["code"] == "invalid_request" and err["message"].startswith(".".join(loc)), err
        assert [d["loc"] for d in err["details"]] == [loc], err
