"""Backpressure for answers: a fixed number of workers and a bounded waiting line.

Two gates (api.service): one for answers a model writes (one worker by default: generation takes the
cores), one for quoted answers (several workers: a quote takes tens of milliseconds, and waiting behind
a model's answer made them 503 under load).

`enter()` admits a request or raises 503 (with Retry-After) when every worker is busy and the
line is full; nothing piles up unbounded. The slot is held until `release()`: for a streamed
answer that is when the stream ends or the client goes away, whichever comes first."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from api.errors import ApiError


@dataclass(frozen=True)
class GateMeters:
    """What a gate reports: answers waiting, answers being worked on, answers refused (queue full)."""

    queue_depth: Any
    active: Any
    rejected: Any


class GenerationGate:
    def __init__(self, workers: int, queue: int, retry_after_s: int, metrics: GateMeters, what: str = "answer"):
        self.workers, self.queue, self.retry_after_s, self.what = workers, queue, retry_after_s, what
        self.metrics = metrics
        self._sem: asyncio.Semaphore | None = None
        self.waiting = 0
        self.active = 0
        self.closing = False

    def _semaphore(self) -> asyncio.Semaphore:
        if self._sem is None:  # created inside the running loop
            self._sem = asyncio.Semaphore(self.workers)
        return self._sem

    async def enter(self) -> "Slot":
        if self.closing:
            raise ApiError(503, "shutting_down", "the service is shutting down; retry shortly",
                           {"Retry-After": str(self.retry_after_s)})
        if self.active + self.waiting >= self.workers + self.queue:
            self.metrics.rejected.inc()
            raise ApiError(503, "busy", f"all {self.workers} {self.what} workers are busy and {self.queue} questions "
                           "are waiting; retry after a few seconds", {"Retry-After": str(self.retry_after_s)})
        self.waiting += 1
        self.metrics.queue_depth.set(self.waiting)
        try:
            await self._semaphore().acquire()
        finally:
            self.waiting -= 1
            self.metrics.queue_depth.set(self.waiting)
        self.active += 1
        self.metrics.active.set(self.active)
        return Slot(self)

    async def drain(self, timeout: float) -> None:
        """Graceful shutdown: admit nothing new, wait (up to timeout) for answers in progress."""
        self.closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self.active or self.waiting) and loop.time() < deadline:
            await asyncio.sleep(0.05)


class Slot:
    def __init__(self, gate: GenerationGate):
        self.gate, self.released = gate, False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.gate.active -= 1
            self.gate.metrics.active.set(self.gate.active)
            self.gate._semaphore().release()
