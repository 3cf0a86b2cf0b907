"""JSON nested deeper than MAX_DEPTH levels is refused before it is parsed, over HTTP and the WebSocket.

json.loads recurses once per level: a body of 10,000 nested arrays ended FastAPI's parse in a
RecursionError, answered 400 "There was an error parsing the body" instead of the documented 422.
Our bodies nest at most 4 levels (an OpenAI message's content parts); MAX_DEPTH is 32.

too_deep() counts the nesting in one linear pass: strings are blanked by a regex that always matches
(an unclosed string runs to the end, so no position is scanned twice: the pattern it replaces took
19 s on 80 KB of '\\"'), then a loop over the brackets left stops at the first level past the limit.
JsonDepth applies it to JSON request bodies; it sits inside api.body_limit.BodyLimit, so the body it
collects is bounded by RAG_MAX_BODY_MB, and hands the same bytes on: FastAPI still parses them once.
"""
from __future__ import annotations

import json
import re

from api.body_limit import is_upload
from api.errors import error_body

MAX_DEPTH = 32
_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def too_deep(text: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON `text` nests arrays/objects deeper than `limit`; brackets inside strings do not count."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if data.count(b"[") + data.count(b"{") <= limit:  # cannot be that deep
        return False
    depth = 0
    for ch in _STRINGS.sub(b"", data).translate(None, _NOT_BRACKETS):
        if ch in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def too_deep_message(limit: int = MAX_DEPTH) -> str:
    return (f"the JSON nests arrays or objects more than {limit} levels deep, the most this service reads "
            "(its requests need 4); send the fields as documented in /docs")


def _is_json(scope: dict) -> bool:
    """Whether FastAPI would read the body as JSON: no Content-Type, or application/json or */*+json."""
    for name, value in scope.get("headers") or []:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))
    return True


class JsonDepth:
    def __init__(self, app, max_depth: int = MAX_DEPTH):
        self.app, self.max_depth = app, max_depth

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or is_upload(scope) or not _is_json(scope):
            return await self.app(scope, receive, send)
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left, or BodyLimit refused the body
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                break
        if message["type"] == "http.request" and too_deep(message["body"], self.max_depth):
            return await self._refuse(send)
        first: dict | None = message

        async def replay():
            nonlocal first
            if first is not None:
                out, first = first, None
                return out
            return await receive()  # after the body: the disconnect a streaming answer listens for

        await self.app(scope, replay, send)

    async def _refuse(self, send) -> None:
        body = json.dumps(error_body("json_too_deep", too_deep_message(self.max_depth))).encode()
        await send({"type": "http.response.start", "status": 422, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
