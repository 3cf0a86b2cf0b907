"""Deleting a KB forgets what the state database holds for it (channels with their secrets, keys,
answers and votes, experiments, promoted settings, chat conversations), through the API and
`rag kb delete`, on SQLite and on a real PostgreSQL (cluster mode, a replica with `--indexing off`,
whose /readyz says it runs no index worker); and signed chat callbacks with malformed fields are 4xx
with a reason, never a 5xx. Real `rag serve` processes over loopback; the platforms' signatures and
WeCom's AES computed here with hashlib/hmac/cryptography from their public descriptions."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from api.state.factory import open_database
from cli.testing import ROOT, Server
from cli.testing.postgres_server import PostgresServer

APP_SECRET = "dt-app-secret-for-the-old-bot-0001"
TOKEN = "wecomTokenOld42"
AES_KEY = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")  # 43 characters
CORP_ID = "ww00aa11bb22cc33dd"
ENV = {"RAG_ANSWER_MODE": "extract", "RAG_WARM_UP": "false", "RAG_AUTH_FAILURE_LIMIT": "0"}


# ---- the platforms, from their public descriptions ------------------------------------------------------------
def ding_headers(secret: str = APP_SECRET) -> dict[str, str]:
    ts = str(int(time.time() * 1000))
    sign = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode()
    return {"timestamp": ts, "sign": sign, "content-type": "application/json"}


def ding_post(srv: Server, kb: str, body: bytes | dict, secret: str = APP_SECRET) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(f"{srv.url}/v1/channels/dingtalk/{kb}", content=raw, headers=ding_headers(secret), timeout=120)


def ding_text(content: str, **extra) -> dict:
    return {"msgtype": "text", "text": {"content": content}, "msgId": os.urandom(8).hex(), "conversationId": "cid-1",
            "senderStaffId": "staff-1", **extra}


def wx_encrypt(msg: bytes, receive_id: str = CORP_ID) -> str:
    key = base64.b64decode(AES_KEY + "=")
    plain = os.urandom(16) + struct.pack(">I", len(msg)) + msg + receive_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def wx_sign(ts: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([TOKEN, ts, nonce, encrypt])).encode()).hexdigest()


def wx_post(srv: Server, kb: str, inner: bytes | None = None, *, body: bytes | None = None, encrypt: str | None = None,
            nonce: str | None = None, ts: str | None = None) -> httpx.Response:
    """POST a signed callback: `inner` encrypted into a well-formed body, or a `body` of our own whose
    signature covers `encrypt`."""
    ts, nonce = ts or str(int(time.time())), nonce or os.urandom(5).hex()
    if inner is not None:
        encrypt = wx_encrypt(inner)
        body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>" \
               f"<AgentID>1000002</AgentID></xml>".encode()
    return httpx.post(f"{srv.url}/v1/channels/wecom/{kb}", content=body, timeout=120,
                      params={"msg_signature": wx_sign(ts, nonce, encrypt or ""), "timestamp": ts, "nonce": nonce})


def wx_text(content: str, user: str = "zhangsan") -> bytes:
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{time.time_ns()}</MsgId></xml>").encode()


def connect(c: httpx.Client, kb: str) -> None:
    for body in ({"platform": "dingtalk", "app_secret": APP_SECRET},
                 {"platform": "wecom", "token": TOKEN, "aes_key": AES_KEY, "corp_id": CORP_ID}):
        r = c.post(f"/v1/kbs/{kb}/channels", json=body)
        assert r.status_code == 201, r.text


# ---- servers: embedded (SQLite, indexing on) and a cluster replica (PostgreSQL, --indexing off) ------------------
@pytest.fixture(scope="module")
def sqlite_srv(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("sqlite") / "home", **ENV).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def pg_srv(tmp_path_factory):
    with PostgresServer() as pg:
        srv = Server(tmp_path_factory.mktemp("pg") / "home", RAG_DATABASE_URL=pg.url, RAG_INDEXING="false",
                     **ENV).start()
        yield srv
        srv.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def srv(request):
    return request.getfixturevalue("sqlite_srv" if request.param == "sqlite" else "pg_srv")


def state_rows(srv: Server, kb: str) -> dict[str, int]:
    """What the state database (the server's own, read with a second connection) holds for `kb`."""
    from pathlib import Path

    db = open_database(srv.env.get("RAG_DATABASE_URL"), Path(srv.home))
    try:
        n = {t: db.one(f"SELECT count(*) AS n FROM {t} WHERE kb = ?", (kb,))["n"]
             for t in ("channels", "answers", "experiments", "kb_settings", "kb_settings_history", "jobs")}
        n["live_keys"] = db.one("SELECT count(*) AS n FROM keys WHERE kb = ? AND revoked_at IS NULL", (kb,))["n"]
        n["conversations"] = sum(db.one("SELECT count(*) AS n FROM channel_history WHERE substr(conversation, 1, ?) "
                                        "= ?", (len(p), p))["n"] for p in (f"dingtalk:{kb}:", f"wecom:{kb}:"))
        return n
    finally:
        db.close()


# ---- 1. a deleted KB takes its channels and the rest of its state with it ----------------------------------------
def test_deleting_a_kb_forgets_its_channels_keys_answers_and_experiments(srv):
    kb = "hosp"
    with srv.client() as admin:
        assert admin.post("/v1/kbs", json={"name": kb}).status_code == 201
        connect(admin, kb)
        key = admin.post("/v1/keys", json={"kb": kb, "scope": "read"}).json()["key"]
        # an answer with a vote, chat conversations (history kept), an experiment promoted into the KB's settings
        with srv.client(key) as c:
            ans = c.post(f"/v1/kbs/{kb}/query", json={"question": "visiting hours?"}).json()
            assert c.post("/v1/feedback", json={"answer_id": ans["answer_id"], "rating": "down",
                                                "correction": "9 to 5"}).status_code == 200
        r = ding_post(srv, kb, ding_text("what are the visiting hours?"))
        assert r.status_code == 200 and r.json()["msgtype"] == "markdown", r.text
        assert wx_post(srv, kb, wx_text("visiting hours?")).text.startswith("<xml>")
        exp = {"name": "hosp-topk", "arms": [{"name": "a", "share": 1},
                                             {"name": "b", "share": 1, "overrides": {"answer": {"top_k": 1}}}]}
        assert admin.post(f"/v1/kbs/{kb}/experiments", json=exp).status_code == 201
        assert admin.post(f"/v1/kbs/{kb}/experiments/hosp-topk/promote", json={"arm": "b"}).status_code == 200
        before = state_rows(srv, kb)
        assert before["channels"] == 2 and before["answers"] >= 3 and before["experiments"] == 1
        assert before["kb_settings"] == 1 and before["live_keys"] == 1 and before["conversations"] == 2, before

        assert admin.delete(f"/v1/kbs/{kb}").status_code == 204
        assert admin.post("/v1/kbs", json={"name": kb}).status_code == 201  # the same name again

        assert admin.get(f"/v1/kbs/{kb}/channels").json() == []
        gone = state_rows(srv, kb)
        assert gone == dict.fromkeys(gone, 0), gone
        # the old bots are strangers to the new KB; so are the old key and the old answer
        assert ding_post(srv, kb, ding_text("what are the visiting hours?")).status_code == 401
        assert wx_post(srv, kb, wx_text("visiting hours?")).status_code == 401
        assert srv.client(key).get(f"/v1/kbs/{kb}").status_code == 401
        assert admin.post("/v1/feedback", json={"answer_id": ans["answer_id"], "rating": "up"}).status_code == 404
        assert admin.get(f"/v1/kbs/{kb}/experiments").json() == []
        assert admin.post(f"/v1/kbs/{kb}/settings/rollback").status_code == 404  # no promotion to undo
        new = admin.post(f"/v1/kbs/{kb}/query", json={"question": "visiting hours?"}).json()
        assert new["arm"] is None
        assert admin.post(f"/v1/kbs/{kb}/experiments", json=exp).status_code == 201  # the name is free again

        # a bot connected to the new KB is answered; deleting it once more cleans up again
        connect(admin, kb)
        assert ding_post(srv, kb, ding_text("what are the visiting hours?")).status_code == 200
        assert admin.delete(f"/v1/kbs/{kb}").status_code == 204
        assert state_rows(srv, kb)["channels"] == 0


def test_rag_kb_delete_forgets_channels_and_keys_too(srv):
    kb = "clinic"
    with srv.client() as admin:
        assert admin.post("/v1/kbs", json={"name": kb}).status_code == 201
        connect(admin, kb)
        key = admin.post("/v1/keys", json={"kb": kb, "scope": "read"}).json()["key"]
        p = subprocess.run([sys.executable, "-m", "cli", "kb", "delete", kb], cwd=ROOT, env=srv.env,
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        assert state_rows(srv, kb) == dict.fromkeys(state_rows(srv, kb), 0)
        assert admin.post("/v1/kbs", json={"name": kb}).status_code == 201
        assert admin.get(f"/v1/kbs/{kb}/channels").json() == []
        assert ding_post(srv, kb, ding_text("hello?")).status_code == 401
        assert srv.client(key).get(f"/v1/kbs/{kb}").status_code == 401
        admin.delete(f"/v1/kbs/{kb}")
    p = subprocess.run([sys.executable, "-m", "cli", "kb", "delete", kb], cwd=ROOT, env=srv.env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and "does not exist" in p.stderr


# ---- 3. readiness tells whether this process indexes ---------------------------------------------------------
def test_readyz_reports_the_index_worker_as_it_is(sqlite_srv, pg_srv):
    on = httpx.get(sqlite_srv.url + "/readyz")
    off = httpx.get(pg_srv.url + "/readyz")  # rag serve --indexing off: uploads are left to `rag worker`
    assert on.status_code == off.status_code == 200
    assert on.json()["indexing"] is True and on.json()["index_worker"] is True and on.json()["ready"]
    assert off.json()["indexing"] is False and off.json()["index_worker"] is False and off.json()["ready"]


# ---- 2. signed callbacks with malformed fields: 4xx with a reason, never a 5xx -------------------------------------
@pytest.fixture(scope="module")
def bank(sqlite_srv):
    with sqlite_srv.client() as admin:
        assert admin.post("/v1/kbs", json={"name": "bank"}).status_code == 201
        connect(admin, "bank")
    return sqlite_srv


def test_dingtalk_wrong_field_types_are_422_with_the_field_named(bank):
    for body, field in (({"msgtype": "text", "text": "notadict", "msgId": "m2"}, "text"),
                        ({"msgtype": "text", "text": {"content": 5}, "msgId": "m7"}, "text.content")):
        r = ding_post(bank, "bank", body)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["message"].startswith(f"invalid DingTalk message: {field}: "), r.text


def test_dingtalk_fuzz_never_5xx(bank):
    junk = {"a": [1, {"b": [None, True, 1.5, "x" * 100]}] * 50}
    bodies: list[bytes | dict] = [
        {"msgtype": "text", "text": ["content"]}, {"msgtype": 5, "text": {"content": "hi"}},
        {"msgtype": "text", "text": {"content": {"nested": "junk"}}}, {"msgtype": "text", "text": None},
        {"msgtype": "text", "text": {}}, {}, {"msgId": {"a": 1}}, {"msgId": 42}, {"msgId": "m" * 5000},
        ding_text("hours?", senderStaffId=["x"]), ding_text("hours?", conversationId="c" * 3000),
        ding_text("hours?", sessionWebhook=7), ding_text("hours?", sessionWebhookExpiredTime="soon"),
        ding_text("hours?", sessionWebhookExpiredTime=1.5), ding_text("hours?", sessionWebhookExpiredTime=[1]),
        ding_text("hours?", junk=junk), ding_text("hours?", text={"content": "hours?", "junk": junk}),
        ding_text("x" * 50_000),  # too long a question: a chat message saying so
        b"[1, 2, 3]", b"null", b"\"text\"", b"not json", b"", b"\xff\xfe\x00", b"[" * 30_000 + b"]" * 30_000,
        b'{"msgtype": "text", "text": {"content": "a", "x": ' + b'{"x": ' * 5000 + b"1" + b"}" * 5002,
        b"{" + b'"k": 1, ' * 8500 + b'"msgtype": "text"}',  # over 64 KB: 413
    ]
    for body in bodies:
        r = ding_post(bank, "bank", body)
        assert r.status_code < 500, (str(body)[:200], r.status_code, r.text)
        if r.status_code >= 400:
            assert r.status_code in (413, 422) and r.json()["error"]["message"], r.text
    assert ding_post(bank, "bank", ding_text("x" * 50_000)).json()["markdown"]["text"].startswith("The question has")
    assert ding_post(bank, "bank", {"msgtype": "picture", "msgId": "p1"}).status_code == 200  # ignored, acknowledged
    r = ding_post(bank, "bank", ding_text("what are the fees?"))  # still serving
    assert r.status_code == 200 and r.json()["msgtype"] == "markdown"


def test_wecom_fuzz_never_5xx(bank):
    u = "zhangsan"
    inner = [
        b"<xml><MsgType>text</MsgType><Content><a>b</a></Content><FromUserName>u</FromUserName></xml>",
        b"<xml><MsgType><t>text</t></MsgType><Content>hi</Content><FromUserName>u</FromUserName></xml>",
        wx_text("hi", user="u" * 300), wx_text("hi").replace(b"</MsgId>", b"0" * 400 + b"</MsgId>"),
        b"not xml at all", b"", b"\xff\xfe\xfa", b"<xml><Content>&undefined;</Content></xml>",
        b"<xml>" + b"<a>" * 6000 + b"</a>" * 6000 + b"</xml>", b"<xml><Content>unclosed</xml>",
        b"<xml><FromUserName>u</FromUserName><MsgType>event</MsgType><Event>enter_agent</Event></xml>",
        wx_text("x" * 30_000, user=u), wx_text("hi", user=""),
    ]
    for msg in inner:
        r = wx_post(bank, "bank", msg)
        assert r.status_code < 500, (msg[:120], r.status_code, r.text)
        if r.status_code >= 400:
            assert r.status_code in (413, 422) and r.json()["error"]["message"], r.text
    nested = wx_post(bank, "bank", inner[0])
    assert nested.status_code == 422 and "Content" in nested.json()["error"]["message"]
    assert wx_post(bank, "bank", inner[2]).status_code == 422  # a user id over 256 characters
    # the outer body (checked before the signature, so some are 401), query values out of shape
    enc = wx_encrypt(wx_text("hi"))
    for body in (b"<xml><Encrypt><x>" + enc.encode() + b"</x></Encrypt></xml>", b"<xml></xml>", b"{}", b"",
                 b"<xml><Encrypt>" + b"A" * 70_000 + b"</Encrypt></xml>", b"<xml><Encrypt>%s</Encrypt>" % enc.encode()):
        r = wx_post(bank, "bank", body=body, encrypt=enc)
        assert r.status_code in (401, 413, 422), (body[:80], r.status_code, r.text)
    assert wx_post(bank, "bank", wx_text("hi"), nonce="n" * 500).status_code == 401
    assert wx_post(bank, "bank", wx_text("hi"), ts=f"{int(time.time()):_}").status_code == 401  # digits only
    assert httpx.get(f"{bank.url}/v1/channels/wecom/bank", params={"echostr": "!!", "msg_signature": "x",
                                                                    "timestamp": "1", "nonce": "n"}).status_code == 401
    r = wx_post(bank, "bank", wx_text("what are the fees?", user=u))  # still serving
    assert r.status_code == 200 and ET.fromstring(r.text).find("Encrypt") is not None


# ---- 4. a DTD is refused, and the answer says so ------------------------------------------------------------------
def test_wecom_dtd_is_refused_by_name(bank):
    dtd = (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           b"<xml><MsgType>text</MsgType><Content>&e;</Content><FromUserName>u</FromUserName></xml>")
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE xml><xml><MsgType>text</MsgType>'
             '<Content>hi</Content><FromUserName>u</FromUserName></xml>').encode("utf-16")
    for msg in (dtd, utf16):
        r = wx_post(bank, "bank", msg)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "dtd_refused"
        assert r.json()["error"]["message"].startswith("the decrypted message holds a DTD"), r.text
    # in the outer body too (before the signature is checked)
    enc = wx_encrypt(wx_text("hi"))
    r = wx_post(bank, "bank", body=b"<!DOCTYPE xml><xml><Encrypt>" + enc.encode() + b"</Encrypt></xml>", encrypt=enc)
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("the callback body holds a DTD")
    # "<!DOCTYPE" typed in a chat message is text, not a declaration: answered
    r = wx_post(bank, "bank", wx_text("what does <!DOCTYPE html> mean?"))
    assert r.status_code == 200 and ET.fromstring(r.text).find("Encrypt") is not None
