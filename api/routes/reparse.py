"""POST /v1/kbs/{kb}/reparse: read a KB's uploaded documents again from their kept originals (api.jobs.reparse)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from api.audit.http import note
from api.auth import Principal
from api.deps import allow, principal, service
from api.errors import ApiError
from api.jobs.reparse import ReparseAccepted, plan
from api.outage import outage_of
from api.schemas import API_ERRORS, error_responses
from api.service import Service
from api.upload import no_room
from indexer.originals import Originals
from indexer.store.write_errors import write_error

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
        todo = plan(kb, docs, Originals.of(svc.manager.settings, kb))
        svc.submit_reparse(job_id, kb, todo.todo)
        return ReparseAccepted(job_id=job_id, status="queued", files=[d.source for d in todo.todo],
                               not_reread=todo.left)
    try:
        out = await run_in_threadpool(start)
    except ApiError:
        raise
    except Exception as e:
        if (full := write_error(e)) is not None:  # the state database's disk (embedded: RAG_HOME) is full
            raise no_room(full) from e
        if (away := outage_of(e)) is None:
            raise
        raise ApiError(503, "queue_unavailable", f"the re-read could not be queued, nothing was changed: "
                       f"{away.message}", {"Retry-After": "10"}) from e
    note(request, files=out.files)
    return out
