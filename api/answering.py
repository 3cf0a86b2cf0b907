"""One question through the service: guard -> cache -> gate -> pipeline (in a worker thread) -> events.

Used by the JSON, SSE, WebSocket and OpenAI-compatible routes alike. `admit()` does everything
that can still become an HTTP status (422 too long, 404, 503 busy) before any byte of a streamed
response is sent; `events()` then yields ("token", text) pieces and one ("answer", dict).
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from api.audit.pseudonym import pseudonyms_of
from api.doc_filters import BODY, known_filters
from api.errors import ApiError
from api.feedback import Recorded
from api.service import Service, answer_variant
from api.state.forgotten import epoch_of
from indexer.types import Filters
from rag.guard.input_guard import safe_answer
from rag.synonyms.rules import Synonyms

GENERATOR_FAILED = "generator_failed"  # Answer.fallback of a quote given because the generator failed
log = logging.getLogger("api.answer")
_END = object()


@dataclass
class Ticket:
    kb: str
    question: str
    history: list[dict[str, str]]
    filters: Filters | None
    immediate: dict | None = None      # a blocked or cached answer: no generation
    slot: object = None
    pipe: object = None
    vector: object = None
    generation: int = 0
    extra: dict = field(default_factory=dict)
    key_id: str = ""
    user: str = ""                     # who the answer is for (experiment assignment): `user` field, else key id
    owner: str = ""                    # the user's pseudonym (api.audit.pseudonym) ...
    epoch: int | None = None           # ... and forget epoch on arrival (api.state.forgotten); None: unread
    experiment: str = ""
    arm: str = ""
    variant: str = ""                  # the answer cache variant (settings hash, experiment arm, synonyms)
    rules: Synonyms = field(default_factory=Synonyms)  # the KB's synonyms on arrival: the answer is made under them
    settings_hash: str = ""
    t0: float = field(default_factory=time.perf_counter)

    @property
    def synonyms(self) -> str:
        """The digest of the rules read on arrival (rag.synonyms; "" for none), in the cache variant."""
        return self.rules.digest


def answer_dict(answer, **extra) -> dict:
    d = answer.to_dict()
    d["passages"] = d.pop("hits")
    d.update(extra)
    return d


def _plain(text: str, refused: bool, **extra) -> dict:
    return {"answer": text, "citations": [], "refused": refused, "timings": {"total_s": 0.0}, "passages": [],
            "dropped": [], **extra}


async def admit(svc: Service, kb: str, question: str, history: list[dict[str, str]] | None = None,
                filters: Filters | None = None, who=None, user: str | None = None,
                filters_at: tuple[str, ...] = BODY) -> Ticket:
    """`who`: the caller's Principal (its key id is recorded with the answer); `user`: the end user the
    client names (experiment assignment is sticky per user; default: the key id); `filters_at`: where the
    filters are in the request, for the 422 naming a doc id or source that is no document of the KB."""
    limit = svc.svc.max_question_chars
    if len(question) > limit:
        raise ApiError(422, "question_too_long", f"the question has {len(question)} characters; the limit is {limit}")
    if not question.strip():
        raise ApiError(422, "invalid_request", "the question is empty")
    ticket = Ticket(kb, question, list(history or []), filters)
    ticket.key_id = getattr(who, "key_id", "") or ""
    ticket.user = (user or "").strip() or ticket.key_id or "anonymous"
    await run_in_threadpool(_read_epoch, svc, ticket)
    try:
        exp, arm = await run_in_threadpool(svc.arm_of, kb, ticket.user)
    except Exception:
        log.warning("could not read the experiments of %s; answering without", kb, exc_info=True)
        exp, arm = None, None
    if exp is not None:
        ticket.experiment, ticket.arm = exp.name, arm.name
    verdict = svc.guard(question, limit)
    if verdict.blocked:
        svc.metrics.blocked.labels(verdict.category or "other").inc()  # rag.guard.input_guard logs it
        ticket.immediate = _plain(safe_answer(verdict), True, blocked=verdict.category, mode="refuse")
        return ticket
    ticket.question = verdict.cleaned or question
    try:
        ticket.pipe = await run_in_threadpool(svc.pipeline, kb, arm, ticket.experiment)
    except LookupError as e:
        raise ApiError(404, "kb_not_found", str(e)) from e
    if filters:
        ticket.filters = await run_in_threadpool(known_filters, ticket.pipe.store, kb, filters, filters_at)
    ticket.settings_hash = answer_variant(ticket.pipe.settings)
    ticket.variant = ticket.settings_hash + (f":{ticket.experiment}/{ticket.arm}" if ticket.experiment else "")
    # the KB's rules, read once (svc.pipeline refreshed them just now): the answer, its cache key and the check
    # that they did not change before it is cached all use these, not the shared pipeline's at each step
    ticket.rules = ticket.pipe.synonyms
    if ticket.synonyms:  # answers given under other synonyms are not served
        ticket.variant += f":syn/{ticket.synonyms}"
    cacheable = svc.cache is not None and not ticket.history and not filters
    if cacheable:
        hit = await run_in_threadpool(_cache_get, svc, ticket)
        if hit is not None:
            svc.metrics.cache.labels("hit").inc()
            ticket.immediate = {**hit, "cached": True}
            return ticket
        svc.metrics.cache.labels("miss").inc()
    # a quoted answer (the default) waits only behind other quotes, never behind a model writing
    quoted = ticket.pipe.extracts(ticket.question)
    ticket.slot = await (svc.quote_gate if quoted else svc.gate).enter()
    return ticket


def _read_epoch(svc: Service, t: Ticket) -> None:
    """Whatever is written for this answer (recorded, cached, remembered in a chat) is refused once the user
    is forgotten after this: their question must not outlive the forget by being finished after it."""
    try:
        t.owner = pseudonyms_of(svc.db).of(t.user)
        t.epoch = epoch_of(svc.db, t.owner)
    except Exception:  # the database away: the answer is not cached (recording it fails too)
        log.warning("could not read whether the user was forgotten; the answer will not be cached", exc_info=True)


def _cache_get(svc: Service, t: Ticket):
    if svc.forget_feed is not None:
        try:
            svc.forget_feed.sync()
        except Exception:  # the database away: the next lookup tries again
            log.warning("could not read the users forgotten since the last lookup", exc_info=True)
    store = t.pipe.retriever.store
    t.generation = store.cache_generation()
    t.vector = t.pipe.retriever.encoder.encode_queries([t.question])[0]
    got = svc.cache.get(t.kb, t.generation, t.question, t.vector, variant=t.variant)
    return None if got is None else dict(got.payload)


async def events(svc: Service, ticket: Ticket, shows_tokens: bool = True) -> AsyncIterator[tuple[str, object]]:
    """("token", str)* then ("answer", dict). Frees the generation slot when done or abandoned.
    `shows_tokens` false: the caller keeps only the answer (a generator failing midway is then quoted).

    rag_generated_tokens_total counts each piece as the generator makes it (in the worker thread),
    so the tokens of an answer whose client went away mid-stream are counted too."""
    if ticket.immediate is not None:
        out = {**ticket.immediate, "answer_id": uuid.uuid4().hex}
        await _record(svc, ticket, out)
        yield "token", out["answer"]
        yield "answer", out
        return
    from rag.answering.types import Answer

    loop = asyncio.get_running_loop()
    q: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def on_piece(_piece: str) -> bool:
        # every piece the generator writes is counted, whether or not the client is still there to read
        # it and whatever the stream shows (verified streaming sends sentences, not tokens); a client that
        # went away stops generation at the next piece, not at the next sentence that passes the checks
        svc.metrics.tokens.inc()
        return not stop.is_set()

    def work():
        gen = ticket.pipe.stream(ticket.question, ticket.history, ticket.filters, on_piece=on_piece,
                                 shows_pieces=shows_tokens, synonyms=ticket.rules)
        try:
            for ev in gen:
                loop.call_soon_threadsafe(q.put_nowait, ev)
                if stop.is_set():
                    break
        except Exception as e:  # surfaced to the consumer
            loop.call_soon_threadsafe(q.put_nowait, e)
        finally:
            gen.close()  # stops the local model at its next token
            loop.call_soon_threadsafe(q.put_nowait, _END)

    # the worker thread's log lines (the generator's retries, why it failed) carry the request's id, as the
    # error a client gets tells them to look it up by; run_in_executor alone starts with an empty context
    worker = loop.run_in_executor(None, contextvars.copy_context().run, work)
    tokens, finished, failed = 0, False, False
    try:
        while True:
            ev = await q.get()
            if ev is _END:
                break
            if isinstance(ev, Exception):
                failed = True
                svc.metrics.answers.labels("failed").inc()
                log.error("answer failed: %s", ev, extra={"kb": ticket.kb, "event": "generation_failed"})
                # the reason names the generator's address and repeats what it said: the log keeps it
                raise ApiError(502, "generation_failed", "the generator failed to write the answer; "
                               "the service log has the reason under this request id; please try again")
            if isinstance(ev, Answer):
                svc.metrics.observe_timings(ev.timings)
                svc.metrics.answers.labels("refused" if ev.refused else "answered").inc()
                if ev.fallback == GENERATOR_FAILED:
                    svc.metrics.generator_failed.inc()
                finished = True
                out = answer_dict(ev, cached=False, blocked=None)
                await _record(svc, ticket, out)
                # a quote standing in for a generator that failed is not kept: the next asker gets the
                # generator's answer once the endpoint is back, not this quote for the cache's ttl_s
                if svc.cache is not None and ticket.vector is not None and ev.fallback != GENERATOR_FAILED:
                    await run_in_threadpool(_cache_put, svc, ticket, out)
                yield "answer", out
            else:
                tokens += 1
                yield "token", ev.text
    finally:
        stop.set()
        if not finished and not failed:
            svc.metrics.answers.labels("abandoned").inc()
            log.info("client went away after %d tokens; generation stopped", tokens,
                     extra={"kb": ticket.kb, "event": "abandoned"})
        try:
            await asyncio.shield(worker)
        except BaseException:
            pass
        if ticket.slot is not None:
            ticket.slot.release()


async def _record(svc: Service, t: Ticket, out: dict) -> None:
    """Give the answer its experiment arm, count it, and store it (table answers) so votes can refer
    to it by `answer_id`."""
    out.setdefault("answer_id", uuid.uuid4().hex)
    out["experiment"], out["arm"] = t.experiment or None, t.arm or None
    latency = time.perf_counter() - t.t0
    dropped = len({d.get("sentence") for d in out.get("dropped") or [] if d.get("outcome") in ("removed", "uncited")})
    if t.experiment:
        svc.metrics.observe_answer(t.experiment, t.arm, out, latency, dropped)
    where = Recorded(t.kb, t.question, t.key_id, t.user, t.settings_hash, t.experiment, t.arm, latency, t.owner,
                     t.epoch)
    try:
        if not await run_in_threadpool(svc.feedback.record, out["answer_id"], where, out):
            log.info("answer %s not recorded: its user was forgotten while it was being made", out["answer_id"],
                     extra={"kb": t.kb, "event": "forgotten_meanwhile"})
    except Exception:
        log.warning("could not record answer %s", out["answer_id"], exc_info=True)


def _cache_put(svc: Service, t: Ticket, payload: dict) -> None:
    """Store the answer unless its user was forgotten since they asked: by this process (the cache refuses it,
    atomically, api.cache) or by another (the database's epoch, read here: a forget later than this read is
    applied to this cache by the forget feed at the next lookup)."""
    if t.epoch is None:
        return
    if t.pipe.synonyms.digest != t.synonyms:
        # the KB's synonyms changed while it was made (the pipeline is shared): it may hold either's answer, so
        # it is kept under neither (under the rules read on arrival, it would be served if they came back)
        log.info("answer not cached: the KB's synonyms changed while it was being made",
                 extra={"kb": t.kb, "event": "synonyms_changed_meanwhile"})
        return
    try:
        if epoch_of(svc.db, t.owner) != t.epoch:
            log.info("answer not cached: its user was forgotten while it was being made",
                     extra={"kb": t.kb, "event": "forgotten_meanwhile"})
            return
        svc.cache.put(t.kb, t.generation, t.question, t.vector, payload, variant=t.variant, owner=t.owner,
                      epoch=t.epoch)
    except Exception:
        log.warning("answer cache write failed", exc_info=True)


async def answer_once(svc: Service, ticket: Ticket) -> dict:
    final = None
    async for kind, value in events(svc, ticket, shows_tokens=False):
        if kind == "answer":
            final = value
    return final
