"""POST /v1/kbs/{kb}/reparse: read a KB's uploaded documents again from their kept originals (api.jobs.reparse)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from api.audit.http import note
from api.auth import Principal
from api.deps import allow, principal, service
from api.errors import ApiError
from api.jobs.originals import kept_originals
from api.jobs.reparse import ReparseAccepted, plan
from api.schemas import API_ERRORS, error_responses
from api.service import Service
from api.upload import queue_error

router = APIRouter(prefix="/v1", tags=["documents"], responses=API_ERRORS)


@router.post("/kbs/{kb}/reparse", status_code=202, response_model=ReparseAccepted, responses=error_responses(503),
             summary="Read the KB's uploaded documents again from their kept originals with today's parsers, in "
                     "the background (admin; poll GET /v1/jobs/{job_id}); those not kept are listed with what to do")
async def reparse(kb: str, request: Request, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "admin")
    job_id = svc.jobs.new_id()
    note(request, job_id=job_id)

    def start() -> ReparseAccepted:
        store = svc.manager.open(kb)
        try:
            docs = store.documents()
        finally:
            store.close()
        todo = plan(kb, docs, kept_originals(svc.manager.settings, kb, svc.db))
        svc.submit_reparse(job_id, kb, todo.todo)
        return ReparseAccepted(job_id=job_id, status="queued", files=[d.source for d in todo.todo],
                               not_reread=todo.left)
    try:
        out = await run_in_threadpool(start)
    except ApiError:
        raise
    except Exception as e:
        raise queue_error(e, "re-read") from e
    note(request, files=out.files)
    return out
