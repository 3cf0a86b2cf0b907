"""The embedded job queue: a worker thread that polls the state database.

Fair across knowledge bases: after every file the worker moves to the next KB that has work (round
robin), so one tenant's 60-file job or slow file never holds another tenant's upload back for more
than one file.
"""
from __future__ import annotations

import logging
import threading

from api.jobs.consumer import ConsumerThread
from api.jobs.runner import JobRunner, WaitingForRoom
from api.jobs.store import JobStore

log = logging.getLogger("api.jobs")
MAX_BACKOFF_S = 60.0


def round_robin(jobs: list[tuple[str, str]], last_kb: str | None) -> tuple[str, str]:
    """The oldest job of the KB after `last_kb` in the order the KBs' oldest jobs arrived."""
    kbs = list(dict.fromkeys(kb for _, kb in jobs))
    kb = kbs[(kbs.index(last_kb) + 1) % len(kbs)] if last_kb in kbs else kbs[0]
    return next(j for j in jobs if j[1] == kb)


class LocalQueue(ConsumerThread):
    name = "local"

    def __init__(self, jobs: JobStore, runner: JobRunner, consume: bool = True, poll_s: float = 5.0):
        self.jobs, self.runner, self.consume, self.poll_s = jobs, runner, consume, poll_s
        self._init_consumer()
        self._wake = threading.Event()
        self._taken: set[str] = set()   # jobs this worker has begun (an attempt is counted once)
        self._last_kb: str | None = None

    def submit(self, job_id: str, kb: str) -> None:
        self._wake.set()

    def _wake_up(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                worked = self._once()
                failures = 0
            except WaitingForRoom as e:  # a full disk: one line, not a traceback per try
                failures += 1
                log.warning("index worker: %s (%d tries in a row)", e, failures)
                worked = False
            except Exception:  # the worker never dies; a broken or full database is retried
                failures += 1
                log.exception("index worker: unexpected error (%d in a row)", failures)
                worked = False
            if not worked:
                # after errors in a row, wait longer (up to MAX_BACKOFF_S): a full disk must not have the
                # same file parsed and embedded again every few seconds until someone frees space
                self._wake.wait(timeout=min(self.poll_s * 2 ** max(0, failures - 1), MAX_BACKOFF_S))
                self._wake.clear()

    def _once(self) -> bool:
        todo = self.jobs.unfinished()
        if not todo:
            return False
        job_id, kb = round_robin(todo, self._last_kb)
        self._last_kb = kb
        if job_id not in self._taken:
            self._taken.add(job_id)
            if not self.runner.begin(job_id):
                return True
        self._current = job_id
        try:
            if not self.runner.step(job_id):
                self._taken.discard(job_id)
        finally:
            self._current = None
        return True
