"""Votes on answers: POST /v1/feedback {answer_id, rating, comment?, correction?}; and what a KB's readers
asked that it did not answer: GET /v1/kbs/{kb}/gaps."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from api.auth import Principal
from api.deps import allow, principal, service
from api.errors import ApiError
from api.feedback.gaps import Gaps, knowledge_gaps
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


@router.get("/kbs/{kb}/gaps", response_model=Gaps, summary="What the KB's readers asked that it did not answer "
            "(refused, or voted down) over the last `days` days, most asked first, and the words of those questions "
            "that no document holds: where to add documents or synonyms (a KB admin key)")
async def gaps(kb: str, days: float = Query(30, gt=0, le=3650), limit: int = Query(20, ge=1, le=1000),
               who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "admin")  # readers' questions: for whoever administers the KB

    def report() -> Gaps:
        store = svc.manager.open(kb)
        try:
            return knowledge_gaps(svc.db, store, kb, days, limit)
        finally:
            store.close()
    return await run_in_threadpool(report)
