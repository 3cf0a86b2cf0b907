"""The writer lock of a Milvus KB: one writer at a time, whatever process or machine it runs on.

Pluggable: MilvusStore takes any object with `acquire(timeout)` (raises KBLockedError when the
timeout passes), `release()`, `held` (False once a lease was lost) and `verify()` (the fence the store
checks before each write and before it publishes one: is the lock still ours?), made by a LockFactory
from a lock name. `default_locks` picks:

    RAG_REDIS_URL set     RedisLock: `SET key token NX PX ttl`, renewed by a thread, released on close
                          (writers on several machines: the cluster case)
    Milvus Lite (.db)     ThreadLock: one process owns a Milvus Lite file, so an in-process lock suffices
    a server, no Redis    FileLock under the RAG home: excludes writers on this machine only

MilvusStore names a lock after the KB and its incarnation (a random id made when the KB is created),
so deleting a KB frees its name at once, as deleting a local KB's folder frees its lock file.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Protocol

from indexer.store.base import KBLockedError, wait_for_writer

log = logging.getLogger(__name__)


class WriterLock(Protocol):
    held: bool

    def acquire(self, timeout: float) -> None: ...
    def release(self) -> None: ...
    def verify(self) -> bool: ...


class ThreadLock:
    """A lock per key shared by every thread of this process."""

    _locks: dict[str, threading.Lock] = {}
    _guard = threading.Lock()

    def __init__(self, key: str, what: str = ""):
        with ThreadLock._guard:
            self._lock = ThreadLock._locks.setdefault(key, threading.Lock())
        self.what = what or key
        self.held = False

    def acquire(self, timeout: float) -> None:
        wait_for_writer(lambda: self._lock.acquire(blocking=False), timeout, self.what)
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self._lock.release()

    def verify(self) -> bool:
        return self.held


class FileLock:
    """flock on a file: excludes other processes (and other opens in this one) on this machine."""

    def __init__(self, path: Path, what: str = ""):
        self.path, self.what = path, what or str(path)
        self._fd: int | None = None
        self.held = False

    def acquire(self, timeout: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

        def once() -> bool:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False
        try:
            wait_for_writer(once, timeout, self.what)
        except KBLockedError:
            os.close(self._fd)
            self._fd = None
            raise
        self.held = True

    def release(self) -> None:
        self.held = False
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def verify(self) -> bool:
        return self.held


# KEYS[1] = lock key, ARGV[1] = our token, ARGV[2] = ttl in ms: act only while the lock is still ours
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisLock:
    """A lease in Redis: `SET key token NX PX ttl`, renewed every ttl/3 while held, deleted on release
    (only if still ours). If renewal fails for longer than the ttl (Redis unreachable, or the key was
    taken over), `held` turns False and the store refuses further writes.

    The renewal alone noticed a lost lease up to ttl/3 (10 s) late: when Redis loses its data (restarted
    without persistence, flushed, failed over to a replica that lacked the key) another writer takes the
    lock at once and both wrote the KB (the same row ids among them). `verify()` asks Redis before each
    write (one round trip, renewing the lease as it checks), so the writer stops at its next write."""

    def __init__(self, client, key: str, ttl_ms: int = 30_000, what: str = ""):
        if isinstance(client, str):
            import redis

            client = redis.Redis.from_url(client)
        self.client, self.key, self.ttl_ms = client, key, int(ttl_ms)
        self.what = what or key
        self.token = uuid.uuid4().hex
        self.held = False
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._renewed = 0.0

    def acquire(self, timeout: float) -> None:
        wait_for_writer(lambda: bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms)), timeout, self.what)
        self.held, self._renewed = True, time.monotonic()
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew_loop, name=f"redis-lock-{self.key}", daemon=True)
        self._renewer.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                if self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms):
                    self._renewed = time.monotonic()
                    continue
                log.error("writer lock %s was taken over: this writer stops", self.key)
                self.held = False
                return
            except Exception as e:  # Redis briefly unreachable: keep trying until the lease runs out
                log.warning("could not renew writer lock %s: %s", self.key, e)
                if time.monotonic() - self._renewed > self.ttl_ms / 1000:
                    log.error("writer lock %s expired while Redis was unreachable: this writer stops", self.key)
                    self.held = False
                    return

    def verify(self) -> bool:
        """Still ours: the key holds our token (renewed by the same script). While Redis cannot be reached
        the lease counts until its ttl runs out, as the renewal does: no one else can take it then unless
        Redis lost it, which the first write after Redis is back finds."""
        if not self.held:
            return False
        try:
            ours = bool(self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))
        except Exception as e:
            if time.monotonic() - self._renewed <= self.ttl_ms / 1000:
                return True
            log.error("writer lock %s expired while Redis was unreachable (%s): this writer stops", self.key, e)
            self.held = False
            return False
        if ours:
            self._renewed = time.monotonic()
            return True
        log.error("writer lock %s is no longer ours (Redis lost it, or another writer took it): this writer stops",
                  self.key)
        self.held = False
        return False

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
            self._renewer = None
        if self.held:
            self.held = False
            try:
                self.client.eval(_RELEASE, 1, self.key, self.token)
            except Exception as e:  # the lease expires by itself
                log.warning("could not release writer lock %s: %s", self.key, e)


LockFactory = Callable[[str], WriterLock]  # a lock name -> that lock (not yet taken)


def default_locks(uri: str, lock_dir: Path | None = None, redis_url: str | None = None) -> LockFactory:
    """The writer locks of the Milvus at `uri` (see the module docstring for which kind)."""
    redis_url = redis_url or os.environ.get("RAG_REDIS_URL")
    where = hashlib.sha1(uri.encode("utf-8")).hexdigest()[:16]  # URIs may hold credentials: never in a key
    if redis_url:
        import redis

        client = redis.Redis.from_url(redis_url)
        return lambda name: RedisLock(client, f"harbor-rag:kb-writer:{where}:{name}", what=_what(name))
    if uri.endswith(".db") or lock_dir is None:
        scope = os.path.abspath(uri) if uri.endswith(".db") else uri
        return lambda name: ThreadLock(f"{scope}|{name}", what=_what(name))
    return lambda name: FileLock(lock_dir / f"milvus-{where}-{name}.lock", what=_what(name))


def _what(name: str) -> str:
    kb, _, role = name.split("@")[0].partition("#")
    return f"knowledge base {kb!r}" + (f" ({role} copy)" if role else "")
