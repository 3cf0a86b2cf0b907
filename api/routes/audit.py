"""The audit trail, retention and the right to deletion over HTTP (global admin): GET /v1/audit,
DELETE /v1/users/{user}, POST /v1/state/purge. See docs/service.md "Audit, retention and personal data"."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.audit.http import actor_of, note
from api.audit.pseudonym import pseudonyms_of
from api.audit.redact import redact_plain_user_ids
from api.audit.trail import AuditQuery, AuditTrail, parse_since
from api.auth import Principal
from api.deps import principal, require_admin, service
from api.errors import ApiError
from api.schemas import API_ERRORS
from api.service import Service
from api.state.forget_user import forget_user
from api.state.retention import purge_older_than

router = APIRouter(prefix="/v1", tags=["audit and retention"], responses=API_ERRORS)


class AuditOut(BaseModel):
    id: int
    at: str
    actor: str
    actor_name: str
    actor_role: str
    action: str
    kb: str
    target: str
    detail: dict[str, Any]
    outcome: str
    status: int
    request_id: str
    client: str
    prev_hash: str
    hash: str


class CountsOut(BaseModel):
    answers: int
    feedback: int
    conversations: int


def since_of(value: str | None) -> str | None:
    try:
        return parse_since(value)
    except ValueError as e:
        raise ApiError(422, "invalid_request", str(e)) from None


MAX_OFFSET = 10**12  # past any trail, and within the 64-bit integer SQLite and PostgreSQL take (else a 500)


@router.get("/audit", response_model=list[AuditOut],
            summary="The audit trail, oldest first (global admin); page with limit and offset (X-Total-Count)")
def list_audit(response: Response, kb: str | None = Query(None, description="only this KB's records"),
               since: str | None = Query(None, description="only records at or after this UTC date or time"),
               action: str | None = Query(None, description="only this action (kb.delete), or a family ('key.')"),
               limit: int = Query(100, ge=1, le=1000, description="records per page"),
               offset: int = Query(0, ge=0, le=MAX_OFFSET, description="records skipped (the next page: offset + "
                                   "limit)"),
               who: Principal = Depends(principal), svc: Service = Depends(service)):
    require_admin(who)
    rows, total = AuditTrail(svc.db).list(AuditQuery(kb, since_of(since), action, limit, offset))
    response.headers["X-Total-Count"] = str(total)
    return [r.to_dict() for r in rows]


@router.delete("/users/{user}", response_model=CountsOut,
               summary="Delete an end user's recorded questions, answers, votes and chat conversations (global admin)")
async def delete_user(user: str, request: Request, who: Principal = Depends(principal),
                      svc: Service = Depends(service)):
    require_admin(who)
    try:
        gone = await run_in_threadpool(forget_user, svc.db, user, pseudonyms_of(svc.db).of(user))
    except ValueError as e:
        raise ApiError(422, "invalid_request", str(e)) from e
    if svc.forget_feed is not None:  # the other processes' caches learn of it from the audit record
        await run_in_threadpool(svc.forget_feed.forget, user, gone.epoch)
    actor, name, role = actor_of(svc, who)
    client = request.client.host if request.client else ""
    await run_in_threadpool(redact_plain_user_ids, svc.db, actor, actor_name=name, actor_role=role, client=client,
                            request_id=getattr(request.state, "request_id", ""))
    note(request, **gone.to_dict())
    return gone.to_dict()


@router.post("/state/purge", response_model=CountsOut,
             summary="Delete answers, votes and conversations older than retention_days now (global admin)")
async def purge_now(request: Request, who: Principal = Depends(principal), svc: Service = Depends(service)):
    require_admin(who)
    days = svc.svc.retention_days
    gone = await run_in_threadpool(purge_older_than, svc.db, days)
    note(request, **gone.to_dict(), retention_days=days)  # audited as state.purge (api.audit.http)
    return gone.to_dict()
