"""OpenAI-compatible routes: the `model` is the knowledge base. Existing chat front ends and the
official `openai` client work unchanged; citations come in an extra `citations` field (the last
chunk's when streaming)."""
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
from api.schemas import ContentPart
from api.service import Service

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[ContentPart] | None = None  # a text part's text must be a string (else 422)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, ... are accepted and ignored
    model: str = Field(..., description="the knowledge base name")
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False
    user: str | None = Field(None, max_length=200, description="the end user (OpenAI's field): experiment arms "
                                                               "are assigned per user")


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


@router.get("/models", summary="Knowledge bases this key may query, as OpenAI models")
def models(who: Principal = Depends(principal), svc: Service = Depends(service)):
    return {"object": "list", "data": [{"id": kb, "object": "model", "created": 0, "owned_by": "rag"}
                                       for kb in who.visible(svc.manager.names())]}


@router.post("/chat/completions", summary="OpenAI chat completions over a knowledge base (model = KB name)")
async def chat_completions(body: ChatRequest, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, body.model, "read")
    question, history = _split(body.messages)
    ticket = await admit(svc, body.model, question, history, who=who, user=body.user)
    cid, created = "chatcmpl-" + secrets.token_hex(12), int(time.time())
    if not body.stream:
        ans = await answer_once(svc, ticket)
        n = len(ans["answer"].split())
        return {"id": cid, "object": "chat.completion", "created": created, "model": body.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": ans["answer"]},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": n, "total_tokens": n},
                "citations": ans["citations"], "refused": ans["refused"], "timings": ans["timings"],
                "answer_id": ans["answer_id"], "experiment": ans.get("experiment"), "arm": ans.get("arm")}

    def chunk(delta: dict, finish: str | None = None, **extra) -> bytes:
        data = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
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
                                    timings=value["timings"], answer_id=value["answer_id"], answer=value["answer"])
        except ApiError as e:
            yield f"data: {json.dumps(error_body(e.code, e.message), ensure_ascii=False)}\n\n".encode()
        yield b"data: [DONE]\n\n"
    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
