"""The HTTP service, end to end over loopback: keys and isolation, uploads as jobs, search,
answers as JSON / SSE / WebSocket / OpenAI API, validation, observability."""
from __future__ import annotations

import json

import httpx
import pytest

from cli.testing import Server, wait_job
from tests.conftest import SAMPLE

GOOD = [SAMPLE / "en" / "lost_or_stolen_cards.txt", SAMPLE / "en" / "wire_transfers.html"]
ZH = SAMPLE / "zh" / "card_loss_reporting.txt"
PORTAL = "https://portal.example.com"  # a company's own site whose pages call the API (RAG_CORS_ORIGINS)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """One server; KBs alpha (English, plus a broken PDF) and beta (Chinese), a key per KB and scope."""
    root = tmp_path_factory.mktemp("api")
    # the bundled model writing English answers (opted in: by default it quotes, docs/answers.md)
    srv = Server(root / "home", RAG_LLM_LANGUAGES='["en"]', RAG_CORS_ORIGINS=PORTAL).start()
    admin = srv.client()
    for name in ("alpha", "beta"):
        assert admin.post("/v1/kbs", json={"name": name}).status_code == 201
    keys = {}
    for kb in ("alpha", "beta"):
        for scope in ("read", "write", "admin"):
            r = admin.post("/v1/keys", json={"kb": kb, "scope": scope})
            assert r.status_code == 201, r.text
            keys[kb, scope] = r.json()["key"]
    broken = root / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n this is not really a pdf \x00\x01\x02")
    files = [("files", (p.name, p.read_bytes())) for p in GOOD] + [("files", ("broken.pdf", broken.read_bytes()))]
    r = srv.client(keys["alpha", "write"]).post("/v1/kbs/alpha/documents", files=files, data={"tags": "team=cards"})
    assert r.status_code == 202, r.text
    job_a = r.json()["job_id"]
    r = srv.client(keys["beta", "write"]).post("/v1/kbs/beta/documents", files=[("files", (ZH.name, ZH.read_bytes()))])
    job_b = r.json()["job_id"]
    wait_job(admin, job_a), wait_job(admin, job_b)
    yield {"srv": srv, "keys": keys, "job_a": job_a, "job_b": job_b, "root": root}
    srv.stop()


def test_upload_job_reports_each_file_and_indexes_the_good_ones(env):
    job = env["srv"].client().get(f"/v1/jobs/{env['job_a']}").json()
    assert job["status"] == "done"
    by_name = {f["filename"]: f for f in job["files"]}
    assert by_name["lost_or_stolen_cards.txt"]["status"] == "indexed" and by_name["lost_or_stolen_cards.txt"]["chunks"] > 0
    assert by_name["wire_transfers.html"]["status"] == "indexed"
    assert by_name["broken.pdf"]["status"] == "failed" and by_name["broken.pdf"]["reason"]
    docs = env["srv"].client(env["keys"]["alpha", "read"]).get("/v1/kbs/alpha/documents").json()
    assert sorted(d["source"] for d in docs) == ["lost_or_stolen_cards.txt", "wire_transfers.html"]
    assert all(d["tags"] == {"team": "cards"} for d in docs)


def test_documents_and_jobs_page_with_limit_and_offset(env):
    """limit/offset were ignored: every document came back whatever was asked, and jobs stopped at 50."""
    c = env["srv"].client(env["keys"]["alpha", "read"])
    everything = c.get("/v1/kbs/alpha/documents")
    total = len(everything.json())
    assert total >= 2 and everything.headers["x-total-count"] == str(total)
    pages = [c.get("/v1/kbs/alpha/documents", params={"limit": 1, "offset": i}) for i in range(total + 1)]
    assert [len(p.json()) for p in pages] == [1] * total + [0]
    assert [p.json()[0] for p in pages[:-1]] == everything.json()
    assert all(p.headers["x-total-count"] == str(total) for p in pages)
    bad = c.get("/v1/kbs/alpha/documents", params={"limit": 0})
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("query.limit")
    jobs = c.get("/v1/kbs/alpha/jobs").json()
    assert jobs and c.get("/v1/kbs/alpha/jobs", params={"limit": 1}).json() == jobs[:1]
    assert c.get("/v1/kbs/alpha/jobs", params={"limit": 1, "offset": len(jobs)}).json() == []
    # past the 64-bit integer SQLite and PostgreSQL take for OFFSET: a 422 naming the bound, not a 500
    r = c.get("/v1/kbs/alpha/jobs", params={"offset": 20557691111759650816})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("query.offset"), r.text
    assert c.get("/v1/kbs/alpha/jobs", params={"offset": 10**12}).json() == []


def _file_part(disposition: bytes, data: bytes) -> bytes:
    return b"--BOUNDARY\r\nContent-Disposition: " + disposition + b"\r\nContent-Type: text/plain\r\n\r\n" + data + b"\r\n"


def test_chinese_file_names_as_every_kind_of_client_sends_them(env):
    """收费标准.txt as browsers and curl send it (UTF-8 bytes), as .NET's MultipartFormDataContent does (a MIME
    encoded word in filename, RFC 5987 in filename*), as filename* alone, filename* beside an ASCII stand-in,
    and in GBK (old Windows clients). .NET's was 415 '=?utf-8?B?...?=: files without an extension', filename*
    alone 422 'no files', the stand-in won over the real name, GBK came out as replacement characters."""
    import base64
    from urllib.parse import quote

    names = ["收费标准.txt", "挂失须知.txt", "转账说明.txt", "开户指南.txt", "网点地址.txt"]
    b64 = lambda n: base64.b64encode(n.encode()).decode()  # noqa: E731
    dispositions = [
        f'form-data; name="files"; filename="{names[0]}"'.encode(),
        f"form-data; name=files; filename=\"=?utf-8?B?{b64(names[1])}?=\"; filename*=utf-8''{quote(names[1])}".encode(),
        f"form-data; name=\"files\"; filename*=UTF-8''{quote(names[2])}".encode(),
        f"form-data; name=\"files\"; filename=\"guide.txt\"; filename*=UTF-8''{quote(names[3])}".encode(),
        f'form-data; name="files"; filename="{names[4]}"'.encode("gbk"),
    ]
    body = b"".join(_file_part(d, f"第{i}份文件：{names[i]}的内容，港湾银行。".encode()) for i, d in enumerate(dispositions))
    admin = env["srv"].client()
    assert admin.post("/v1/kbs", json={"name": "names-zh"}).status_code == 201
    try:
        r = admin.post("/v1/kbs/names-zh/documents", content=body + b"--BOUNDARY--\r\n",
                       headers={"content-type": "multipart/form-data; boundary=BOUNDARY"})
        assert r.status_code == 202, r.text
        assert r.json()["files"] == names
        job = wait_job(admin, r.json()["job_id"])
        assert [f["status"] for f in job["files"]] == ["indexed"] * 5, job
        assert sorted(d["source"] for d in admin.get("/v1/kbs/names-zh/documents").json()) == sorted(names)
    finally:
        admin.delete("/v1/kbs/names-zh")


def test_search_returns_hits_like_the_cli(env):
    c = env["srv"].client(env["keys"]["alpha", "read"])
    hits = c.post("/v1/kbs/alpha/search", json={"query": "report a stolen card", "k": 3}).json()
    assert 1 <= len(hits) <= 3
    assert hits[0]["source"] == "lost_or_stolen_cards.txt"
    assert {"doc_id", "chunk_id", "source", "text", "score", "scores"} <= set(hits[0])
    only = c.post("/v1/kbs/alpha/search", json={"query": "card", "k": 5,
                                                "filters": {"sources": ["wire_transfers.html"]}}).json()
    assert only and {h["source"] for h in only} == {"wire_transfers.html"}


def test_query_json_has_answer_citations_and_timings(env):
    c = env["srv"].client(env["keys"]["alpha", "read"])
    r = c.post("/v1/kbs/alpha/query", json={"question": "What number do I call to report a stolen card?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answer"].strip() and body["refused"] is False
    assert {"retrieve_s", "rerank_s", "generate_s", "ttft_s", "total_s"} <= set(body["timings"])
    assert body["passages"] and all(p["doc_id"] for p in body["passages"])
    for cit in body["citations"]:
        assert {"doc_id", "chunk_id", "source", "quote"} <= set(cit)
        assert cit["chunk_id"] in {p["chunk_id"] for p in body["passages"]}


def test_chinese_query_is_answered_by_extraction_with_the_default_model(env):
    c = env["srv"].client(env["keys"]["beta", "read"])
    r = c.post("/v1/kbs/beta/query", json={"question": "银行卡丢了怎么挂失？"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"] == "extract" and body["refused"] is False and body["timings"]["generate_s"] == 0.0
    # the steps of 临时挂失 (the hotline first), from the passage giving them, whichever rank it has
    cited = body["citations"][0]
    assert cited["chunk_id"] in {p["chunk_id"] for p in body["passages"]}
    assert "400-106-9588" in body["answer"] and "挂失" in body["answer"] and f"[{cited['n']}]" in body["answer"], body["answer"]


def _sse(lines) -> list[tuple[str, object]]:
    out, event = [], None
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            out.append((event, json.loads(line[6:])))
    return out


def test_query_streams_server_sent_events(env):
    c = env["srv"].client(env["keys"]["alpha", "read"])
    with c.stream("POST", "/v1/kbs/alpha/query", json={"question": "How do I lock my card?", "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = _sse(r.iter_lines())
    kinds = [k for k, _ in events]
    assert kinds.count("token") >= 2 and kinds[-2:] == ["citations", "done"]
    streamed = "".join(d["text"] for k, d in events if k == "token")
    final = events[-1][1]
    assert final["answer"].strip() and set(final["timings"]) >= {"retrieve_s", "ttft_s", "total_s"}
    assert final["answer"].replace(" ", "")[:10] in streamed.replace(" ", "")


def test_websocket_streams_the_same(env):
    from websockets.sync.client import connect

    url = env["srv"].url.replace("http", "ws") + "/v1/kbs/beta/ws"
    with connect(url, additional_headers={"Authorization": f"Bearer {env['keys']['beta', 'read']}"}) as ws:
        ws.send(json.dumps({"question": "银行卡丢了怎么挂失？"}))
        msgs = []
        while not msgs or msgs[-1]["type"] not in ("done", "error"):
            msgs.append(json.loads(ws.recv(timeout=120)))
    assert msgs[-1]["type"] == "done", msgs[-1]
    assert any(m["type"] == "token" for m in msgs) and msgs[-2]["type"] == "citations"
    assert msgs[-1]["answer"]["passages"][0]["source"] == ZH.name
    # a question sent while an answer is being sent is answered next (the socket is read meanwhile, to
    # see a client that goes away)
    with connect(url, additional_headers={"Authorization": f"Bearer {env['keys']['beta', 'read']}"}) as ws:
        ws.send(json.dumps({"question": "银行卡丢了怎么挂失？"}))
        ws.send(json.dumps({"question": "跨行转账收费吗？"}))
        done = []
        while len(done) < 2:
            m = json.loads(ws.recv(timeout=120))
            assert m["type"] != "error", m
            if m["type"] == "done":
                done.append(m["answer"])
    assert "挂失" in done[0]["answer"] and done[0]["answer"] != done[1]["answer"]
    with pytest.raises(Exception):  # another KB's key is refused at the handshake
        with connect(url + f"?key={env['keys']['alpha', 'admin']}") as ws:
            ws.send(json.dumps({"question": "hi"}))
            ws.recv(timeout=30)


def test_websocket_invalid_message_is_an_error_with_its_status_and_the_socket_stays_open(env):
    """docs/api.md: every error message carries `status`, as the HTTP route would answer (a malformed message's
    had none), and says what is wrong with the message; the socket goes on answering."""
    from websockets.sync.client import connect

    url = env["srv"].url.replace("http", "ws") + "/v1/kbs/beta/ws"
    with connect(url, additional_headers={"Authorization": f"Bearer {env['keys']['beta', 'read']}"}) as ws:
        said = {}
        for bad in ("not json", json.dumps({"question": ""}), json.dumps({"history": []})):
            ws.send(bad)
            m = json.loads(ws.recv(timeout=60))
            assert m["type"] == "error" and m["status"] == 422 and m["error"]["code"] == "invalid_request", m
            assert m["request_id"]
            said[bad] = m["error"]["message"]
        # what is wrong, as the HTTP route says it (it was "1 validation error for QueryRequest")
        assert said["not json"].startswith("the message is not JSON") and '{"question": "..."}' in said["not json"]
        assert said[json.dumps({"question": ""})].startswith("question: String should have at least 1 character")
        assert said[json.dumps({"history": []})].startswith("question: Field required")
        ws.send(json.dumps({"question": "银行卡丢了怎么挂失？"}))
        msgs = [json.loads(ws.recv(timeout=120))]
        while msgs[-1]["type"] not in ("done", "error"):
            msgs.append(json.loads(ws.recv(timeout=120)))
    assert msgs[-1]["type"] == "done" and "挂失" in msgs[-1]["answer"]["answer"], msgs[-1]


def test_openai_client_plain_and_streaming(env):
    from openai import OpenAI

    client = OpenAI(base_url=env["srv"].url + "/v1", api_key=env["keys"]["alpha", "read"], max_retries=0)
    assert [m.id for m in client.models.list().data] == ["alpha"]
    resp = client.chat.completions.create(model="alpha", messages=[
        {"role": "user", "content": "What number do I call to report a stolen card?"}])
    assert resp.choices[0].message.content.strip()
    extra = resp.model_extra
    assert "citations" in extra and isinstance(extra["citations"], list)
    pieces, last = [], None
    for chunk in client.chat.completions.create(model="alpha", stream=True, messages=[
            {"role": "user", "content": "How do I send a wire transfer?"}]):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        last = chunk
    # checked sentences as they settle ([answer] stream = "verified"): one piece for a one-sentence answer
    assert pieces and "".join(pieces).strip() and last.choices[0].finish_reason == "stop"
    assert "citations" in last.model_extra and "".join(pieces) == last.model_extra["answer"]


def test_openai_client_usage_model_lookup_and_unsupported_parameters(env):
    """What the official client reads beyond the answer: `usage` (words, one per CJK character), a final
    usage chunk when streamed with include_usage, models.retrieve, and a clear 422 for `n` > 1 and a JSON
    response_format (a client would otherwise index a missing choice or parse text as JSON)."""
    import openai
    from openai import OpenAI

    from indexer.tokenize import count_tokens

    client = OpenAI(base_url=env["srv"].url + "/v1", api_key=env["keys"]["beta", "read"], max_retries=0)
    assert client.models.retrieve("beta").id == "beta"
    with pytest.raises(openai.PermissionDeniedError):
        client.models.retrieve("alpha")
    question = "银行卡丢了怎么挂失？"
    resp = client.chat.completions.create(model="beta", messages=[{"role": "user", "content": question}])
    answer = resp.choices[0].message.content
    cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in answer)
    # the whole Chinese answer counted as one whitespace-separated "token" before
    assert resp.usage.completion_tokens == count_tokens(answer) >= cjk > 10
    assert resp.usage.prompt_tokens == count_tokens(question) > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    chunks = list(client.chat.completions.create(model="beta", stream=True, stream_options={"include_usage": True},
                                                 messages=[{"role": "user", "content": question}]))
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == count_tokens(chunks[-2].model_extra["answer"])
    assert chunks[-2].choices[0].finish_reason == "stop" and all(c.usage is None for c in chunks[:-1])
    en = OpenAI(base_url=env["srv"].url + "/v1", api_key=env["keys"]["alpha", "read"], max_retries=0)
    for extra, word in (({"n": 2}, "n=2"), ({"response_format": {"type": "json_object"}}, "json_object")):
        with pytest.raises(openai.UnprocessableEntityError) as e:
            en.chat.completions.create(model="alpha", messages=[{"role": "user", "content": "Wire fees?"}], **extra)
        assert e.value.code == "unsupported_parameter" and word in e.value.message
    ok = en.chat.completions.create(model="alpha", n=1, response_format={"type": "text"}, temperature=0.3,
                                    max_tokens=50, stop=["\n"], user="u-1",
                                    messages=[{"role": "user", "content": "What number do I call to report a stolen card?"}])
    assert len(ok.choices) == 1 and ok.choices[0].message.content.strip()


def test_openai_stream_is_well_formed_sse_with_intact_chinese(env):
    """Raw bytes of a streamed chat completion, as curl sees them: strict UTF-8 in every event, each
    event a `data:` line of JSON (no character split between events), and `data: [DONE]` last."""
    c = env["srv"].client(env["keys"]["beta", "read"])
    body = {"model": "beta", "stream": True, "messages": [{"role": "user", "content": "银行卡丢了怎么挂失？"}]}
    with c.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        raw = b"".join(r.iter_bytes())
    events = raw.split(b"\n\n")
    assert events[-1] == b"" and events[-2] == b"data: [DONE]"
    pieces = []
    for event in events[:-2]:
        assert event.startswith(b"data: ") and b"\n" not in event, event[:80]
        data = json.loads(event[6:].decode("utf-8"))  # strict: a split character would fail here
        pieces += [ch["delta"].get("content") or "" for ch in data["choices"]]
    assert "挂失" in "".join(pieces) and "".join(pieces) == data["answer"]


ROUTES = [("GET", "/v1/kbs/alpha/documents", None), ("POST", "/v1/kbs/alpha/search", {"query": "card"}),
          ("POST", "/v1/kbs/alpha/query", {"question": "card?"}), ("GET", "/v1/kbs/alpha", None),
          ("DELETE", "/v1/kbs/alpha/documents/nope", None), ("GET", "/v1/kbs/alpha/jobs", None),
          ("POST", "/v1/chat/completions", {"model": "alpha", "messages": [{"role": "user", "content": "hi"}]})]


@pytest.mark.parametrize("method,path,body", ROUTES)
def test_isolation_401_and_403_on_every_route(env, method, path, body):
    srv, keys = env["srv"], env["keys"]
    for key in (None, "rag_bogus_key"):
        r = srv.client(key).request(method, path, json=body)
        assert r.status_code == 401, (key, r.text)
        assert r.json()["error"]["code"] == "unauthorized"
    for scope in ("read", "write", "admin"):
        r = srv.client(keys["beta", scope]).request(method, path, json=body)
        assert r.status_code == 403, (scope, r.text)


def test_isolation_of_lists_jobs_uploads_and_keys(env):
    srv, keys = env["srv"], env["keys"]
    beta = srv.client(keys["beta", "admin"])
    assert [k["name"] for k in beta.get("/v1/kbs").json()] == ["beta"]
    assert beta.get(f"/v1/jobs/{env['job_a']}").status_code == 404  # the same answer as for an unknown job
    assert beta.get(f"/v1/jobs/{env['job_b']}").status_code == 200
    r = beta.post("/v1/kbs/alpha/documents", files=[("files", ("x.txt", b"hello"))])
    assert r.status_code == 403
    assert beta.post("/v1/keys", json={"kb": "alpha", "scope": "read"}).status_code == 403
    assert beta.post("/v1/kbs", json={"name": "gamma"}).status_code == 403
    assert srv.client(keys["alpha", "read"]).post("/v1/kbs/alpha/documents",
                                                  files=[("files", ("x.txt", b"hello"))]).status_code == 403
    # a revoked key is 401 from then on
    new = srv.client().post("/v1/keys", json={"kb": "alpha", "scope": "read"}).json()
    assert srv.client(new["key"]).get("/v1/kbs/alpha").status_code == 200
    assert srv.client(keys["alpha", "admin"]).delete(f"/v1/keys/{new['id']}").status_code == 204
    assert srv.client(new["key"]).get("/v1/kbs/alpha").status_code == 401
    listed = srv.client().get("/v1/keys").json()
    assert all("key" not in k and "hash" not in k for k in listed)


@pytest.mark.parametrize("method,path,kwargs,status", [
    ("POST", "/v1/kbs/alpha/search", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 422),
    ("POST", "/v1/kbs/alpha/search", {"json": {"k": 3}}, 422),
    ("POST", "/v1/kbs/alpha/search", {"json": {"query": "x", "k": 0}}, 422),
    ("POST", "/v1/kbs/alpha/query", {"json": {"question": "x", "stream": "maybe"}}, 422),
    ("POST", "/v1/kbs/alpha/documents", {"content": b"--zzz\r\nbroken", "headers": {"content-type":
                                                                                   "multipart/form-data; boundary=zzz"}}, 400),
    ("POST", "/v1/kbs/alpha/documents", {"json": {"files": []}}, 415),
    ("POST", "/v1/kbs/alpha/documents", {"files": [("other", ("a.txt", b"hi"))]}, 422),
    ("POST", "/v1/kbs/nope/search", {"json": {"query": "x"}}, 404),
    ("GET", "/v1/jobs/job_nope", {}, 404),
    ("POST", "/v1/kbs", {"json": {"name": "../etc"}}, 422),
    ("POST", "/v1/kbs", {"json": {"name": "alpha"}}, 409),
    ("POST", "/v1/chat/completions", {"json": {"model": "alpha", "messages": []}}, 422),
    ("POST", "/v1/chat/completions", {"json": {"model": "alpha", "messages": [{"role": "assistant", "content": "x"}]}}, 422),
])
def test_bad_requests_get_a_clear_4xx_json_error(env, method, path, kwargs, status):
    r = env["srv"].client().request(method, path, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["message"] and body["request_id"] == r.headers["x-request-id"]


def test_cors_lets_the_configured_origin_call_the_api_and_refuses_others_in_json(env):
    """A page of RAG_CORS_ORIGINS may call the API from a browser (preflight with the Authorization header,
    then the response readable with its request id); another origin's preflight is 400 in the error shape.
    Before, every preflight was 405 and no response carried Access-Control-Allow-Origin."""
    c = env["srv"].client(None)
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    ok = c.options("/v1/chat/completions", headers={"Origin": PORTAL, **preflight})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == PORTAL
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    r = env["srv"].client(env["keys"]["alpha", "read"]).post("/v1/kbs/alpha/search", json={"query": "card"},
                                                             headers={"Origin": PORTAL})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == PORTAL
    assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
    other = c.options("/v1/chat/completions", headers={"Origin": "https://evil.example.net", **preflight})
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    assert other.json()["error"]["code"] == "cors_refused" and other.json()["request_id"] == other.headers["x-request-id"]
    r = env["srv"].client(env["keys"]["alpha", "read"]).get("/v1/kbs/alpha", headers={"Origin": "https://evil.example.net"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_cors_preflight_passes_every_method_the_api_takes(env):
    """A portal page may call every /v1 route its key allows: a preflight for each method in the OpenAPI schema
    passes, and the synonyms a PUT sets come back readable (PUT was refused, 400 cors_refused)."""
    spec = httpx.get(env["srv"].url + "/openapi.json").json()
    methods = {m.upper() for p, ms in spec["paths"].items() if p.startswith("/v1/") for m in ms}
    assert "PUT" in methods
    c = env["srv"].client(None)
    for method in sorted(methods):
        r = c.options("/v1/kbs/alpha/synonyms", headers={
            "Origin": PORTAL, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type"})
        assert r.status_code == 200 and method in r.headers["access-control-allow-methods"], (method, r.text)
    admin = env["srv"].client(env["keys"]["alpha", "admin"])
    r = admin.put("/v1/kbs/alpha/synonyms", json={"text": "ATM card => debit card"}, headers={"Origin": PORTAL})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == PORTAL, r.text
    assert admin.delete("/v1/kbs/alpha/synonyms").status_code in (200, 204)


def test_a_model_folder_without_a_models_dir_is_refused_with_what_to_set(env, tmp_path):
    """POST /v1/kbs names a model folder only under RAG_MODELS_DIR (unset here): the 422 says so (it listed the
    built-in names alone), and no KB is made."""
    folder = tmp_path / "bank-e5"
    folder.mkdir()
    r = env["srv"].client().post("/v1/kbs", json={"name": "tuned", "embed_model": str(folder)})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_embed_model", r.text
    assert "RAG_MODELS_DIR" in r.json()["error"]["message"] and "e5+minilm" in r.json()["error"]["message"]
    assert env["srv"].client().get("/v1/kbs/tuned").status_code == 404


def test_request_ids_and_json_logs(env):
    srv = env["srv"]
    r = srv.client(env["keys"]["alpha", "read"]).get("/v1/kbs/alpha", headers={"X-Request-ID": "trace-abc-123"})
    assert r.headers["x-request-id"] == "trace-abc-123"
    assert srv.client().get("/healthz").headers["x-request-id"]
    lines = [json.loads(x) for x in srv.log.read_text().splitlines() if x.startswith("{")]
    mine = [x for x in lines if x.get("request_id") == "trace-abc-123"]
    assert mine and mine[-1]["path"] == "/v1/kbs/alpha" and mine[-1]["status"] == 200


def test_openapi_schema_lists_every_route(env):
    spec = httpx.get(env["srv"].url + "/openapi.json").json()
    paths = spec["paths"]
    for p in ("/v1/kbs", "/v1/kbs/{kb}/documents", "/v1/kbs/{kb}/documents/{doc_id}", "/v1/jobs/{job_id}",
              "/v1/kbs/{kb}/search", "/v1/kbs/{kb}/query", "/v1/chat/completions", "/v1/models", "/v1/keys",
              "/healthz", "/readyz"):
        assert p in paths, p
    upload = paths["/v1/kbs/{kb}/documents"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["properties"]["files"]["type"] == "array"
    assert "AnswerOut" in spec["components"]["schemas"]


def test_api_docs_page_works_with_no_way_out(env):
    """/docs draws the routes from the service's own files: FastAPI's page loaded Swagger UI from a CDN and
    was blank on a server with no internet. No inline script, no other host."""
    from tests.chromium import Browser, chromium_path

    url = env["srv"].url
    page = httpx.get(url + "/docs")
    assert page.status_code == 200 and "http" not in page.text and "<script>" not in page.text
    assert "unsafe-inline" not in page.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    assert httpx.get(url + "/docs/static/swagger-ui-bundle.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(url + "/docs/static/..%2Fapp.py").status_code == 404
    assert httpx.get(url + "/redoc").status_code == 404  # ReDoc has no offline copy: not offered
    if chromium_path() is None:
        pytest.fail("Debian's chromium package is needed for this test (apt-get install chromium); .ci/run installs it")
    browser = Browser()
    try:
        browser.goto(url + "/docs")
        browser.wait_for("document.querySelectorAll('.opblock').length > 10", timeout=60)
        shown = browser.eval("document.querySelector('#swagger-ui').textContent")
        assert "/v1/kbs/{kb}/query" in shown and "/v1/chat/completions" in shown
        loaded = browser.eval("performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(name.startswith(url) for name in loaded), loaded
    finally:
        browser.close()


def test_openapi_error_responses_are_the_bodies_the_service_sends(env):
    """Every keyed route documents 401/403/404/422/429 as ErrorBody, and real error bodies validate against
    it (422 was FastAPI's {"detail": [...]}, which the service never sends; 401/403/404 were not listed)."""
    import jsonschema

    spec = httpx.get(env["srv"].url + "/openapi.json").json()
    for path, ops in spec["paths"].items():
        if not path.startswith("/v1/") or path.startswith("/v1/channels/"):
            continue
        for method, op in ops.items():
            for status in ("401", "403", "404", "422", "429"):
                schema = op["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
    assert {"413", "415"} <= set(spec["paths"]["/v1/kbs/{kb}/documents"]["post"]["responses"])
    assert "409" in spec["paths"]["/v1/kbs"]["post"]["responses"]
    assert "503" in spec["paths"]["/v1/chat/completions"]["post"]["responses"]
    error_schema = {"$ref": "#/components/schemas/ErrorBody", "components": spec["components"]}
    c, read = env["srv"].client(), env["srv"].client(env["keys"]["alpha", "read"])
    for r in (httpx.get(env["srv"].url + "/v1/kbs"), read.get("/v1/kbs/beta"), c.get("/v1/kbs/nope"),
              c.post("/v1/kbs/alpha/search", json={"k": "many"}), c.post("/v1/kbs", json={"name": "alpha"}),
              read.post("/v1/chat/completions", json={"model": "alpha", "n": 3,
                                                      "messages": [{"role": "user", "content": "hi"}]})):
        assert r.status_code in (401, 403, 404, 409, 422), r.text
        jsonschema.validate(r.json(), error_schema)


def test_delete_document_and_metrics(env):
    srv, keys = env["srv"], env["keys"]
    w = srv.client(keys["alpha", "write"])
    job = wait_job(w, w.post("/v1/kbs/alpha/documents", files=[("files", ("temp.md", b"# Temp\n\nA temporary "
                                                                           b"note about parking permits."))]).json()["job_id"])
    doc_id = job["files"][0]["doc_id"]
    assert w.delete(f"/v1/kbs/alpha/documents/{doc_id}").status_code == 204
    assert doc_id not in {d["doc_id"] for d in w.get("/v1/kbs/alpha/documents").json()}
    assert w.delete(f"/v1/kbs/alpha/documents/{doc_id}").status_code == 404
    text = httpx.get(srv.url + "/metrics").text
    for name in ("rag_http_requests_total", "rag_stage_seconds_bucket", "rag_generated_tokens_total",
                 "rag_generation_queue_depth", "rag_index_jobs_total", "rag_blocked_inputs_total"):
        assert name in text, name
    assert 'route="/v1/kbs/{kb}/query"' in text


def test_web_page_streams_an_answer_with_clickable_citations(env):
    """The page at / in headless Chromium: pick the KB, ask, see the streamed answer and its citations."""
    from tests.chromium import Browser, chromium_path

    if chromium_path() is None:
        pytest.fail("Debian's chromium package is needed for this test (apt-get install chromium); .ci/run installs it")
    key = env["keys"]["alpha", "read"]
    browser = Browser()
    try:
        browser.goto(f"{env['srv'].url}/#key={key}&kb=alpha&q=How do I report a stolen card?")
        browser.wait_for("document.querySelectorAll('#citations li').length > 0 || "
                         "document.querySelector('#meta').textContent.includes('s ·')", timeout=180)
        answer = browser.eval("document.querySelector('#answer').textContent")
        assert answer.strip()
        assert browser.eval("document.querySelector('#kb').value") == "alpha"
        n_cites = browser.eval("document.querySelectorAll('#citations li').length")
        assert n_cites >= 1, answer
        browser.eval("document.querySelector('#citations li').click()")
        assert browser.eval("document.querySelector('#citations li').classList.contains('active')")
        assert "lost_or_stolen_cards.txt" in browser.eval("document.querySelector('#citations').textContent")
        # a generated answer streams checked sentences: the page says when the first one was shown
        assert "first shown" in browser.eval("document.querySelector('#meta').textContent")
        shot = env["root"] / "web_answer.png"
        browser.screenshot(shot)
        assert shot.stat().st_size > 10_000
        # a Chinese question (default model: extractive answer) says its answer is quoted
        zh_key = env["keys"]["beta", "read"]
        browser.goto(f"{env['srv'].url}/?zh=1#key={zh_key}&kb=beta&q=银行卡丢了怎么挂失？")
        browser.wait_for("document.querySelector('#meta').textContent.includes('s ·')", timeout=120)
        assert "quoted from the documents" in browser.eval("document.querySelector('#meta').textContent")
        assert "挂失" in browser.eval("document.querySelector('#answer').textContent")
        # the page in Chinese: ?lang=zh, as a browser set to Chinese gets it
        browser.goto(f"{env['srv'].url}/?lang=zh#key={zh_key}&kb=beta&q=银行卡丢了怎么挂失？")
        browser.wait_for("document.querySelector('#meta').textContent.includes('秒')", timeout=120)
        assert browser.eval("document.documentElement.lang") == "zh-CN"
        assert browser.eval("document.querySelector('#send').textContent") == "提问"
        assert browser.eval("document.querySelector('#question').placeholder") == "输入问题"
        assert "摘自文档" in browser.eval("document.querySelector('#meta').textContent")
        assert "个片段" in browser.eval("document.querySelector('#docs').textContent")
    finally:
        browser.close()
