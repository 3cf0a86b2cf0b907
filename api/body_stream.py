"""A request body read chunk by chunk within two bounds, for the routes that stream one to disk (uploads,
KB archives): a client that sends nothing for `idle_s`, or takes longer than `total_s` in all, is cut
off with 408, so a slow or stalled client cannot hold a worker and a half-written file for ever."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from starlette.requests import Request

from api.errors import ApiError


async def timed_chunks(request: Request, idle_s: float, total_s: float) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; ApiError 408 'upload_stalled' after `idle_s` without data,
    'upload_too_slow' once `total_s` have passed since the first read (the caller's own work on each
    chunk counts too)."""
    started = time.monotonic()
    body = request.stream().__aiter__()
    while True:
        left = total_s - (time.monotonic() - started)
        if left <= 0:
            raise ApiError(408, "upload_too_slow", f"the upload took longer than {total_s:g} s")
        try:
            chunk = await asyncio.wait_for(body.__anext__(), timeout=min(idle_s, left))
        except StopAsyncIteration:
            return
        except asyncio.TimeoutError:
            raise ApiError(408, "upload_stalled", f"no data for {idle_s:g} s; the upload was cut off") from None
        yield chunk
