"""Request bodies built to fill the service's memory, over loopback against a real `rag serve`: a JSON
body of many megabytes (with and without Content-Length, with no key at all) and an upload padded
with thousands of form fields. Each is refused early, the process's memory stays flat, and the
service answers afterwards."""
from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from cli.testing import Server, wait_job
from tests.conftest import SAMPLE

CARDS = SAMPLE / "en" / "lost_or_stolen_cards.txt"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("bodies") / "home", RAG_MAX_BODY_MB="1").start()
    admin = server.client()
    admin.post("/v1/kbs", json={"name": "bank"})
    job = admin.post("/v1/kbs/bank/documents", files=[("files", (CARDS.name, CARDS.read_bytes()))]).json()
    wait_job(admin, job["job_id"])
    yield server
    server.stop()


def rss(server: Server) -> float:
    for line in httpx.get(server.url + "/metrics").text.splitlines():
        if line.startswith("process_resident_memory_bytes "):
            return float(line.split()[1])
    raise AssertionError("no process_resident_memory_bytes in /metrics")


def test_json_body_over_the_limit_is_413_before_the_key_is_checked(srv):
    before = rss(srv)
    body = json.dumps({"question": "x" * (40 * 2**20)}).encode()  # 40 MB, no key
    r = httpx.post(srv.url + "/v1/kbs/bank/query", content=body, timeout=60,
                   headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    err = r.json()
    assert err["error"]["code"] == "body_too_large" and "RAG_MAX_BODY_MB" in err["error"]["message"]
    assert err["request_id"] == r.headers["x-request-id"]

    def chunks():  # no Content-Length: counted as it arrives
        yield b'{"question": "'
        for _ in range(40 * 16):
            yield b"y" * 65536
        yield b'"}'
    try:
        r = httpx.post(srv.url + "/v1/chat/completions", content=chunks(), timeout=60,
                       headers={"content-type": "application/json", "authorization": "Bearer test-admin-key"})
        assert r.status_code == 413, r.text
    except httpx.HTTPError:
        pass  # the server answered 413 and closed while the client was still sending: also a refusal
    assert rss(srv) < before + 30 * 2**20  # never held either body (40 MB each)


@pytest.mark.slow
def test_bodies_under_the_limit_and_uploads_over_it_still_work(srv):
    c = srv.client()
    history = [{"role": "user", "content": "卡丢了怎么办？" * 2000}] * 10  # 140,000 characters: under 1 MB
    r = c.post("/v1/kbs/bank/query", json={"question": "How do I report a lost card?", "history": history})
    assert r.status_code == 200, r.text
    big = CARDS.read_bytes() + b"\n" + b"Cards are replaced within five days.\n" * 40_000  # 1.5 MB file
    r = c.post("/v1/kbs/bank/documents", files=[("files", ("long_cards.txt", big))])
    assert r.status_code == 202, r.text
    assert wait_job(c, r.json()["job_id"])["files"][0]["status"] == "indexed"


def _multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_upload_padded_with_form_fields_is_refused_without_keeping_them(srv):
    before = rss(srv)
    pad = b"v" * 60_000
    body, ctype = _multipart([(f"f{i}", None, pad) for i in range(21)] + [("files", "a.txt", b"hello there")])
    r = srv.client().post("/v1/kbs/bank/documents", content=body, headers={"content-type": ctype})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_many_fields", r.text

    # unknown fields are skipped unread: 20 of 60 KB each and a file go through, nothing of them kept
    body, ctype = _multipart([(f"f{i}", None, pad) for i in range(20)] + [("files", "padded.txt", CARDS.read_bytes())])
    r = srv.client().post("/v1/kbs/bank/documents", content=body, headers={"content-type": ctype})
    assert r.status_code == 202, r.text
    body, ctype = _multipart([("tags", None, b"dept=retail"), ("tags", None, b"dept=risk"),
                              ("files", "t.txt", b"hello there")])
    r = srv.client().post("/v1/kbs/bank/documents", content=body, headers={"content-type": ctype})
    assert r.status_code == 422 and r.json()["error"]["code"] == "duplicate_field", r.text
    assert rss(srv) < before + 30 * 2**20
    assert srv.client().post("/v1/kbs/bank/search", json={"query": "lost card"}).status_code == 200


def test_a_file_named_only_by_its_extension_is_uploaded_as_that_type(srv):
    """'.txt' lost its leading dot ('txt') and was refused with 415 'txt: files without an extension'."""
    c = srv.client()
    r = c.post("/v1/kbs/bank/documents", files=[
        ("files", (".txt", b"Safe deposit boxes rent for 80 dollars a year.\n")),
        ("files", ("../.md", "# 保管箱\n\n保管箱年租金为80元。\n".encode()))])
    assert r.status_code == 202, r.text
    files = wait_job(c, r.json()["job_id"])["files"]
    assert [(f["filename"], f["status"]) for f in files] == [(".txt", "indexed"), (".md", "indexed")], files
    for query, expected in (("safe deposit box rent", "80 dollars"), ("保管箱年租金", "80元")):
        hits = c.post("/v1/kbs/bank/search", json={"query": query}).json()
        assert expected in json.dumps(hits, ensure_ascii=False), hits
    r = c.post("/v1/kbs/bank/documents", files=[("files", (".bashrc", b"export A=1\n"))])
    assert r.status_code == 415 and r.json()["error"]["message"].startswith(".bashrc: .bashrc is not a supported"), r.text


def test_json_nested_past_the_limit_is_422_in_the_error_shape(srv):
    """10,000 nested arrays were answered 400 'There was an error parsing the body' (json.loads hit the
    recursion limit), not the documented 422 {"error": {"code", "message"}, "request_id"}."""
    from websockets.sync.client import connect

    c = srv.client()
    deep = '{"question": "How do I report a lost card?", "history": ' + "[" * 10_000 + "]" * 10_000 + "}"
    for path, headers in (("/v1/kbs/bank/query", {"content-type": "application/json"}),
                          ("/v1/kbs/bank/search", {}),  # no Content-Type: FastAPI reads JSON all the same
                          ("/v1/chat/completions", {"content-type": "application/json; charset=utf-8"})):
        r = c.post(path, content=deep.encode(), headers=headers)
        assert r.status_code == 422, (path, r.status_code, r.text)
        error = r.json()["error"]
        assert error["code"] == "json_too_deep" and "more than 32 levels deep" in error["message"], r.text
        assert r.json()["request_id"] == r.headers["x-request-id"]
    # brackets in strings are text; 32 levels are still read (and fail validation as usual)
    r = c.post("/v1/kbs/bank/search", json={"query": "[[[[ lost card ]]]] " + "{" * 100})
    assert r.status_code == 200, r.text
    r = c.post("/v1/kbs/bank/search", content=("[" * 32 + "]" * 32).encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request", r.text

    # the nesting count is linear: ~0.9 MB of escaped quotes in a string left open took the old count
    # quadratic time (19 s for 80 KB); over HTTP and on the WebSocket it is refused at once
    open_string = "[" * 40 + '"' + '\\"' * 450_000
    started = time.monotonic()
    r = c.post("/v1/kbs/bank/search", content=open_string.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "json_too_deep", r.text
    url = srv.url.replace("http", "ws", 1) + "/v1/kbs/bank/ws"
    with connect(url, additional_headers={"Authorization": c.headers["authorization"]}) as ws:
        ws.send(open_string)
        try:
            while True:
                ws.recv(timeout=30)
        except ConnectionClosed as e:
            assert e.rcvd is not None and e.rcvd.code == 1007 and "deep" in e.rcvd.reason, e
    assert time.monotonic() - started < 10
    assert c.post("/v1/kbs/bank/search", json={"query": "lost card"}).status_code == 200
