"""The job queue from config: Redis Streams when RAG_REDIS_URL is set (any number of API replicas and
`rag worker` processes), else the in-process worker thread over the state database."""
from __future__ import annotations

from typing import TYPE_CHECKING

from api.jobs.base import JobQueue
from api.jobs.runner import JobRunner
from api.jobs.store import JobStore

if TYPE_CHECKING:
    from api.jobs.streams import Chores


def make_queue(redis_url: str | None, jobs: JobStore, runner: JobRunner, consume: bool,
               claim_idle_s: float = 60.0, heartbeat_s: float = 10.0, chores: "Chores | None" = None) -> JobQueue:
    """`consume`: this process indexes (an API process with indexing on, or `rag worker`); an API
    replica started with `--indexing off` only submits. `chores`: done between jobs of the Redis queue
    (api.jobs.streams.Chores)."""
    if redis_url:
        from api.jobs.streams import StreamQueue

        return StreamQueue(redis_url, jobs, runner, consume=consume, claim_idle_s=claim_idle_s,
                           heartbeat_s=heartbeat_s, chores=chores)
    from api.jobs.local import LocalQueue

    return LocalQueue(jobs, runner, consume=consume)
