"""Search and grounded answers: JSON, Server-Sent Events, WebSocket."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import threading
import time
from contextlib import aclosing

from fastapi import APIRouter, Depends, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.answering import admit, answer_once, events
from api.auth import Principal
from api.deps import allow, authenticate, bearer, principal, service
from api.doc_filters import known_filters
from api.errors import ApiError, error_body, validation_error
from api.json_depth import MAX_DEPTH, too_deep
from api.observability import request_id_var
from api.schemas import (
    API_ERRORS,
    UNTRUSTED_TEXT,
    AnswerOut,
    HitOut,
    QueryRequest,
    SearchRequest,
    WsTicketOut,
    WsTicketRequest,
    error_responses,
    filters_of,
)
from api.service import Service

router = APIRouter(prefix="/v1", tags=["search and answers"], responses=API_ERRORS)
log = logging.getLogger("api.ws")

SSE_DOC = {**error_responses(502, 503), "200": {"description": "JSON answer, or with \"stream\": true a text/event-stream of events "
                                  "`token` {\"text\"}, `citations` [...], `done` (the whole answer, as the JSON form)",
                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AnswerOut"}},
                               "text/event-stream": {"schema": {"type": "string"}}}}}


@router.post("/kbs/{kb}/search", response_model=list[HitOut], summary="Hybrid search (as `rag search --json`)",
             description=UNTRUSTED_TEXT)
async def search(kb: str, body: SearchRequest, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "read")

    def run():
        pipe = svc.pipeline(kb)
        filters = known_filters(pipe.store, kb, filters_of(body.filters))
        return [h.to_dict() for h in pipe.retriever.run(body.query, body.k, filters, body.mode)]
    return await run_in_threadpool(run)


def sse(event: str, data) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@router.post("/kbs/{kb}/query", response_model=AnswerOut, responses=SSE_DOC,
             summary="Answer a question with verified citations (as `rag ask --json`); stream with SSE")
async def query(kb: str, body: QueryRequest, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "read")
    history = [m.model_dump() for m in body.history]
    ticket = await admit(svc, kb, body.question, history, filters_of(body.filters), who=who, user=body.user)
    if not body.stream:
        return await answer_once(svc, ticket)

    async def stream():
        try:
            async with aclosing(events(svc, ticket)) as answer:  # closed at once when the client goes away
                async for kind, value in answer:
                    if kind == "token":
                        yield sse("token", {"text": value})
                    else:
                        yield sse("citations", value["citations"])
                        yield sse("done", value)
        except ApiError as e:
            yield sse("error", error_body(e.code, e.message, **e.extra))
    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# ---- WebSocket ---------------------------------------------------------------------------------------
# Close codes (docs/api.md): 4401 missing, unknown or revoked key (or ticket), 4403 the key may not
# read this KB, 4404 no such KB (or it was deleted), 4429 rate limited (the reason says when to
# retry), 1003 binary frame, 1007 invalid payload (JSON nested too deep), 1009 message too big,
# 1011 internal error (the reason carries the request id).
SUBPROTOCOL = "rag.v1"
KEY_PROTOCOL, TICKET_PROTOCOL = "rag.key.", "rag.ticket."
TICKET_TTL_S = 60
WS_MAX_BYTES = 2**20   # one message: a question with its history (50 turns) fits
WS_MAX_DEPTH = MAX_DEPTH  # JSON nesting of one message (api.json_depth); ours needs 4
CLOSE_CODES = {401: 4401, 403: 4403, 404: 4404, 429: 4429}


class WsTickets:
    """Single-use tickets for the WebSocket handshake (POST /v1/ws-ticket), so that a browser, which
    cannot send an Authorization header with `new WebSocket()`, need not put its key in the URL.

    A ticket is random, bound to one KB, lives `ttl_s` seconds and stands for the key's id and scope,
    never the key itself. With RAG_REDIS_URL the tickets live in Redis (under a hash of the ticket),
    so any replica redeems what another issued; without it, or while Redis is unreachable, in this
    process's memory (then the socket must reach the replica that issued the ticket)."""

    def __init__(self, ttl_s: float = TICKET_TTL_S, redis_url: str | None = None, most: int = 10_000,
                 prefix: str = "rag:ws-ticket:"):
        self.ttl_s, self.most, self.prefix = ttl_s, most, prefix
        self._tickets: dict[str, tuple[str, float]] = {}  # ticket -> (record, expiry)
        self._lock = threading.Lock()
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def _name(self, ticket: str) -> str:
        return self.prefix + hashlib.sha256(ticket.encode()).hexdigest()

    def issue(self, who: Principal, kb: str) -> str:
        ticket = secrets.token_urlsafe(32)
        record = json.dumps({"key_id": who.key_id, "key_kb": who.kb, "scope": who.scope, "kb": kb})
        if self._redis is not None:
            try:
                self._redis.set(self._name(ticket), record, ex=max(1, round(self.ttl_s)))
                return ticket
            except Exception as e:
                log.warning("WebSocket tickets: Redis unavailable (%s); this ticket works on this replica only", e)
        now = time.monotonic()
        with self._lock:
            if len(self._tickets) >= self.most:
                self._tickets = {t: v for t, v in self._tickets.items() if v[1] > now}
                if len(self._tickets) >= self.most:
                    raise ApiError(503, "busy", "too many unused WebSocket tickets; retry in a moment",
                                   {"Retry-After": "5"})
            self._tickets[ticket] = (record, now + self.ttl_s)
        return ticket

    def redeem(self, ticket: str, kb: str) -> Principal:
        """Who the ticket stands for; the ticket is used up either way (401: unknown, used or
        expired; 403: issued for another KB)."""
        with self._lock:
            record, expiry = self._tickets.pop(ticket, (None, 0.0))
        if record is not None and expiry < time.monotonic():
            record = None
        if record is None and self._redis is not None:
            try:
                raw = self._redis.getdel(self._name(ticket))
                record = raw.decode() if raw else None
            except Exception as e:
                log.warning("WebSocket tickets: Redis unavailable (%s)", e)
        if record is None:
            raise ApiError(401, "unauthorized", "unknown, used or expired WebSocket ticket")
        r = json.loads(record)
        if r["kb"] != kb:
            raise ApiError(403, "forbidden", "this ticket was issued for another knowledge base")
        return Principal(r["key_id"], r["key_kb"], r["scope"])


def tickets(app) -> WsTickets:
    if getattr(app.state, "ws_tickets", None) is None:
        app.state.ws_tickets = WsTickets()
    return app.state.ws_tickets


@router.post("/ws-ticket", response_model=WsTicketOut,
             summary="A single-use ticket (60 s) that opens a KB's WebSocket without the key in the URL")
def ws_ticket(body: WsTicketRequest, request: Request, response: Response, who: Principal = Depends(principal),
              svc: Service = Depends(service)):
    allow(svc, who, body.kb, "read")
    response.headers["Cache-Control"] = "no-store"
    return WsTicketOut(ticket=tickets(request.app).issue(who, body.kb), kb=body.kb, expires_in=TICKET_TTL_S)


def _reason(text: str) -> str:
    return text.encode()[:123].decode("utf-8", "ignore")  # a close reason is at most 123 bytes


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    try:
        await websocket.close(code=code, reason=_reason(reason))
    except (RuntimeError, OSError, WebSocketDisconnect):
        pass  # the client is gone already


def _credentials(websocket: WebSocket) -> tuple[str, str]:
    """(key, ticket): the key from the Authorization header, the subprotocol rag.key.KEY or ?key=
    (kept for old clients; the logs redact it), the ticket from ?ticket= or the subprotocol
    rag.ticket.TICKET."""
    key = bearer(websocket.headers)
    ticket = websocket.query_params.get("ticket", "")
    for p in websocket.scope.get("subprotocols") or []:
        if p.startswith(KEY_PROTOCOL):
            key = key or p[len(KEY_PROTOCOL):]
        elif p.startswith(TICKET_PROTOCOL):
            ticket = ticket or p[len(TICKET_PROTOCOL):]
    if not key and not ticket:
        key = websocket.query_params.get("key", "")
    return key, ticket


def _current(svc: Service, who: Principal) -> Principal:
    """The key behind `who` as it is now (its scope and KB from the key store): 401 once revoked."""
    if who.key_id == "admin" and who.is_global_admin:
        return who  # RAG_ADMIN_KEY (api.auth): never stored, cannot be revoked while the process runs
    info = svc.keys.get(who.key_id)
    if info is None or info.revoked_at:
        raise ApiError(401, "unauthorized", "the API key was revoked")
    return Principal(info.id, info.kb, info.scope)


def _open(svc: Service, websocket: WebSocket, kb: str) -> Principal:
    """Who opens the socket (in a worker thread: the key store and Redis block): 401, 403, 404, 429."""
    key, ticket = _credentials(websocket)
    client = websocket.client.host if websocket.client else None
    if key or not ticket:
        who = authenticate(svc, key, client)
    else:
        try:
            who = _current(svc, tickets(websocket.app).redeem(ticket, kb))
        except ApiError as e:
            if e.status == 401 and client:
                svc.limiter.failed_auth(client)
            raise
        try:
            svc.limiter.check(who.key_id, who.kb)
        except ApiError:
            svc.metrics.rate_limited.inc()
            raise
    allow(svc, who, kb, "read")
    return who


def _why(e: ApiError) -> str:
    if e.status == 401 and e.message.startswith("missing API key"):
        return "missing API key: use ?ticket= (POST /v1/ws-ticket), subprotocol rag.key.KEY or a Bearer header"
    return e.message


@router.websocket("/kbs/{kb}/ws")
async def ws_query(websocket: WebSocket, kb: str):
    """Send {"question", "history"?, "filters"?}; receive {"type": "token", "text"}..., {"type": "citations"},
    {"type": "done", "answer": {...}} per question; errors as {"type": "error", "error": {...}}.

    Authenticate with a ticket from POST /v1/ws-ticket (`?ticket=T`, single use, 60 s; what browsers
    should do), the subprotocols `rag.v1, rag.key.KEY` (answered `rag.v1`), or 'Authorization: Bearer
    KEY'; `?key=KEY` still works but is discouraged. The key is checked again for every message.
    Refusals and protocol errors close the socket with a code and a reason (docs/api.md)."""
    svc: Service = websocket.app.state.service
    subprotocol = SUBPROTOCOL if SUBPROTOCOL in (websocket.scope.get("subprotocols") or []) else None
    try:
        who = await run_in_threadpool(_open, svc, websocket, kb)
    except ApiError as e:
        # accepted, then closed: a client (a browser above all) sees the close code and the reason,
        # where a refused handshake is an opaque HTTP 403
        try:
            await websocket.accept(subprotocol=subprotocol)
        except (RuntimeError, OSError, WebSocketDisconnect):
            return
        await _close(websocket, CLOSE_CODES.get(e.status, 4400), _why(e))
        return
    await websocket.accept(subprotocol=subprotocol)
    listener: asyncio.Task | None = None  # the socket's next message, read while an answer is sent
    try:
        while True:
            message = await (listener or websocket.receive())
            listener = None
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await _close(websocket, 1003, "binary frames are not supported: send JSON as text")
                return
            if len(text) > WS_MAX_BYTES // 4 and len(text.encode()) > WS_MAX_BYTES:
                await _close(websocket, 1009, f"message over {WS_MAX_BYTES} bytes")
                return
            if too_deep(text):
                await _close(websocket, 1007, f"JSON nested too deep (over {WS_MAX_DEPTH} levels)")
                return
            try:  # the key, its scope and its KB again: revoked or deleted meanwhile ends the socket
                who = _current(svc, who)
                allow(svc, who, kb, "read")
            except ApiError as e:
                await _close(websocket, CLOSE_CODES.get(e.status, 4400), e.message)
                return
            try:
                body = QueryRequest.model_validate(json.loads(text))
            except RecursionError:
                await _close(websocket, 1007, "JSON nested too deep")
                return
            except ValidationError as e:  # the field at fault, as the HTTP route says it
                message, details = validation_error(e.errors(include_url=False))
                await websocket.send_json({"type": "error", **error_body("invalid_request", message, details=details),
                                           "status": 422})
                continue
            except ValueError as e:
                await websocket.send_json({"type": "error", **error_body(
                    "invalid_request", f"the message is not JSON ({str(e).splitlines()[0]}): send one JSON object "
                    'per question as text, {"question": "..."}'), "status": 422})
                continue
            try:
                try:
                    svc.limiter.check(who.key_id, who.kb)
                except ApiError:
                    svc.metrics.rate_limited.inc()
                    raise
                admitted = await admit(svc, kb, body.question, [m.model_dump() for m in body.history],
                                       filters_of(body.filters), who=who, user=body.user, filters_at=("filters",))
                relay = asyncio.create_task(_relay(websocket, svc, admitted))
                listener = asyncio.create_task(websocket.receive())
                await asyncio.wait({relay, listener}, return_when=asyncio.FIRST_COMPLETED)
                if _left(listener):
                    # the client went away mid-answer: stop generating now, not when the next checked
                    # sentence fails to send (verified streaming may send nothing for a while)
                    relay.cancel()
                    with contextlib.suppress(BaseException):
                        await relay
                    return
                await relay  # a message sent meanwhile is read next, once this answer is sent
            except ApiError as e:
                extra = {"retry_after": int(e.headers["Retry-After"])} if "Retry-After" in e.headers else {}
                await websocket.send_json({"type": "error", **error_body(e.code, e.message, **e.extra),
                                           "status": e.status, **extra})
    except WebSocketDisconnect:
        return
    except Exception:
        log.exception("WebSocket on %s failed", kb)
        await _close(websocket, 1011, f"internal error; request id {request_id_var.get()}")
    finally:
        if listener is not None:
            listener.cancel()


async def _relay(websocket: WebSocket, svc: Service, admitted) -> None:
    """Send one answer's events over the socket."""
    async with aclosing(events(svc, admitted)) as stream:  # closed at once when this task is cancelled
        async for kind, value in stream:
            if kind == "token":
                await websocket.send_json({"type": "token", "text": value})
            else:
                await websocket.send_json({"type": "citations", "citations": value["citations"]})
                await websocket.send_json({"type": "done", "answer": value})


def _left(listener: asyncio.Task) -> bool:
    """Has the socket's client gone away (its next message, read while an answer was sent)?"""
    return listener.done() and not listener.cancelled() and listener.exception() is None \
        and listener.result()["type"] == "websocket.disconnect"
