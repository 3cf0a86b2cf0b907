"""Votes on answers: POST /v1/feedback {answer_id, rating, comment?, correction?}."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from api.auth import Principal
from api.deps import principal, service
from api.errors import ApiError
from api.schemas import API_ERRORS, FeedbackIn, FeedbackOut
from api.service import Service

router = APIRouter(prefix="/v1", tags=["feedback"], responses=API_ERRORS)


@router.post("/feedback", response_model=FeedbackOut, summary="Rate an answer (up or down), optionally with a "
             "comment and a correction; a later vote on the same answer replaces it")
async def feedback(body: FeedbackIn, who: Principal = Depends(principal), svc: Service = Depends(service)):
    answer = await run_in_threadpool(svc.feedback.get, body.answer_id)
    if answer is None or not who.can(answer["kb"], "read"):
        # one 404 for unknown ids and other tenants' answers: ids of other KBs do not leak
        raise ApiError(404, "answer_not_found", f"no answer {body.answer_id!r}")
    out = await run_in_threadpool(svc.feedback.rate, body.answer_id, body.rating, body.comment, body.correction,
                                  who.key_id)
    svc.metrics.feedback.labels(body.rating).inc()
    if answer["experiment"]:
        svc.metrics.exp_feedback.labels(answer["experiment"], answer["arm"], body.rating).inc()
    return out
