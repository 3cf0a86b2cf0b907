"""One chat message through the service: rate limit -> api.answering (guard, cache, gate, pipeline)
with the conversation's recent turns -> the reply in time, or an acknowledgement now and the answer
sent through the platform's API when it is ready."""
from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool

from api.answering import admit, answer_once
from api.audit.pseudonym import pseudonyms_of
from api.channels.notices import say
from api.channels.store import ChannelStore
from api.errors import ApiError
from api.service import Service
from rag.guard.personal_data import mask_personal

log = logging.getLogger("api.channels")
_pending: set[asyncio.Task] = set()  # answers still being made after their callback returned


def store(svc: Service) -> ChannelStore:
    s = getattr(svc, "channels", None)
    if s is None:
        s = svc.channels = ChannelStore(svc.db)
    return s


def with_sources(ans: dict, heading: str, line: str) -> str:
    """The answer's text followed by its numbered source list: `heading`, then `line` per source
    (formatted with n and name), in the platform's markup."""
    text = ans["answer"].strip()
    listed = sources(ans.get("citations") or [])
    if listed:
        text += heading + "\n".join(line.format(n=n, name=name) for n, name in listed)
    return text


def sources(citations: list[dict]) -> list[tuple[int, str]]:
    """(marker number, 'title or source, p. N' or 'p. N–M' for a sentence a page break cuts) per cited passage,
    in marker order, once each."""
    seen: dict[int, str] = {}
    for c in sorted(citations, key=lambda c: c.get("n", 0)):
        n = int(c.get("n", 0))
        if n in seen:
            continue
        name = c.get("title") or c.get("source") or c.get("doc_id") or "?"
        if c.get("title") and c.get("source") and c["source"] != c["title"]:
            name = f"{c['title']} ({c['source']})"
        if c.get("page"):
            end = c.get("page_end")
            name += f", p. {c['page']}" + (f"–{end}" if end and end != c["page"] else "")
        seen[n] = name
    return list(seen.items())


def _check_rate(svc: Service, kb: str, user: str) -> None:
    """The chat user's own limit, counted under their pseudonym (api.audit.pseudonym): the counters (in Redis
    with RAG_REDIS_URL, else in the process) never hold a user's id, which could outlive forgetting them."""
    svc.limiter.check(f"channel:{kb}:{pseudonyms_of(svc.db).of(user)}", kb)


async def respond(svc: Service, kb: str, platform: str, conversation: str, user: str, question: str,
                  wait_s: float, later: Callable[[dict], Awaitable[None]]) -> dict | None:
    """The answer dict when it is ready within `wait_s`; else None, and `later(answer)` is awaited
    once it is. Refusals the service would give as an HTTP status (429, 503, 422, 404) come back as
    an answer that says so, as a chat user needs it."""
    try:
        await run_in_threadpool(_check_rate, svc, kb, user)
    except ApiError as e:
        svc.metrics.rate_limited.inc()
        return notice(say("rate_limited", question, retry=e.headers.get("Retry-After", "5")))
    conv = f"{platform}:{kb}:{conversation}"
    channels = store(svc)

    async def work() -> dict:
        try:
            history = await run_in_threadpool(channels.history, conv)
            ticket = await admit(svc, kb, question, history, user=user)  # recorded as theirs (forget-user)
            ans = await answer_once(svc, ticket)
        except ApiError as e:
            return notice(_explain(e, question, svc.svc.max_question_chars))
        if ans is None:
            return notice(say("failed", question))
        if not ans.get("blocked"):
            kept = mask_personal(question) if svc.svc.mask_stored_questions else question
            # not once the user was forgotten while the answer was made (api.state.forgotten)
            await run_in_threadpool(channels.remember, conv, kept, ans["answer"], user, owner=ticket.owner,
                                    epoch=ticket.epoch)
        return ans

    task = spawn(work())
    try:
        return await asyncio.wait_for(asyncio.shield(task), wait_s)
    except asyncio.TimeoutError:
        pass

    async def deliver():
        await later(await task)
    send_later(platform, kb, deliver(), "the answer")
    return None


def spawn(coro) -> asyncio.Task:
    """A task kept referenced until it ends (answers still being made after their callback returned)."""
    task = asyncio.create_task(coro)
    _pending.add(task)
    task.add_done_callback(_pending.discard)
    return task


REASON_CHARS = 300  # enough for "HTTPError: HTTP Error 500: Internal Server Error" and its like


def send_later(platform: str, kb: str, sending: Awaitable[None], what: str) -> asyncio.Task:
    """Send (part of) an answer after the callback returned. A failure is logged as `channel_send_failed`
    naming the channel and the reason, not left to asyncio's "Task exception was never retrieved" (which
    names neither). The reason is the exception's message: urllib's name no URL, so no webhook session or
    access token, and the log's filter redacts any that would."""
    async def guarded() -> None:
        try:
            await sending
        except Exception as e:  # the message is lost: say which and why
            reason = f"{type(e).__name__}: {e}"[:REASON_CHARS]
            log.warning("%s channel of %s: could not send %s: %s", platform, kb, what, reason,
                        extra={"kb": kb, "channel": platform, "event": "channel_send_failed"})
    return spawn(guarded())


# the reply to a picture, file or voice message: there is no question to tell the language from
TEXT_ONLY = ("请用文字提问：图片、文件和语音消息无法读取。\n"
             "Please type your question as text: pictures, files and voice messages are not read.")


def notice(text: str) -> dict:
    return {"answer": text, "citations": [], "refused": True, "notice": True}


def _explain(e: ApiError, question: str, limit: int) -> str:
    if e.status == 503:
        return say("busy", question)
    if e.code == "question_too_long":
        return say("too_long", question, n=len(question), limit=limit)
    if e.status == 422:
        return e.message[:1].upper() + e.message[1:] + "."
    if e.status == 404:
        return say("kb_gone", question)
    return say("failed", question)


# ---- outgoing HTTP (urllib in a worker thread: nothing logs these URLs, which carry tokens) -------------
def _post_json(url: str, payload: dict, timeout: float = 10) -> dict:
    req = urllib.request.Request(url, data=json.dumps(payload, ensure_ascii=False).encode(), method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 (the URL's scheme is checked)
        body = r.read(1 << 20)
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return {}


def _get_json(url: str, timeout: float = 10) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310
        return json.loads(r.read(1 << 20) or b"{}")


async def post_json(url: str, payload: dict) -> dict:
    if not url.startswith(("https://", "http://")):
        raise ValueError("only http(s) URLs")
    return await run_in_threadpool(_post_json, url, payload)


async def get_json(url: str) -> dict:
    if not url.startswith(("https://", "http://")):
        raise ValueError("only http(s) URLs")
    return await run_in_threadpool(_get_json, url)


class TokenCache:
    """WeCom access tokens per corp id + secret, reused until shortly before they expire."""

    def __init__(self):
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    async def get(self, api_base: str, corp_id: str, corp_secret: str) -> str:
        from urllib.parse import urlencode

        key = (corp_id, corp_secret)
        token, until = self._tokens.get(key, ("", 0.0))
        if token and until > time.monotonic():
            return token
        got = await get_json(f"{api_base.rstrip('/')}/cgi-bin/gettoken?"
                             + urlencode({"corpid": corp_id, "corpsecret": corp_secret}))
        if got.get("errcode", 0) != 0 or not got.get("access_token"):
            raise RuntimeError(f"gettoken failed: errcode {got.get('errcode')}")
        token = got["access_token"]
        self._tokens[key] = (token, time.monotonic() + max(60, int(got.get("expires_in", 7200)) - 300))
        return token


tokens = TokenCache()
