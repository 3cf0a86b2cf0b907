"""Pure ASGI middleware: request id, access log, request metrics.

(Not BaseHTTPMiddleware: that one buffers streaming responses' errors and hides client
disconnects from the endpoint.)"""
from __future__ import annotations

import logging
import time

from api.metrics import Metrics
from api.observability import new_request_id, request_id_var

access_log = logging.getLogger("api.access")


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
        status = {"code": 500}
        t0 = time.perf_counter()

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            elif message["type"] == "websocket.accept":
                status["code"] = 101
                message["headers"] = list(message.get("headers") or []) + [(b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - t0
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "WS")
            self.metrics.requests.labels(path, method, str(status["code"])).inc()
            self.metrics.latency.labels(path).observe(elapsed)
            if scope["path"] not in ("/metrics", "/healthz"):
                access_log.info("%s %s %s %.1f ms", method, scope["path"], status["code"], elapsed * 1000,
                                extra={"method": method, "path": scope["path"], "status": status["code"],
                                       "duration_ms": round(elapsed * 1000, 1), "event": "access"})
            request_id_var.reset(token)
