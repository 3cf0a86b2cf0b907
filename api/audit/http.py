"""Audit records of the HTTP API: a pure ASGI middleware records each request to a route of ACTIONS
with its outcome, before the response's status reaches the client (a client that saw 204 finds the
record in GET /v1/audit). It runs outside the body checks (api.body_limit, api.json_depth), so a request
they refuse before routing is recorded too, its route found from its method and path.

Who: the principal the `principal` dependency authenticated (api.deps puts it in the request's
state), or 'anonymous' when the key was missing or unknown. What: the route's action, the KB and
target from its path, and what the route noted with `note()` (a new KB's name, an upload's job id
and file names, a new key's id). Refused requests (401, 403, 404, 409, 422, ...) are recorded too."""
from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import compile_path

from api.audit.record import AuditEntry
from api.audit.trail import AuditTrail

log = logging.getLogger("api.audit")

# (method, route path) -> action. Reads are not audited, except an export (the KB's whole content leaves) and
# the gaps report (readers' questions).
ACTIONS: dict[tuple[str, str], str] = {
    ("POST", "/v1/kbs"): "kb.create",
    ("DELETE", "/v1/kbs/{kb}"): "kb.delete",
    ("GET", "/v1/kbs/{kb}/export"): "kb.export",
    ("GET", "/v1/kbs/{kb}/gaps"): "feedback.gaps",  # readers' questions leave too
    ("POST", "/v1/kbs/import"): "kb.import",
    ("POST", "/v1/kbs/{kb}/documents"): "documents.upload",
    ("PUT", "/v1/kbs/{kb}/synonyms"): "kb.synonyms",
    ("DELETE", "/v1/kbs/{kb}/synonyms"): "kb.synonyms",
    ("DELETE", "/v1/kbs/{kb}/documents/{doc_id}"): "document.delete",
    ("POST", "/v1/kbs/{kb}/reparse"): "documents.reparse",
    ("POST", "/v1/keys"): "key.create",
    ("DELETE", "/v1/keys/{key_id}"): "key.revoke",
    ("POST", "/v1/kbs/{kb}/channels"): "channel.add",
    ("DELETE", "/v1/kbs/{kb}/channels/{platform}"): "channel.remove",
    ("DELETE", "/v1/kbs/{kb}/channels"): "channel.remove",
    ("POST", "/v1/kbs/{kb}/experiments"): "experiment.create",
    ("DELETE", "/v1/kbs/{kb}/experiments/{name}"): "experiment.stop",
    ("POST", "/v1/kbs/{kb}/experiments/{name}/promote"): "settings.promote",
    ("POST", "/v1/kbs/{kb}/settings/rollback"): "settings.rollback",
    ("DELETE", "/v1/users/{user}"): "user.forget",
    ("POST", "/v1/state/purge"): "state.purge",
}
TARGET_PARAMS = ("doc_id", "key_id", "platform", "name", "user")


def note(request: Request, *, kb: str | None = None, target: str | None = None, **detail: Any) -> None:
    """What a route adds to its audit record (never a question, answer or secret)."""
    audit = request.scope.setdefault("state", {}).setdefault("audit", {})
    if kb is not None:
        audit["kb"] = kb
    if target is not None:
        audit["target"] = target
    audit.setdefault("detail", {}).update(detail)


def actor_of(svc, who) -> tuple[str, str, str]:
    """(actor, its name, its role) of a principal (api.auth.Principal) or None (no valid key)."""
    if who is None:
        return "anonymous", "", ""
    if who.key_id == "admin" and who.is_global_admin:
        return "admin", "RAG_ADMIN_KEY", "admin"
    info = svc.keys.get(who.key_id)
    role = who.scope + (f"@{who.kb}" if who.kb else "")
    return who.key_id, info.label if info else "", role


def outcome_of(status: int) -> str:
    return "ok" if status < 400 else "refused" if status < 500 else "failed"


class AuditHttp:
    def __init__(self, app, service):
        self.app, self.service = app, service

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        done = {"recorded": False}

        async def record(status: int) -> None:
            route = scope.get("route")
            path = getattr(route, "path", "") if route is not None else _route_path_of(scope)[0]
            action = ACTIONS.get((scope["method"], path))
            if action is None or done["recorded"]:
                return
            done["recorded"] = True
            try:
                await run_in_threadpool(self._append, scope, action, status)
            except Exception as e:  # the action happened (or was refused) either way: say so loudly
                log.error("audit record of %s could not be written: %s: %s", action, type(e).__name__, e,
                          extra={"event": "audit_failed"})

        async def send_recorded(message):
            if message["type"] == "http.response.start":
                await record(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recorded)
        except Exception:
            await record(500)
            raise

    def _append(self, scope, action: str, status: int) -> None:
        state = scope.get("state") or {}
        params = scope.get("path_params") or _route_path_of(scope)[1]
        noted = state.get("audit") or {}
        actor, name, role = actor_of(self.service, state.get("principal"))
        target = noted.get("target") or next((str(params[p]) for p in TARGET_PARAMS if p in params), "")
        client = scope.get("client")
        AuditTrail(self.service.db).append(AuditEntry(
            action=action, actor=actor, actor_name=name, actor_role=role, outcome=outcome_of(status), status=status,
            kb=noted.get("kb") or str(params.get("kb", "")), target=target, detail=noted.get("detail") or {},
            request_id=state.get("request_id", ""), client=client[0] if client else ""))


# ACTIONS' paths as the router reads them, for a request refused before routing (413, 422): no route in its scope
_PATTERNS = [(method, compile_path(path)[0], path) for method, path in ACTIONS]


def _route_path_of(scope) -> tuple[str, dict]:
    """(the ACTIONS route path a request's method and path take, its path parameters), or ("", {})."""
    for method, regex, path in _PATTERNS:
        if method == scope.get("method") and (m := regex.match(scope.get("path", ""))):
            return path, m.groupdict()
    return "", {}
