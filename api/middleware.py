"""Pure ASGI middleware: request id, security headers, access log, request metrics, the 503 for a
request that failed because PostgreSQL, Milvus or Redis is away (api.outage), and the 500 for anything
else a route let escape.

(Not BaseHTTPMiddleware: that one buffers streaming responses' errors and hides client
disconnects from the endpoint.)

Every HTTP response, errors and unhandled exceptions included, carries X-Request-ID, the
request id in its JSON error body, and the security headers below; every log line written while
the request is handled carries the id (api.observability). Logged URLs are redacted."""
from __future__ import annotations

import json
import logging
import re
import time

from api.errors import error_body
from api.metrics import Metrics
from api.observability import new_request_id, redact, request_id_var
from api.outage import RETRY_AFTER_S, outage_of

access_log = logging.getLogger("api.access")
log = logging.getLogger("api")
# paths holding an end user's id (DELETE /v1/users/{user}): the id (a staff id, a name) is logged as the
# placeholder, so that the log line of forgetting a user does not keep them (masking keeps a phone's last 4)
_PERSONAL_PATHS = [(re.compile(r"^(/v1/users/)[^/?]+"), r"\1{user}")]


def loggable_path(path: str) -> str:
    """The request path (and query) as logged: an end user's id replaced by its placeholder, then redacted."""
    for pattern, repl in _PERSONAL_PATHS:
        path = pattern.sub(repl, path)
    return redact(path)

# the web page's script and styles are files served by the app (api/web): no inline code runs
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# /docs (api/routes/api_docs.py): Swagger UI sets style attributes on the elements it draws, and
# renders the schema's examples in a worker from a blob: URL; still no inline script, no other host
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")
DOCS_PATHS = ("/docs",)
SECURITY_HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer")]
INTERNAL = "internal error; the request id identifies it in the logs"


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    csp = DOCS_CSP if path in DOCS_PATHS else CSP
    return [(b"content-security-policy", csp.encode()), *SECURITY_HEADERS]


def _with(headers, extra: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` plus those of `extra` it does not set already."""
    headers = list(headers or [])
    have = {k.lower() for k, _ in headers}
    return headers + [(k, v) for k, v in extra if k not in have]


class RequestContext:
    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        rid = new_request_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        scope["state"]["arrived"] = time.monotonic()  # before the body is read (chat callbacks' wait counts from it)
        status = {"code": 500, "started": False}
        t0 = time.perf_counter()
        extra = [(b"x-request-id", rid.encode()), *security_headers(scope["path"])]

        async def send_with_id(message):
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                status["code"], status["started"] = message["status"], True
                message["headers"] = _with(message.get("headers"), extra)
            elif message["type"] == "websocket.accept":
                status["code"], status["started"] = 101, True
                message["headers"] = _with(message.get("headers"), [(b"x-request-id", rid.encode())])
            elif message["type"] == "websocket.close" and not status["started"]:
                status["code"], status["started"] = 403, True  # closed before the handshake: the server says 403
            await send(message)

        escaped = False
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            method = scope.get("method", "WS")
            outage = outage_of(exc)
            if outage is not None and scope["type"] == "http" and not status["started"]:
                # a server we depend on is away: 503 naming it, one log line (not a traceback per request)
                log.warning("%s %s: %s", method, loggable_path(scope["path"]), outage.message,
                            extra={"event": "dependency_unavailable", "dependency": outage.dependency})
                body = json.dumps(error_body("dependency_unavailable", outage.message,
                                             dependency=outage.dependency)).encode()
                await send_with_id({"type": "http.response.start", "status": 503, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(RETRY_AFTER_S).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            log.exception("unhandled error on %s %s", method, loggable_path(scope["path"]))
            if scope["type"] == "http" and not status["started"]:
                # answered here, inside the request's context: the log line above, this body and
                # its header carry the request id (Starlette's own 500 handler runs outside it)
                body = json.dumps(error_body("internal", INTERNAL)).encode()
                await send_with_id({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
            else:
                # a response under way (or a WebSocket): the server closes the connection and logs
                # the exception once more; the request id stays set for that line (this task's context)
                escaped = True
                raise
        finally:
            elapsed = time.perf_counter() - t0
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "WS")
            self.metrics.requests.labels(path, method, str(status["code"])).inc()
            self.metrics.latency.labels(path).observe(elapsed)
            if scope["path"] not in ("/metrics", "/healthz"):
                qs = scope.get("query_string", b"").decode("latin-1")
                target = loggable_path(scope["path"] + (f"?{qs}" if qs else ""))
                access_log.info("%s %s %s %.1f ms", method, target, status["code"], elapsed * 1000,
                                extra={"method": method, "path": loggable_path(scope["path"]),
                                       "status": status["code"],
                                       "duration_ms": round(elapsed * 1000, 1), "event": "access"})
            if not escaped:
                request_id_var.reset(token)
