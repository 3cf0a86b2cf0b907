"""Who is calling and what they may touch: Bearer key -> Principal (401), rate limit (429),
KB permission (403, checked before existence so other tenants' KB names do not leak), KB (404)."""
from __future__ import annotations

from fastapi import Request

from api.auth import Principal
from api.errors import ApiError
from api.service import Service

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


def service(request: Request) -> Service:
    return request.app.state.service


def bearer(headers) -> str:
    auth = headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def authenticate(svc: Service, key: str, client: str | None = None) -> Principal:
    """The caller's principal; 401 for a missing or unknown key, 429 past a limit (per key, per KB,
    and failed authentications per client address)."""
    try:
        if not key:
            if client:
                svc.limiter.failed_auth(client)
            raise ApiError(401, "unauthorized", "missing API key: send 'Authorization: Bearer KEY'", UNAUTHORIZED)
        who = svc.keys.authenticate(key)
        if who is None:
            if client:
                svc.limiter.failed_auth(client)
            raise ApiError(401, "unauthorized", "unknown or revoked API key", UNAUTHORIZED)
        svc.limiter.check(who.key_id, who.kb)
    except ApiError as e:
        if e.status == 429:
            svc.metrics.rate_limited.inc()
        raise
    return who


def client_address(request) -> str | None:
    return request.client.host if request.client else None


def principal(request: Request) -> Principal:
    who = authenticate(service(request), bearer(request.headers), client_address(request))
    request.scope.setdefault("state", {})["principal"] = who  # the audit trail's actor (api.audit.http)
    return who


def allow(svc: Service, who: Principal, kb: str, scope: str, must_exist: bool = True) -> None:
    if not who.can(kb, scope):
        raise ApiError(403, "forbidden", f"this key may not {'read' if scope == 'read' else scope} "
                                         f"knowledge base {kb!r}")
    if must_exist:
        try:
            exists = svc.manager.exists(kb)
        except ValueError:
            exists = False
        if not exists:
            raise ApiError(404, "kb_not_found", f"knowledge base {kb!r} does not exist")


def require_admin(who: Principal) -> None:
    if not who.is_global_admin:
        raise ApiError(403, "forbidden", "this needs an admin key (RAG_ADMIN_KEY or a key with scope admin "
                                         "and no KB)")


def open_writable(svc: Service, kb: str):
    """The KB's store opened for writing; 409 kb_busy (Retry-After) while indexing holds it past 30 s.
    Blocking: call it in a worker thread."""
    from indexer.store.base import KBLockedError

    try:
        return svc.manager.open(kb, writable=True, lock_timeout=30)
    except KBLockedError as e:
        raise ApiError(409, "kb_busy", "the knowledge base is being indexed; retry in a moment",
                       {"Retry-After": "10"}) from e
