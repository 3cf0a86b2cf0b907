"""OpenAI-compatible routes: the `model` is the knowledge base. Existing chat front ends and the
official `openai` client work unchanged; citations come in an extra `citations` field (the last
chunk's when streaming), and `fallback` says when the answer is quoted from the passages instead of
written ('generator_failed': the generator failed) as the query route's does.

Sampling and length parameters (temperature, top_p, max_tokens, stop, seed, penalties, tools, ...) are
accepted and ignored: the answer is the verified, cited one the service's settings make. What cannot be
given at all is refused with 422 rather than silently dropped: more than one choice (`n`), and a JSON
`response_format` (the answer is text with [n] markers). `usage` counts words, one per CJK character
(the chunker's measure, indexer.tokenize), of the messages sent and of the answer: no model tokenizer
sees a quoted answer.

`filters` is not OpenAI's (the `openai` client sends it with `extra_body={"filters": {...}}`): the query
route's, only these documents, a doc id or source that names no document of the KB 422. It is a field of
its own because unknown fields are accepted: a `filters` ignored would answer from the whole KB."""
from __future__ import annotations

import json
import secrets
import time
from contextlib import aclosing
from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.answering import admit, answer_once, events
from api.auth import Principal
from api.deps import allow, principal, service
from api.errors import ApiError, error_body
from api.schemas import API_ERRORS, ContentPart, FiltersIn, ModelList, ModelOut, error_responses, filters_of
from api.service import Service
from indexer.tokenize import count_tokens

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], responses=API_ERRORS)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = None  # a text part's text must be a string (else 422)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = Field(False, description="send a last chunk with `usage` (and no choices) before [DONE]")


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, stop, ... are accepted and ignored
    model: str = Field(..., description="the knowledge base name")
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, description="choices to return: only 1 (the answer is the verified one; more is 422)")
    response_format: ResponseFormat | None = Field(None, description="only {'type': 'text'}: the answer is text "
                                                                     "with [n] citation markers (others are 422)")
    user: str | None = Field(None, max_length=200, description="the end user (OpenAI's field): experiment arms "
                                                               "are assigned per user")
    filters: FiltersIn | None = Field(None, description="not OpenAI's (the openai client: extra_body={'filters': "
                                                        "{...}}): only these documents, as POST /v1/kbs/{kb}/query's "
                                                        "filters; a doc id or source of no document of the KB is 422")


def _text(content: str | list[ContentPart] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.text or "" for p in content if p.type == "text")


def _split(messages: list[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    """The last user message is the question; earlier user/assistant turns are the history."""
    turns = [(m.role, _text(m.content)) for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user" or not turns[-1][1].strip():
        raise ApiError(422, "invalid_request", "messages must end with a non-empty user message")
    return turns[-1][1], [{"role": r, "content": c} for r, c in turns[:-1]]


def _supported(body: ChatRequest) -> None:
    """422 for what the service cannot give, which a client would otherwise read wrongly (a missing
    second choice, text where it parses JSON)."""
    if body.n not in (None, 1):
        raise ApiError(422, "unsupported_parameter", f"n={body.n} is not supported: one answer per request "
                       "(n=1); send separate requests for more")
    if body.response_format is not None and body.response_format.type != "text":
        raise ApiError(422, "unsupported_parameter", f"response_format {body.response_format.type!r} is not "
                       "supported: answers are text with [n] citation markers; use {'type': 'text'} or omit it")


def _usage(body: ChatRequest, answer: str) -> dict[str, int]:
    prompt = sum(count_tokens(_text(m.content)) for m in body.messages)
    completion = count_tokens(answer)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@router.get("/models", response_model=ModelList, summary="Knowledge bases this key may query, as OpenAI models")
def models(who: Principal = Depends(principal), svc: Service = Depends(service)):
    return ModelList(data=[ModelOut(id=kb) for kb in who.visible(svc.manager.names())])


@router.get("/models/{model}", response_model=ModelOut, summary="One knowledge base, as an OpenAI model")
def model(model: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, model, "read")
    return ModelOut(id=model)


@router.post("/chat/completions", responses=error_responses(502, 503), summary="OpenAI chat completions over a knowledge base (model = KB name)")
async def chat_completions(body: ChatRequest, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, body.model, "read")
    _supported(body)
    question, history = _split(body.messages)
    ticket = await admit(svc, body.model, question, history, filters_of(body.filters), who=who, user=body.user)
    cid, created = "chatcmpl-" + secrets.token_hex(12), int(time.time())
    if not body.stream:
        ans = await answer_once(svc, ticket)
        return {"id": cid, "object": "chat.completion", "created": created, "model": body.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": ans["answer"]},
                             "finish_reason": "stop"}],
                "usage": _usage(body, ans["answer"]),
                "citations": ans["citations"], "refused": ans["refused"], "timings": ans["timings"],
                "fallback": ans.get("fallback", ""), "fallback_reason": ans.get("fallback_reason", ""),
                "answer_id": ans["answer_id"], "experiment": ans.get("experiment"), "arm": ans.get("arm")}

    include_usage = body.stream_options is not None and body.stream_options.include_usage

    def chunk(delta: dict | None, finish: str | None = None, **extra) -> bytes:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": body.model,
                "choices": choices, **({"usage": None} if include_usage else {}), **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()

    async def stream():
        yield chunk({"role": "assistant", "content": ""})
        try:
            async with aclosing(events(svc, ticket)) as answer:  # closed at once when the client goes away
                async for kind, value in answer:
                    if kind == "token":
                        yield chunk({"content": value})
                    else:
                        # `answer`: the checked answer whole, for a client whose pieces it does not start
                        # with (raw streaming, or a later sentence that changed one already sent)
                        yield chunk({}, "stop", citations=value["citations"], refused=value["refused"],
                                    timings=value["timings"], answer_id=value["answer_id"], answer=value["answer"],
                                    fallback=value.get("fallback", ""),
                                    fallback_reason=value.get("fallback_reason", ""))
                        if include_usage:  # OpenAI's form: a last chunk with no choices
                            yield chunk(None, usage=_usage(body, value["answer"]))
        except ApiError as e:
            yield f"data: {json.dumps(error_body(e.code, e.message, **e.extra), ensure_ascii=False)}\n\n".encode()
        yield b"data: [DONE]\n\n"
    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
