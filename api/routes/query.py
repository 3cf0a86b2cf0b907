"""Search and grounded answers: JSON, Server-Sent Events, WebSocket."""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.answering import admit, answer_once, events
from api.auth import Principal
from api.deps import allow, authenticate, bearer, principal, service
from api.errors import ApiError, error_body
from api.schemas import AnswerOut, FiltersIn, HitOut, QueryRequest, SearchRequest
from api.service import Service
from indexer.types import Filters

router = APIRouter(prefix="/v1", tags=["search and answers"])

SSE_DOC = {"200": {"description": "JSON answer, or with \"stream\": true a text/event-stream of events "
                                  "`token` {\"text\"}, `citations` [...], `done` (the whole answer, as the JSON form)",
                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AnswerOut"}},
                               "text/event-stream": {"schema": {"type": "string"}}}}}


def filters_of(f: FiltersIn | None) -> Filters | None:
    return Filters.make(f.doc_ids, f.sources, f.tags) if f else None


@router.post("/kbs/{kb}/search", response_model=list[HitOut], summary="Hybrid search (as `rag search --json`)")
async def search(kb: str, body: SearchRequest, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "read")

    def run():
        pipe = svc.pipeline(kb)
        return [h.to_dict() for h in pipe.retriever.run(body.query, body.k, filters_of(body.filters), body.mode)]
    return await run_in_threadpool(run)


def sse(event: str, data) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


@router.post("/kbs/{kb}/query", response_model=AnswerOut, responses=SSE_DOC,
             summary="Answer a question with verified citations (as `rag ask --json`); stream with SSE")
async def query(kb: str, body: QueryRequest, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "read")
    history = [m.model_dump() for m in body.history]
    ticket = await admit(svc, kb, body.question, history, filters_of(body.filters))
    if not body.stream:
        return await answer_once(svc, ticket)

    async def stream():
        try:
            async for kind, value in events(svc, ticket):
                if kind == "token":
                    yield sse("token", {"text": value})
                else:
                    yield sse("citations", value["citations"])
                    yield sse("done", value)
        except ApiError as e:
            yield sse("error", error_body(e.code, e.message))
    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.websocket("/kbs/{kb}/ws")
async def ws_query(websocket: WebSocket, kb: str):
    """Send {"question", "history"?, "filters"?}; receive {"type": "token", "text"}..., {"type": "citations"},
    {"type": "done", "answer": {...}} per question; errors as {"type": "error", "error": {...}}.
    Authenticate with 'Authorization: Bearer KEY' or, from browsers, the query parameter ?key=KEY."""
    svc: Service = websocket.app.state.service
    key = bearer(websocket.headers) or websocket.query_params.get("key", "")
    try:
        who = authenticate(svc, key)
        allow(svc, who, kb, "read")
    except ApiError as e:
        await websocket.close(code=4401 if e.status == 401 else 4403 if e.status == 403 else 4404, reason=e.message)
        return
    await websocket.accept()
    try:
        while True:
            try:
                body = QueryRequest.model_validate(await websocket.receive_json())
            except (ValidationError, ValueError) as e:
                await websocket.send_json({"type": "error", **error_body("invalid_request", str(e).splitlines()[0])})
                continue
            try:
                svc.limiter.check(who.key_id)
                ticket = await admit(svc, kb, body.question, [m.model_dump() for m in body.history],
                                     filters_of(body.filters))
                async for kind, value in events(svc, ticket):
                    if kind == "token":
                        await websocket.send_json({"type": "token", "text": value})
                    else:
                        await websocket.send_json({"type": "citations", "citations": value["citations"]})
                        await websocket.send_json({"type": "done", "answer": value})
            except ApiError as e:
                await websocket.send_json({"type": "error", **error_body(e.code, e.message), "status": e.status})
    except WebSocketDisconnect:
        return
