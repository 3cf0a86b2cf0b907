"""The cluster job queue: Redis Streams with one consumer group, shared by every worker process.

* One stream per knowledge base (`<prefix>jobs:<kb>`; the set `<prefix>job-kbs` names them). A worker
  visits the KBs in turn and takes one job from the next KB that has one, so jobs are scheduled
  fairly across tenants.
* A worker that is busy with a job refreshes its claim every `heartbeat_s` (XCLAIM of its own entry),
  so a long job is never taken away from a live worker; an entry idle for `claim_idle_s` belongs to a
  worker that died, and the next worker takes it back (XAUTOCLAIM) and finishes it. Files already
  recorded stay recorded (api/jobs/runner.py), so each file is indexed once.
* An entry is acknowledged and deleted when its job is finished, or gone (its KB was deleted).
* Redis may lose the queue (restarted without persistence, replaced, flushed): the consumer groups a
  worker made are made again, and the first worker to see the queue's marker key gone puts back every
  job the database holds unfinished whose entry is missing (`requeue_lost`), so no accepted upload
  waits forever. A job that was running is put back to be taken only after claim_idle_s, as a dead
  worker's would be: its worker may still be at it, and the KB writer locks in Redis went with the data.
* A queued job that no stream holds while Redis kept its data (the queue refused it and the database could not
  remove it: api.jobs.handoff) is added by the first worker to see it missing on two looks `unqueued_after_s`
  apart (`requeue_unqueued`): a job written but not yet added is added long before the second look.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from api.jobs.consumer import ConsumerThread
from api.jobs.runner import JobRunner
from api.jobs.store import JobStore

log = logging.getLogger("api.jobs")
GROUP = "workers"
MARKER = "queue-epoch"  # set once the streams hold every unfinished job; gone when Redis lost its data


class Chores(Protocol):
    """What a worker does on its job loop's thread, where no job of its own runs meanwhile."""

    def before_job(self, kb: str) -> None: ...
    def idle(self) -> None: ...


class StreamQueue(ConsumerThread):
    name = "redis-streams"
    thread_name = "rag-stream-worker"

    def __init__(self, redis_url: str, jobs: JobStore, runner: JobRunner | None, consume: bool = True,
                 prefix: str = "rag:", claim_idle_s: float = 60.0, heartbeat_s: float = 10.0, block_s: float = 2.0,
                 consumer: str | None = None, chores: Chores | None = None, unqueued_after_s: float = 60.0):
        """`chores`: what a consuming process does on its job loop's thread between jobs (api.jobs.ocr_prune).
        `unqueued_after_s`: how often a worker looks for queued jobs no stream holds (requeue_unqueued)."""
        import redis

        self.redis = redis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5)
        self.jobs, self.runner, self.consume, self.prefix = jobs, runner, consume, prefix
        self.claim_idle_ms = int(claim_idle_s * 1000)
        self.heartbeat_s, self.block_s = heartbeat_s, block_s
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.chores = chores
        self._init_consumer()
        self._groups: set[str] = set()
        self._turn = 0
        self.unqueued_after_s = unqueued_after_s
        self._next_look = time.monotonic() + unqueued_after_s
        self._unqueued: set[tuple[str, str]] = set()  # (job, kb) queued in the database, in no stream at the last look

    # ---- producing -------------------------------------------------------------
    def stream(self, kb: str) -> str:
        return f"{self.prefix}jobs:{kb}"

    def _group(self, stream: str) -> None:
        if stream in self._groups:
            return
        try:
            self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except Exception as e:  # BUSYGROUP: it exists
            if "BUSYGROUP" not in str(e):
                raise
        self._groups.add(stream)

    def submit(self, job_id: str, kb: str) -> None:
        self._add(job_id, kb)

    def _add(self, job_id: str, kb: str, not_before: float = 0.0) -> None:
        """`not_before` (epoch seconds): a worker that reads the entry earlier leaves it pending, to be taken
        back after claim_idle_s."""
        stream = self.stream(kb)
        self._group(stream)
        pipe = self.redis.pipeline()
        pipe.sadd(f"{self.prefix}job-kbs", kb)
        pipe.xadd(stream, {"job": job_id, "kb": kb, **({"not_before": repr(not_before)} if not_before else {})})
        pipe.execute()

    def forget_kb(self, kb: str) -> None:
        """A deleted KB's stream goes (its jobs are gone from the database already)."""
        self.redis.srem(f"{self.prefix}job-kbs", kb)
        self.redis.delete(self.stream(kb))
        self._groups.discard(self.stream(kb))

    # ---- consuming -------------------------------------------------------------
    def _loop(self) -> None:
        """Take jobs until stopped."""
        while not self._stop.is_set():
            try:
                self.requeue_lost()
                self.requeue_unqueued()
                entry = self._take()
            except Exception as e:  # unreachable, or reached again without our groups (NOGROUP): make them anew
                self._groups.clear()
                log.warning("job queue: Redis unavailable or reset (%s); retrying", e)
                self._stop.wait(2.0)
                continue
            if entry is None:
                self._chore(lambda c: c.idle())
                self._stop.wait(self.block_s)
                continue
            stream, entry_id, job_id = entry
            try:
                self._work(stream, entry_id, job_id)
            except Exception as e:  # taking the job failed (the database away): its entry stays pending and
                # is taken back after claim_idle_s, by this worker or another
                log.warning("job queue: could not take %s (%s); it will be taken back", job_id, e)
                self._stop.wait(2.0)

    def requeue_lost(self) -> int:
        """When Redis has lost the queue (its marker key is gone) and this worker is the first to see it:
        add an entry for every unfinished job of the database that no stream holds. How many were added."""
        marker = f"{self.prefix}{MARKER}"
        if self.redis.exists(marker) or not self.redis.set(marker, self.consumer, nx=True):
            return 0
        try:
            queued: dict[str, set[str]] = {}
            added = 0
            for job_id, kb in self.jobs.unfinished():
                if kb not in queued:
                    queued[kb] = {f.get(b"job", b"").decode() for _, f in self.redis.xrange(self.stream(kb))}
                if job_id not in queued[kb]:
                    job = self.jobs.get(job_id)
                    running = job is not None and job.status == "running"  # its worker may be alive: wait
                    self._add(job_id, kb, time.time() + self.claim_idle_ms / 1000 if running else 0.0)
                    added += 1
        except BaseException:
            self.redis.delete(marker)  # not done: the next look tries again
            raise
        if added:
            log.warning("job queue: Redis had lost %d unfinished job(s) (restarted without its data?); they are "
                        "queued again from the database", added, extra={"event": "jobs_requeued"})
        return added

    def requeue_unqueued(self) -> int:
        """Every `unqueued_after_s`: add an entry for each queued job of the database that no stream held at this
        look and the last (one written a moment ago is added by its request before the second look). One worker a
        look (a key that expires with it), so that two never add the same job. How many were added."""
        if time.monotonic() < self._next_look:
            return 0
        self._next_look = time.monotonic() + self.unqueued_after_s
        if not self.redis.set(f"{self.prefix}unqueued-look", self.consumer, nx=True,
                              px=max(1, int(self.unqueued_after_s * 500))):
            return 0
        missing: set[tuple[str, str]] = set()
        held: dict[str, set[str]] = {}
        for job_id, kb in self.jobs.queued():
            if kb not in held:
                held[kb] = {f.get(b"job", b"").decode() for _, f in self.redis.xrange(self.stream(kb))}
            if job_id not in held[kb]:
                missing.add((job_id, kb))
        again, self._unqueued = missing & self._unqueued, missing - self._unqueued
        for job_id, kb in sorted(again):
            self._add(job_id, kb)
        if again:
            log.warning("job queue: %d queued job(s) were in no stream (refused by Redis and not withdrawn: %s); "
                        "they are queued again", len(again), ", ".join(sorted(j for j, _ in again)),
                        extra={"event": "jobs_requeued"})
        return len(again)

    def _kbs(self) -> list[str]:
        kbs = sorted(k.decode() for k in self.redis.smembers(f"{self.prefix}job-kbs"))
        if not kbs:
            return []
        self._turn = (self._turn + 1) % len(kbs)
        return kbs[self._turn:] + kbs[:self._turn]

    def _take(self) -> tuple[str, str, str] | None:
        for kb in self._kbs():
            stream = self.stream(kb)
            self._group(stream)
            # a dead worker's entry first, then a new one
            _, claimed, *_ = self.redis.xautoclaim(stream, GROUP, self.consumer, self.claim_idle_ms,
                                                   start_id="0-0", count=1)
            if claimed and _due(claimed[0][1]):
                entry_id, fields = claimed[0]
                log.info("job queue: took back %s from a worker that stopped", fields.get(b"job", b"?").decode(),
                         extra={"event": "job_reclaimed"})
                return stream, entry_id.decode(), fields[b"job"].decode()
            got = self.redis.xreadgroup(GROUP, self.consumer, {stream: ">"}, count=1)
            if got and _due(got[0][1][0][1]):  # one not due stays pending here, idle: taken back later
                entry_id, fields = got[0][1][0]
                return stream, entry_id.decode(), fields[b"job"].decode()
        return None

    def _work(self, stream: str, entry_id: str, job_id: str) -> None:
        beat = threading.Event()

        def heartbeat() -> None:
            while not beat.wait(self.heartbeat_s):
                try:
                    self.redis.xclaim(stream, GROUP, self.consumer, 0, [entry_id], justid=True)
                except Exception:
                    pass

        hb = threading.Thread(target=heartbeat, name="rag-job-heartbeat", daemon=True)
        hb.start()
        self._current = job_id
        kb = stream.removeprefix(f"{self.prefix}jobs:")
        self._chore(lambda c: c.before_job(kb))
        try:
            self.runner.run(job_id, stop=self._stop.is_set, pause=self._stop.wait)
        finally:
            beat.set()
            self._current = None
        if self._stop.is_set() and self.jobs.next_file(job_id) is not None:
            return  # stopping: leave the entry pending; another worker takes it back
        try:
            self.redis.xack(stream, GROUP, entry_id)
            self.redis.xdel(stream, entry_id)
        except Exception:
            log.warning("job queue: could not acknowledge %s; it will be taken back and found finished", job_id)

    def _chore(self, do: Callable[[Chores], object]) -> None:
        """A chore never stops the loop: its failure is logged."""
        if self.chores is not None:
            try:
                do(self.chores)
            except Exception:
                log.warning("job queue: a chore between jobs failed", exc_info=True)


def _due(fields: dict) -> bool:
    """An entry may be worked on now (its `not_before`, if any, has passed)."""
    return float(fields.get(b"not_before", 0) or 0) <= time.time()
