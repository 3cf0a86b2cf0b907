"""Bot channels: DingTalk robot and WeCom application callbacks (signed by the platform, not by our
keys), and their settings per KB (admin). See docs/channels.md."""
from __future__ import annotations

import logging
import time
from typing import Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from api.audit.http import note
from api.auth import Principal
from api.channels import dingtalk as ding
from api.channels import wecom as wx
from api.channels.core import TEXT_ONLY, notice, post_json, respond, send_later, store, tokens
from api.channels.crypto import CryptoError, dingtalk_verify, wecom_decrypt, wecom_verify
from api.channels.split import WECOM_TEXT_BYTES, truncate_message
from api.deps import allow, client_address, principal, service
from api.errors import ApiError
from api.schemas import API_ERRORS
from api.service import Service

router = APIRouter(prefix="/v1", tags=["bot channels"], responses=API_ERRORS)
log = logging.getLogger("api.channels")
MAX_BODY = 64 * 1024
SECRET_QUERY = ("msg_signature", "signature", "echostr", "sign")
MAX_NONCE = 128  # WeCom's are about 10 characters; the replay memory keys on them


# ---- settings (admin on the KB) --------------------------------------------------------------------------
class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    platform: Literal["dingtalk", "wecom"]
    app_secret: str | None = Field(None, description="DingTalk: the robot's AppSecret (signs callbacks)")
    token: str | None = Field(None, description="WeCom: the callback Token")
    aes_key: str | None = Field(None, description="WeCom: the 43-character EncodingAESKey")
    corp_id: str | None = Field(None, description="WeCom: the corp id (CorpID) messages must be addressed to")
    corp_secret: str | None = Field(None, description="WeCom: the application's Secret, to send slow answers")
    agent_id: str | None = Field(None, description="WeCom: the application's AgentId, to send slow answers")
    wait_s: float | None = Field(None, gt=0, le=60, description="this channel's wait before answering later "
                                                                "(default RAG_CHANNEL_WAIT_S)")


@router.post("/kbs/{kb}/channels", status_code=201, summary="Connect a chat platform to a KB (admin on the KB)")
def add_channel(kb: str, body: ChannelIn, request: Request, who: Principal = Depends(principal),
                svc: Service = Depends(service)):
    note(request, target=body.platform)
    allow(svc, who, kb, "admin")
    try:
        return store(svc).put(kb, body.platform, body.model_dump(exclude={"platform"}))
    except ValueError as e:
        raise ApiError(422, "invalid_request", str(e)) from e


@router.get("/kbs/{kb}/channels", summary="A KB's chat platforms (secrets shown as their last 4 characters)")
def list_channels(kb: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "admin", must_exist=False)
    return store(svc).list(kb)


@router.delete("/kbs/{kb}/channels/{platform}", status_code=204, summary="Disconnect a chat platform")
def remove_channel(kb: str, platform: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "admin", must_exist=False)
    if not store(svc).delete(kb, platform):
        raise ApiError(404, "channel_not_found", f"no {platform} channel on {kb!r}")


@router.delete("/kbs/{kb}/channels", status_code=204, summary="Disconnect every chat platform of a KB")
def remove_channels(kb: str, request: Request, platform: str | None = None, who: Principal = Depends(principal),
                    svc: Service = Depends(service)):
    note(request, target=platform or "*")
    allow(svc, who, kb, "admin", must_exist=False)
    note(request, removed=store(svc).delete(kb, platform))


# ---- shared ------------------------------------------------------------------------------------------------
def _hide_query(request: Request) -> None:
    """The access log writes the URL after the response: keep signatures and ciphertext out of it."""
    _ = request.query_params  # parsed (and kept by the request) before the scope's copy is redacted
    qs = request.scope.get("query_string", b"").decode("latin-1")
    if qs:
        pairs = [(k, "[redacted]" if k in SECRET_QUERY else v) for k, v in parse_qsl(qs, keep_blank_values=True)]
        request.scope["query_string"] = urlencode(pairs, safe="[]").encode("latin-1")


def _refuse(svc: Service, request: Request, why: str) -> ApiError:
    client = client_address(request)
    if client:
        svc.limiter.failed_auth(client)  # 429 once an address keeps failing
    log.info("channel callback refused: %s", why, extra={"event": "channel_refused"})
    return ApiError(401, "unauthorized", why)


async def _body(request: Request) -> bytes:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise ApiError(413, "too_large", f"a callback body is at most {MAX_BODY} bytes")
    return raw


def _invalid(what: str, e: ValidationError) -> ApiError:
    """422 naming the first field that is missing or of the wrong type (or why the body is not JSON)."""
    first = e.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return ApiError(422, "invalid_request", f"invalid {what}: {where + ': ' if where else ''}{first.get('msg', '')}")


def _wait_left(cfg: dict, svc: Service, arrived: float) -> float:
    """The channel's wait less the time the callback has been with us already: the platform's 5 seconds run
    from when it sent the request (its body's upload, the state database's answers), and an answer replied
    after they are over is lost, as the platform has given up (and its retry is taken for a replay)."""
    return max(0.0, float(cfg.get("wait_s") or svc.svc.channel_wait_s) - (time.monotonic() - arrived))


def _fresh(ts: str, window: float, scale: float) -> bool:
    """`ts` is a plain number (ASCII digits, as the platforms send it) within `window` seconds of our clock."""
    if not (ts.isascii() and ts.isdigit() and len(ts) <= 20):
        return False
    return abs(time.time() - int(ts) / scale) <= window


# ---- DingTalk ------------------------------------------------------------------------------------------------
@router.post("/channels/dingtalk/{kb}", summary="DingTalk robot outgoing callback (signed with the AppSecret)")
async def dingtalk(kb: str, request: Request, svc: Service = Depends(service)):
    arrived = getattr(request.state, "arrived", time.monotonic())
    cfg = await run_in_threadpool(store(svc).get, kb, "dingtalk")
    ts, sign = request.headers.get("timestamp", ""), request.headers.get("sign", "")
    if cfg is None or not ts or not sign:
        raise _refuse(svc, request, "unknown channel or unsigned callback")
    if not dingtalk_verify(cfg["app_secret"], ts, sign):
        raise _refuse(svc, request, "bad signature")
    if not _fresh(ts, ding.WINDOW_MS / 1000, 1000):
        raise _refuse(svc, request, "timestamp more than an hour off")
    try:
        msg = ding.Message.model_validate_json(await _body(request))
    except ValidationError as e:
        raise _invalid("DingTalk message", e) from e
    # the signature covers the timestamp only, not the message: a (timestamp, sign) pair is good for one
    # message, or whoever saw one callback's headers could ask anything for an hour under new msgIds
    seen = [f"dingtalk:{kb}:ts:{ts}:{sign}"] + ([f"dingtalk:{kb}:msg:{msg.msgId}"] if msg.msgId else [])
    if not await run_in_threadpool(store(svc).first_time, seen, 2 * ding.WINDOW_MS / 1000):
        log.info("DingTalk message seen before; ignored", extra={"kb": kb, "event": "channel_replay"})
        return Response(status_code=200)
    question = msg.question
    if not question and msg.msgtype in ding.MEDIA:
        return JSONResponse(ding.messages(notice(TEXT_ONLY), "")[0])
    if not question:
        return Response(status_code=200)
    user = msg.senderStaffId or msg.senderId or "anonymous"
    conversation = msg.conversationId or user
    webhook = msg.sessionWebhook or ""
    expires = msg.sessionWebhookExpiredTime
    prefixes = [p.strip() for p in svc.svc.dingtalk_webhook_prefixes.split(",") if p.strip()]

    async def send(parts: list[dict]) -> None:
        if not parts:
            return
        if not webhook or not any(webhook.startswith(p) for p in prefixes):
            log.warning("DingTalk sessionWebhook missing or not under an allowed prefix; answer not sent",
                        extra={"kb": kb, "event": "channel_send_failed"})
            return
        if expires is not None and expires / 1000 < time.time():
            log.warning("DingTalk sessionWebhook expired; answer not sent", extra={"kb": kb})
            return
        for part in parts:
            got = await post_json(webhook, part)
            if got.get("errcode", 0) != 0:
                log.warning("DingTalk refused the answer: errcode %s", got.get("errcode"),
                            extra={"kb": kb, "channel": "dingtalk", "event": "channel_send_failed"})
                return

    async def later(ans: dict) -> None:
        await send(ding.messages(ans, question))

    ans = await respond(svc, kb, "dingtalk", conversation, user, question, _wait_left(cfg, svc, arrived), later)
    if ans is None:
        return Response(status_code=200)  # acknowledged; the answer goes to the sessionWebhook
    parts = ding.messages(ans, question)
    if len(parts) > 1:
        send_later("dingtalk", kb, send(parts[1:]), f"parts 2-{len(parts)} of the answer")
    return JSONResponse(parts[0])


# ---- WeCom -----------------------------------------------------------------------------------------------------
def _wecom_open(svc: Service, request: Request, cfg: dict | None, encrypt: str) -> bytes:
    q = request.query_params
    sig, ts, nonce = q.get("msg_signature", ""), q.get("timestamp", ""), q.get("nonce", "")
    if cfg is None or not (sig and ts and nonce and encrypt):
        raise _refuse(svc, request, "unknown channel or unsigned callback")
    if len(nonce) > MAX_NONCE:
        raise _refuse(svc, request, f"a nonce is at most {MAX_NONCE} characters")
    if not wecom_verify(cfg["token"], ts, nonce, encrypt, sig):
        raise _refuse(svc, request, "bad signature")
    if not _fresh(ts, wx.WINDOW_S, 1):
        raise _refuse(svc, request, "timestamp more than an hour off")
    try:
        plain, receive_id = wecom_decrypt(cfg["aes_key"], encrypt)
    except CryptoError as e:
        raise _refuse(svc, request, f"does not decrypt: {e}") from e
    if receive_id != cfg["corp_id"]:
        raise _refuse(svc, request, "addressed to another corp id")
    return plain


@router.get("/channels/wecom/{kb}", summary="WeCom callback URL verification", response_class=PlainTextResponse)
async def wecom_verify_url(kb: str, request: Request, svc: Service = Depends(service)):
    _hide_query(request)
    cfg = await run_in_threadpool(store(svc).get, kb, "wecom")
    # the original query string was read into query_params before it was hidden from the access log
    plain = _wecom_open(svc, request, cfg, request.query_params.get("echostr", ""))
    return PlainTextResponse(plain.decode("utf-8", "replace"))


@router.post("/channels/wecom/{kb}", summary="WeCom application message callback (encrypted XML)")
async def wecom(kb: str, request: Request, svc: Service = Depends(service)):
    arrived = getattr(request.state, "arrived", time.monotonic())
    _hide_query(request)
    cfg = await run_in_threadpool(store(svc).get, kb, "wecom")
    try:
        outer = wx.Envelope.model_validate(wx.parse_xml(await _body(request), "the callback body"))
    except wx.XmlRefused as e:
        raise ApiError(e.status, e.code, str(e)) from e
    except ValidationError as e:
        raise _invalid("WeCom callback body", e) from e
    plain = _wecom_open(svc, request, cfg, outer.Encrypt)
    try:
        msg = wx.Message.model_validate(wx.parse_xml(plain, "the decrypted message"))
    except wx.XmlRefused as e:
        raise ApiError(e.status, e.code, str(e)) from e
    except ValidationError as e:
        raise _invalid("WeCom message", e) from e
    q = request.query_params
    seen = [f"wecom:{kb}:ts:{q.get('timestamp')}:{q.get('nonce')}"]
    if msg.MsgId:
        seen.append(f"wecom:{kb}:msg:{msg.MsgId}")
    if not await run_in_threadpool(store(svc).first_time, seen, 2 * wx.WINDOW_S):
        log.info("WeCom message seen before; ignored", extra={"kb": kb, "event": "channel_replay"})
        return PlainTextResponse("")
    question, user = msg.question, msg.FromUserName
    if user and not question and msg.MsgType in wx.MEDIA:
        xml = wx.passive_reply(cfg["token"], cfg["aes_key"], cfg["corp_id"], user, TEXT_ONLY)
        return Response(xml, media_type="application/xml")
    if not question or not user:
        return PlainTextResponse("")
    can_send = bool(cfg.get("corp_secret") and cfg.get("agent_id"))

    async def send(parts: list[str]) -> None:
        if not can_send:
            log.warning("WeCom answer too slow for a passive reply and no corp_secret/agent_id to send it; "
                        "dropped", extra={"kb": kb, "event": "channel_send_failed"})
            return
        base = svc.svc.wecom_api_base.rstrip("/")
        token = await tokens.get(base, cfg["corp_id"], cfg["corp_secret"])
        for part in parts:
            got = await post_json(f"{base}/cgi-bin/message/send?access_token={token}",
                                  {"touser": user, "msgtype": "text", "agentid": int(cfg["agent_id"])
                                   if str(cfg["agent_id"]).isdigit() else cfg["agent_id"],
                                   "text": {"content": part}, "safe": 0})
            if got.get("errcode", 0) != 0:
                log.warning("WeCom refused the answer: errcode %s", got.get("errcode"),
                            extra={"kb": kb, "channel": "wecom", "event": "channel_send_failed"})
                return

    async def later(ans: dict) -> None:
        await send(wx.texts(ans))

    ans = await respond(svc, kb, "wecom", user, user, question, _wait_left(cfg, svc, arrived), later)
    if ans is None:
        return PlainTextResponse("")  # acknowledged; the answer goes through message/send
    parts = wx.texts(ans)
    if len(parts) > 1:
        if can_send:
            send_later("wecom", kb, send(parts[1:]), f"parts 2-{len(parts)} of the answer")
        else:
            parts = [truncate_message(wx.body_text(ans), WECOM_TEXT_BYTES)]
    xml = wx.passive_reply(cfg["token"], cfg["aes_key"], cfg["corp_id"], user, parts[0])
    return Response(xml, media_type="application/xml")
