"""A bound on the size of every request body except uploads, enforced before the body is buffered.

FastAPI reads a JSON body whole into memory, and does so before it resolves the route's
dependencies, the key check among them: without a bound, anyone who can reach the port (no key
needed) can make the service hold a body of gigabytes. Requests over `max_bytes` get 413: at once when
their Content-Length says so, else as soon as the bytes received pass it (the route then sees the
client as gone and its own answer is dropped). The upload route streams files to disk under its own
limits (api/upload.py), as the KB import route does (api/routes/kb_archive.py); both are left alone.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable

from api.errors import error_body

_UPLOAD = re.compile(r"/v1/kbs/[^/]+/documents|/v1/kbs/import")  # streamed to disk under their own limits


def is_upload(scope: dict) -> bool:
    return scope.get("method") == "POST" and _UPLOAD.fullmatch(scope.get("path", "")) is not None


class BodyLimit:
    def __init__(self, app, max_bytes: int, exempt: Callable[[dict], bool] = is_upload):
        self.app, self.max_bytes, self.exempt = app, max_bytes, exempt

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.exempt(scope):
            return await self.app(scope, receive, send)
        length = _content_length(scope)
        if length is not None and length > self.max_bytes:
            return await self._refuse(send, length)
        state = {"received": 0, "refused": False, "started": False}

        async def limited_receive():
            if state["refused"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes and not state["started"]:
                    state["refused"] = True
                    await self._refuse(send, None)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if state["refused"]:
                return  # the 413 has been sent; whatever the route makes of the disconnect is dropped
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _refuse(self, send, length: int | None) -> None:
        limit = f"{self.max_bytes / 2**20:g} MB"
        size = f"is {length / 2**20:.1f} MB" if length is not None else "is larger than that"
        body = json.dumps(error_body(
            "body_too_large", f"the request body {size}; requests other than uploads are limited to {limit} "
            "(RAG_MAX_BODY_MB). Send a shorter question or history; files go to POST /v1/kbs/{kb}/documents.")
        ).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: dict) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
