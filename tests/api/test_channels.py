"""Bot channels against a real `rag serve` over loopback, with a fake DingTalk / WeCom written here from
the platforms' public protocol descriptions (signatures and AES computed with hashlib/hmac/cryptography
directly, not with api.channels), and a local HTTP server standing in for DingTalk's sessionWebhook
and WeCom's gettoken / message/send API."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import struct
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from api.channels.split import split_message, truncate_message
from cli.testing import ROOT, Server, wait_job

KB = "bank"
APP_SECRET = "dt-app-secret-0123456789abcdefXYZ1"
TOKEN = "wecomToken5678"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters
CORP_ID = "ww0123456789abcdef"
CORP_SECRET = "corp-secret-abcdefghijklmnop9876"
AGENT_ID = "1000002"
FILES = ["en/branches_and_hours.txt", "en/lost_or_stolen_cards.txt", "zh/branches_and_hours.md",
         "zh/card_loss_reporting.txt"]


# ---- the fake platform (from the public docs) ---------------------------------------------------------
def ding_sign(secret: str, ts: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode()


def wx_sig(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def wx_key() -> bytes:
    return base64.b64decode(AES_KEY + "=")


def wx_encrypt(msg: bytes, receive_id: str = CORP_ID) -> str:
    key = wx_key()
    plain = os.urandom(16) + struct.pack(">I", len(msg)) + msg + receive_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def wx_decrypt(encrypt: str) -> tuple[bytes, str]:
    key = wx_key()
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = dec.update(base64.b64decode(encrypt)) + dec.finalize()
    plain = plain[:-plain[-1]]
    n = struct.unpack(">I", plain[16:20])[0]
    return plain[20:20 + n], plain[20 + n:].decode()


class Fake:
    """sessionWebhook + WeCom API: records what the service sends."""

    def __init__(self):
        self.posts: list[tuple[str, dict]] = []
        self.token_calls: list[dict] = []
        self.failing: set[str] = set()  # path prefixes whose POSTs get a 500 (a platform outage)
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _json(self, obj):
                body = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                u = urlparse(self.path)
                if u.path == "/cgi-bin/gettoken":
                    q = {k: v[0] for k, v in parse_qs(u.query).items()}
                    fake.token_calls.append(q)
                    ok = q.get("corpid") == CORP_ID and q.get("corpsecret") == CORP_SECRET
                    return self._json({"errcode": 0, "access_token": "AT-1", "expires_in": 7200} if ok
                                      else {"errcode": 40001, "errmsg": "invalid credential"})
                self._json({"errcode": 404})

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                fake.posts.append((self.path, body))
                if any(self.path.startswith(p) for p in fake.failing):
                    self.send_error(500)
                    return
                self._json({"errcode": 0, "errmsg": "ok"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, pred, timeout: float = 60) -> list[tuple[str, dict]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [p for p in self.posts if pred(p)]
            if got:
                return got
            time.sleep(0.1)
        raise AssertionError(f"nothing arrived; got {self.posts}")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    fake = Fake()
    srv = Server(tmp_path_factory.mktemp("channels") / "home", RAG_ANSWER_MODE="extract",
                 RAG_DINGTALK_WEBHOOK_PREFIXES=fake.url + "/", RAG_WECOM_API_BASE=fake.url).start()
    with srv.client() as c:
        assert c.post("/v1/kbs", json={"name": KB}).status_code == 201
        files = [("files", (Path(f).name, (ROOT / "data/sample" / f).read_bytes(), "application/octet-stream"))
                 for f in FILES]
        r = c.post(f"/v1/kbs/{KB}/documents", files=files)
        assert r.status_code == 202, r.text
        assert {f["status"] for f in wait_job(c, r.json()["job_id"])["files"]} == {"indexed"}
        r = c.post(f"/v1/kbs/{KB}/channels", json={"platform": "dingtalk", "app_secret": APP_SECRET})
        assert r.status_code == 201, r.text
        r = c.post(f"/v1/kbs/{KB}/channels", json={"platform": "wecom", "token": TOKEN, "aes_key": AES_KEY,
                                                   "corp_id": CORP_ID, "corp_secret": CORP_SECRET,
                                                   "agent_id": AGENT_ID})
        assert r.status_code == 201, r.text
        c.post(f"/v1/kbs/{KB}/query", json={"question": "opening hours"})  # loads the pipeline
    yield srv, fake
    srv.stop()
    fake.httpd.shutdown()


def _set_wait(srv, platform: str, wait_s: float | None) -> None:
    body = ({"platform": "dingtalk", "app_secret": APP_SECRET} if platform == "dingtalk" else
            {"platform": "wecom", "token": TOKEN, "aes_key": AES_KEY, "corp_id": CORP_ID,
             "corp_secret": CORP_SECRET, "agent_id": AGENT_ID})
    with srv.client() as c:
        assert c.post(f"/v1/kbs/{KB}/channels", json={**body, "wait_s": wait_s}).status_code == 201


_n = iter(range(10**6))


def ding_post(srv, content: str, *, ts: int | None = None, secret: str = APP_SECRET, sign: str | None = None,
              msg_id: str | None = None, webhook: str = "", kb: str = KB) -> httpx.Response:
    ts = str(ts if ts is not None else int(time.time() * 1000))
    msg = {"msgtype": "text", "text": {"content": " " + content}, "msgId": msg_id or f"msg{next(_n)}-{time.time()}",
           "conversationId": "cid-42", "conversationType": "2", "senderStaffId": "staff-7", "senderId": "$:LWCP",
           "senderNick": "Li", "sessionWebhook": webhook, "sessionWebhookExpiredTime": int(time.time() * 1000) + 3600_000,
           "chatbotUserId": "bot"}
    return httpx.post(f"{srv.url}/v1/channels/dingtalk/{kb}", json=msg, timeout=60,
                      headers={"timestamp": ts, "sign": sign or ding_sign(secret, ts)})


def wx_message(content: str, user: str = "zhangsan", msg_id: str | None = None) -> bytes:
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id or str(next(_n)) + str(time.time_ns())}</MsgId>"
            f"<AgentID>{AGENT_ID}</AgentID></xml>").encode()


def wx_post(srv, inner: bytes, *, receive_id: str = CORP_ID, ts: int | None = None, nonce: str | None = None,
            tamper: bool = False, kb: str = KB) -> httpx.Response:
    ts_s, nonce = str(ts if ts is not None else int(time.time())), nonce or os.urandom(6).hex()
    enc = wx_encrypt(inner, receive_id)
    sig = wx_sig(TOKEN, ts_s, nonce, enc)
    if tamper:
        sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt>" \
           f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>"
    return httpx.post(f"{srv.url}/v1/channels/wecom/{kb}", content=body.encode(), timeout=60,
                      params={"msg_signature": sig, "timestamp": ts_s, "nonce": nonce})


def wx_open_reply(xml: str) -> str:
    outer = {e.tag: e.text or "" for e in ET.fromstring(xml)}
    assert outer["MsgSignature"] == wx_sig(TOKEN, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"])
    inner, receive_id = wx_decrypt(outer["Encrypt"])
    assert receive_id == CORP_ID
    msg = {e.tag: e.text or "" for e in ET.fromstring(inner)}
    assert msg["MsgType"] == "text" and msg["ToUserName"] == "zhangsan"
    return msg["Content"]


# ---- splitter ---------------------------------------------------------------------------------------------
MARK = re.compile(r"\[\d+\]")


@pytest.mark.parametrize("limit", [64, 101, 2048])
def test_split_keeps_characters_and_markers(limit):
    text = ("挂失银行卡请拨打客服热线400-106-9588，核实身份后即可办理临时挂失[1]。" * 40 + "\n\n"
            + "Branches open 9:00 a.m. to 5:00 p.m. on weekdays [2]. " * 30 + "最后一句没有标点" * 20 + "[12]")
    parts = split_message(text, limit)
    assert len(parts) > 1
    assert all(len(p.encode()) <= limit for p in parts)
    assert "".join(parts).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    assert sum(len(MARK.findall(p)) for p in parts) == len(MARK.findall(text))
    for p in parts:  # no marker cut in half at either end
        assert not re.search(r"\[\d*$", p) and not re.match(r"^\d*\]", p)
    cut = truncate_message(text, limit)
    assert len(cut.encode()) <= limit and cut.endswith("…")
    assert split_message("短", 64) == ["短"] and truncate_message("短", 64) == "短"


def test_split_prefers_sentence_breaks():
    text = "第一句话说完了。" * 10  # 24 bytes each
    parts = split_message(text, 100)
    assert all(p.endswith("。") for p in parts)


# ---- settings ------------------------------------------------------------------------------------------------
def test_settings_are_masked_and_admin_only(env):
    srv, _ = env
    with srv.client() as c:
        r = c.get(f"/v1/kbs/{KB}/channels")
        assert r.status_code == 200
        shown = {ch["platform"]: ch["settings"] for ch in r.json()}
        assert shown["dingtalk"]["app_secret"] == "…" + APP_SECRET[-4:]
        assert shown["wecom"]["corp_id"] == CORP_ID
        for secret in (APP_SECRET, TOKEN, AES_KEY, CORP_SECRET):
            assert secret not in r.text
        assert c.post(f"/v1/kbs/{KB}/channels", json={"platform": "wecom", "token": "t", "aes_key": "short",
                                                      "corp_id": "c"}).status_code == 422
        key = c.post("/v1/keys", json={"kb": KB, "scope": "read"}).json()["key"]
    with srv.client(key) as c:
        assert c.get(f"/v1/kbs/{KB}/channels").status_code == 403
        assert c.post(f"/v1/kbs/{KB}/channels", json={"platform": "dingtalk", "app_secret": "x"}).status_code == 403


# ---- DingTalk ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("question", ["What are the branch opening hours on Saturday?", "银行卡丢失了怎么挂失？"])
def test_dingtalk_answers_with_sources(env, question):
    srv, _ = env
    r = ding_post(srv, question)
    assert r.status_code == 200, r.text
    msg = r.json()
    assert msg["msgtype"] == "markdown" and msg["markdown"]["title"]
    text = msg["markdown"]["text"]
    assert MARK.search(text), text
    assert "**Sources**" in text and re.search(r"^1\. ", text, re.M), text
    assert len(text.encode()) <= 5000


def test_dingtalk_refuses_bad_signature_stale_time_and_replay(env):
    srv, fake = env
    before = len(fake.posts)
    assert ding_post(srv, "opening hours?", sign=ding_sign("wrong-secret", str(int(time.time() * 1000)))).status_code == 401
    assert ding_post(srv, "opening hours?", secret=APP_SECRET + "x").status_code == 401
    stale = int(time.time() * 1000) - 2 * 3600 * 1000
    assert ding_post(srv, "opening hours?", ts=stale).status_code == 401
    first = ding_post(srv, "Which branch is open on Sundays?", msg_id="replayed-1")
    assert first.status_code == 200 and first.json()["msgtype"] == "markdown"
    again = ding_post(srv, "Which branch is open on Sundays?", msg_id="replayed-1")
    assert again.status_code == 200 and again.content == b""
    time.sleep(0.5)
    assert len(fake.posts) == before


def test_dingtalk_slow_answer_goes_to_session_webhook(env):
    srv, fake = env
    _set_wait(srv, "dingtalk", 0.001)  # shorter than any answer: retrieval alone takes longer
    try:
        hook = f"{fake.url}/robot/sendBySession?session=s{time.time_ns()}"
        r = ding_post(srv, "How do I report a stolen card?", webhook=hook)
        assert r.status_code == 200 and r.content == b""
        (path, body), = fake.wait(lambda p: p[0] == hook[len(fake.url):])
        assert body["msgtype"] == "markdown" and MARK.search(body["markdown"]["text"])
        # a webhook outside the allowed prefixes is never posted to
        # a question of its own (no answer cached from the tests before: that one would come back at once)
        r = ding_post(srv, f"When do branches close on Christmas Eve, ticket {time.time_ns()}?",
                      webhook="http://169.254.169.254/x")
        assert r.status_code == 200 and r.content == b""
    finally:
        _set_wait(srv, "dingtalk", None)


# ---- WeCom -------------------------------------------------------------------------------------------------------
def test_wecom_url_verification(env):
    srv, _ = env
    ts, nonce, echo = str(int(time.time())), "n0nce", "echo-1234567890"
    enc = wx_encrypt(echo.encode())
    r = httpx.get(f"{srv.url}/v1/channels/wecom/{KB}",
                  params={"msg_signature": wx_sig(TOKEN, ts, nonce, enc), "timestamp": ts, "nonce": nonce,
                          "echostr": enc})
    assert r.status_code == 200 and r.text == echo
    r = httpx.get(f"{srv.url}/v1/channels/wecom/{KB}",
                  params={"msg_signature": wx_sig("other", ts, nonce, enc), "timestamp": ts, "nonce": nonce,
                          "echostr": enc})
    assert r.status_code == 401


@pytest.mark.parametrize("question", ["What are the branch opening hours on Saturday?", "营业时间是几点到几点？"])
def test_wecom_passive_reply_with_sources(env, question):
    srv, _ = env
    r = wx_post(srv, wx_message(question))
    assert r.status_code == 200, r.text
    content = wx_open_reply(r.text)
    assert MARK.search(content) and "Sources:" in content, content
    assert len(content.encode()) <= 2048


def test_wecom_refuses_tampering_wrong_corp_stale_and_replay(env):
    srv, fake = env
    before = len(fake.posts)
    assert wx_post(srv, wx_message("opening hours?"), tamper=True).status_code == 401
    assert wx_post(srv, wx_message("opening hours?"), receive_id="wwSomeoneElse").status_code == 401
    assert wx_post(srv, wx_message("opening hours?"), ts=int(time.time()) - 7200).status_code == 401
    inner = wx_message("Which branch is open on Sundays?", msg_id="777")
    first = wx_post(srv, inner, nonce="fixed-nonce-1")
    assert first.status_code == 200 and wx_open_reply(first.text)
    assert wx_post(srv, inner).content == b""  # same MsgId, new nonce
    assert wx_post(srv, wx_message("Which branch?"), ts=int(first.request.url.params["timestamp"]),
                   nonce="fixed-nonce-1").content == b""  # same timestamp and nonce
    time.sleep(0.5)
    assert len(fake.posts) == before


def test_wecom_slow_answer_goes_through_message_send(env):
    srv, fake = env
    _set_wait(srv, "wecom", 0.001)
    try:
        r = wx_post(srv, wx_message("挂失后多久可以补办新卡？", user="lisi"))
        assert r.status_code == 200 and r.content == b""
        (path, body), = fake.wait(lambda p: p[0].startswith("/cgi-bin/message/send") and p[1].get("touser") == "lisi")
        assert "access_token=AT-1" in path
        assert body["msgtype"] == "text" and str(body["agentid"]) == AGENT_ID
        assert len(body["text"]["content"].encode()) <= 2048 and body["text"]["content"]
        assert fake.token_calls and fake.token_calls[-1]["corpsecret"] == CORP_SECRET
    finally:
        _set_wait(srv, "wecom", None)


def test_no_secrets_or_signatures_in_logs(env):
    srv, _ = env
    log = srv.log.read_text(errors="replace")
    assert "/v1/channels/wecom" in log  # the access log saw the callbacks
    for secret in (APP_SECRET, TOKEN, AES_KEY, CORP_SECRET, "AT-1"):
        assert secret not in log
    assert "msg_signature=[redacted]" in log or "msg_signature=%5Bredacted%5D" in log
    assert not re.search(r"msg_signature=[0-9a-f]{40}", log)


def test_cli_add_list_remove(env):
    import subprocess
    import sys

    srv, _ = env

    def rag(*args):
        return subprocess.run([sys.executable, "-m", "cli", "--home", str(srv.home), "channel", *args], cwd=ROOT,
                              env={**srv.env}, capture_output=True, text=True, timeout=120)

    secret = "cli-secret-abcdefgh4321"
    r = rag("add", "dingtalk", "--kb", KB, "--app-secret", secret)
    assert r.returncode == 0, r.stderr
    assert secret not in r.stdout and "…4321" in r.stdout
    listed = rag("list", "--kb", KB)
    assert listed.returncode == 0 and "dingtalk" in listed.stdout and "wecom" in listed.stdout
    assert secret not in listed.stdout and CORP_SECRET not in listed.stdout
    ts = str(int(time.time() * 1000))
    assert ding_post(srv, "opening hours?", sign=ding_sign(secret, ts), ts=int(ts)).status_code == 200
    assert ding_post(srv, "opening hours?").status_code == 401  # the old secret no longer signs
    assert rag("add", "wecom", "--kb", KB, "--token", "t", "--aes-key", "bad", "--corp-id", "c").returncode != 0
    assert rag("add", "dingtalk", "--kb", "nope", "--app-secret", "x").returncode != 0
    assert rag("remove", "dingtalk", "--kb", KB).returncode == 0
    assert ding_post(srv, "opening hours?").status_code == 401
    assert rag("remove", "dingtalk", "--kb", KB).returncode != 0
    _set_wait(srv, "dingtalk", None)  # back as the other tests set it up


def test_dingtalk_signed_headers_are_good_for_one_message(env):
    """DingTalk signs the timestamp, not the body: the headers of one callback, reused with another message
    and msgId (English or Chinese), get no answer and post nothing."""
    srv, fake = env
    before = len(fake.posts)
    ts = str(int(time.time() * 1000))
    sign = ding_sign(APP_SECRET, ts)
    first = ding_post(srv, "Which branch is open on Sundays?", ts=int(ts), sign=sign)
    assert first.status_code == 200 and first.json()["msgtype"] == "markdown"
    for question in ("How do I report a lost card?", "银行卡丢了怎么挂失？"):
        forged = ding_post(srv, question, ts=int(ts), sign=sign, webhook=fake.url + "/forged")
        assert forged.status_code == 200 and forged.content == b""
    time.sleep(1.5)
    assert len(fake.posts) == before
    # a fresh timestamp and signature is answered as before
    assert ding_post(srv, "How do I report a lost card?").json()["msgtype"] == "markdown"


def _ding_raw(srv, msg: dict) -> httpx.Response:
    ts = str(int(time.time() * 1000))
    msg = {"msgId": f"raw{next(_n)}-{time.time()}", "conversationId": "cid-43", "senderStaffId": "staff-8",
           "sessionWebhook": "", **msg}
    return httpx.post(f"{srv.url}/v1/channels/dingtalk/{KB}", json=msg, timeout=60,
                      headers={"timestamp": ts, "sign": ding_sign(APP_SECRET, ts)})


@pytest.mark.parametrize("question, source", [("How do I report a lost card?", "lost_or_stolen_cards.txt"),
                                              ("银行卡丢了怎么挂失？", "card_loss_reporting.txt")])
def test_dingtalk_rich_text_question_next_to_a_picture_is_answered(env, question, source):
    """A screenshot pasted with a question arrives as richText (as DingTalk's stream SDK test data shows it)."""
    srv, _ = env
    picture = {"downloadCode": "mIofN681YE3f", "pictureDownloadCode": "9hSK+hQy", "type": "picture"}
    r = _ding_raw(srv, {"msgtype": "richText", "content": {"richText": [picture, {"text": "\n"}, {"text": question}]}})
    assert r.status_code == 200, r.text
    md = r.json()["markdown"]
    assert md["title"] == question and source in md["text"] and "[1]" in md["text"]


def test_pictures_files_and_voice_get_a_reply_asking_for_text(env):
    srv, _ = env
    for msg in ({"msgtype": "picture", "content": {"downloadCode": "x", "pictureDownloadCode": "y"}},
                {"msgtype": "file", "content": {"downloadCode": "x", "fileName": "statement.pdf"}},
                {"msgtype": "audio", "content": {"downloadCode": "x", "duration": 4000}},
                {"msgtype": "richText", "content": {"richText": [{"downloadCode": "x", "type": "picture"}]}}):
        r = _ding_raw(srv, msg)
        assert r.status_code == 200, r.text
        text = r.json()["markdown"]["text"]
        assert "请用文字提问" in text and "Please type your question" in text, msg
    assert _ding_raw(srv, {"msgtype": "richText", "content": "not an object"}).status_code == 422
    image = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>"
             f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
             f"<PicUrl><![CDATA[http://example.com/a.png]]></PicUrl><MediaId><![CDATA[m1]]></MediaId>"
             f"<MsgId>{next(_n)}{time.time_ns()}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>").encode()
    r = wx_post(srv, image)
    assert r.status_code == 200 and "请用文字提问" in wx_open_reply(r.text)
    event = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>"
             f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
             f"<Event><![CDATA[enter_agent]]></Event><AgentID>{AGENT_ID}</AgentID></xml>").encode()
    r = wx_post(srv, event)
    assert r.status_code == 200 and r.text == ""  # entering the app is not a message


@pytest.mark.parametrize("question, told", [("Why " * 2000 + "?", "The question has 8001 characters; the limit is"),
                                            ("为什么" * 2000 + "？", "问题有 6001 个字符，超过了")])
def test_chat_notices_are_in_the_language_of_the_question(env, question, told):
    srv, _ = env
    r = ding_post(srv, question)
    assert r.status_code == 200 and r.json()["markdown"]["text"].startswith(told)
    r = wx_post(srv, wx_message(question))
    assert r.status_code == 200 and wx_open_reply(r.text).startswith(told)


def test_the_wait_counts_from_when_the_callback_arrived(env):
    """A callback whose body took the channel's whole wait to arrive is acknowledged at once and answered through
    the sessionWebhook: a reply after the platform's time is over would be lost (it has given up, and its retry
    of the message is taken for a replay)."""
    srv, fake = env
    _set_wait(srv, "dingtalk", 1.5)
    try:
        hook = f"/robot/sendBySession?session=late{time.time_ns()}"
        ts = str(int(time.time() * 1000))
        msg = {"msgtype": "text", "text": {"content": "How do I report a lost card?"}, "msgId": f"late{time.time_ns()}",
               "conversationId": "cid-44", "senderStaffId": "staff-9", "sessionWebhook": fake.url + hook,
               "sessionWebhookExpiredTime": int(time.time() * 1000) + 3600_000}
        raw = json.dumps(msg).encode()

        def slowly():  # as over a slow link: the last bytes after 2 s
            yield raw[:20]
            time.sleep(2)
            yield raw[20:]

        t0 = time.monotonic()
        r = httpx.post(f"{srv.url}/v1/channels/dingtalk/{KB}", content=slowly(), timeout=60,
                       headers={"timestamp": ts, "sign": ding_sign(APP_SECRET, ts), "Content-Type": "application/json"})
        assert r.status_code == 200 and r.content == b"" and time.monotonic() - t0 < 3
        (_, body), = fake.wait(lambda p: p[0] == hook)
        assert "lost_or_stolen_cards.txt" in body["markdown"]["text"]
    finally:
        _set_wait(srv, "dingtalk", None)


# 12 steps of long words: the quoted steps (~5,400 bytes) take two DingTalk messages and three WeCom texts
_PAPERS = ("OriginalBusinessLicenceCertificate LegalRepresentativeIdentityDocument CompanyOfficialSealImpression "
           "ArticlesOfAssociationNotarised BoardResolutionAuthorisationLetter BeneficialOwnershipDeclarationForm "
           "TaxRegistrationCertificateOriginal OrganisationCodeCertificateCopy AuthorisedSignatoryIdentityDocument "
           "RegisteredAddressProofUtilityBill FinancialStatementsLatestAudited ShareholderRegisterCertifiedExtract "
           "BankReferenceLetterFromPreviousBank CompanyStampSpecimenCardSigned")
LONG_STEPS = "# Opening a business account\n\n## How do I open a business account?\n\n" + "".join(
    f"{i}. Bring {_PAPERS} copy{i}.\n" for i in range(1, 13))


def _send_failures(srv) -> list[dict]:
    lines = [json.loads(x) for x in srv.log.read_text(errors="replace").splitlines() if x.startswith("{")]
    return [x for x in lines if x.get("event") == "channel_send_failed"]


def test_a_failed_send_of_an_answers_later_parts_is_logged_with_the_channel_and_reason(env):
    """The first part goes back in the callback's response; the later ones are sent afterwards. When the
    platform fails that second send (HTTP 500), the log says channel_send_failed with the channel and the
    reason, not asyncio's "Task exception was never retrieved"."""
    srv, fake = env
    kb = "bank-steps"
    with srv.client() as c:
        assert c.post("/v1/kbs", json={"name": kb}).status_code == 201
        r = c.post(f"/v1/kbs/{kb}/documents", files=[("files", ("business.md", LONG_STEPS.encode(), "text/markdown"))])
        assert {f["status"] for f in wait_job(c, r.json()["job_id"])["files"]} == {"indexed"}
        assert c.post(f"/v1/kbs/{kb}/channels", json={"platform": "dingtalk", "app_secret": APP_SECRET}
                      ).status_code == 201
        assert c.post(f"/v1/kbs/{kb}/channels", json={"platform": "wecom", "token": TOKEN, "aes_key": AES_KEY,
                                                      "corp_id": CORP_ID, "corp_secret": CORP_SECRET,
                                                      "agent_id": AGENT_ID}).status_code == 201
    hook = f"/robot/sendBySession?session=fail{time.time_ns()}"
    fake.failing |= {hook, "/cgi-bin/message/send"}
    try:
        before = len(_send_failures(srv))
        r = ding_post(srv, "How do I open a business account?", webhook=fake.url + hook, kb=kb)
        assert r.status_code == 200 and "OriginalBusinessLicenceCertificate" in r.json()["markdown"]["text"], r.text
        fake.wait(lambda p: p[0] == hook)                                    # the second send, refused
        r = wx_post(srv, wx_message("How do I open a business account?"), kb=kb)
        assert r.status_code == 200 and "OriginalBusinessLicenceCertificate" in wx_open_reply(r.text)
        fake.wait(lambda p: p[0].startswith("/cgi-bin/message/send") and "copy" in p[1]["text"]["content"])
        deadline = time.monotonic() + 30
        while len(_send_failures(srv)) < before + 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        failed = _send_failures(srv)[before:]
        assert sorted(x["channel"] for x in failed) == ["dingtalk", "wecom"], failed
        for x in failed:
            assert x["kb"] == kb and "HTTP Error 500" in x["msg"] and "parts 2-" in x["msg"], x
            assert "access_token" not in x["msg"] and "session=" not in x["msg"]
        assert "Task exception was never retrieved" not in srv.log.read_text(errors="replace")
    finally:
        fake.failing.clear()
        with srv.client() as c:
            c.delete(f"/v1/kbs/{kb}")
