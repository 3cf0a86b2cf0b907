"""Redis answer-cache backend, shared by every worker of the service.

Layout, per space S = "{prefix}:{kb}:{generation}:{variant hash}" (kb URL-quoted, so no ':' or
glob characters):
    S:e:{qhash}  hash  q (question), w (content words, JSON), p (payload JSON), t (stored at),
                       o (the asker's pseudonym: `forget` finds a forgotten user's entries by it)
    {prefix}:!forgotten:{pseudonym}  a forgotten user's forget epoch (api.state.forgotten): an entry of a
                           question they asked before it is refused (the check and the write are one script)
    S:v          hash  qhash -> float32 vector bytes (each process mirrors them, fetching only new ones)
    S:i          list  qhash, newest first, trimmed to max_per_kb (the trimmed entries are deleted)
    {prefix}:{kb}:latest   the newest generation stored (older generations are never served, and
                           deleted once a newer one is stored)
Every key expires after ttl_s (PEXPIRE, refreshed by puts).

Outages: every call has `timeout_s` for connecting and reading and no retries. On a Redis error
the call reports a miss (or does nothing), the first error is logged, and Redis is left alone for
`retry_s` (doubling up to `retry_max_s` while it stays down); the first call after that tries
again, and on success the cache is used as before ("redis answer cache is back" is logged).
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import quote

import numpy as np
import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from api.cache.base import Entry, Space

log = logging.getLogger(__name__)
T = TypeVar("T")

# set the KB's newest generation if `gen` is newer; returns the previous value (-1: none)
_BUMP = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
local gen = tonumber(ARGV[1])
if gen > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return cur
"""
# store an entry unless its owner was forgotten after asking (the marker's epoch above the entry's), in one
# step, so a forget (marker first, then its scan) either sees the entry or makes the put refuse it; then its
# vector, its place in the space's list (trimmed to max_per_kb; the trimmed entries deleted) and the expiries.
# KEYS: marker, entry, vectors, list, latest. ARGV: owner ('' none), epoch, q, w, p, t, ttl_ms, qhash, vector
# bytes ('' none), max_per_kb, space. Returns 0 when refused, else 1.
_PUT = """
if ARGV[1] ~= '' and tonumber(redis.call('GET', KEYS[1]) or '0') > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[2], 'q', ARGV[3], 'w', ARGV[4], 'p', ARGV[5], 't', ARGV[6], 'o', ARGV[1], 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[8], ARGV[9])
  redis.call('PEXPIRE', KEYS[3], ARGV[7])
end
redis.call('LREM', KEYS[4], 0, ARGV[8])
redis.call('LPUSH', KEYS[4], ARGV[8])
local max = tonumber(ARGV[10])
local over = redis.call('LRANGE', KEYS[4], max, -1)
redis.call('LTRIM', KEYS[4], 0, max - 1)
redis.call('PEXPIRE', KEYS[4], ARGV[7])
redis.call('PEXPIRE', KEYS[5], ARGV[7])
for _, k in ipairs(over) do
  redis.call('DEL', ARGV[11] .. ':e:' .. k)
  redis.call('HDEL', KEYS[3], k)
end
return 1
"""
# A forgotten user's marker outlives any answer begun before the forget (answers take seconds to minutes).
FORGOTTEN_MARK_S = 86400
MAX_CANDIDATES = 8  # near-duplicate entries fetched per lookup, best first
MIRROR_SPACES = 64  # spaces whose vectors each process mirrors (LRU)


class RedisBackend:
    name = "redis"

    def __init__(self, url: str, *, prefix: str = "rag:answers", ttl_s: float = 3600.0, max_per_kb: int = 1000,
                 timeout_s: float = 0.2, retry_s: float = 1.0, retry_max_s: float = 30.0):
        self.prefix, self.ttl_ms, self.max_per_kb = prefix, max(1, int(ttl_s * 1000)), max_per_kb
        self.retry_s, self.retry_max_s = retry_s, retry_max_s
        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                           retry=Retry(NoBackoff(), 0), health_check_interval=0)
        self._bump = self.client.register_script(_BUMP)
        self._put = self.client.register_script(_PUT)
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._backoff = retry_s
        self._up = True
        self._pending: set[str] = set()  # KBs to invalidate (kept while Redis is down)
        self._forgotten: dict[str, int] = {}  # owner -> forget epoch, to mark and drop (kept while Redis is down)
        self._mirror: OrderedDict[str, dict[bytes, np.ndarray | None]] = OrderedDict()
        self._mirror_lock = threading.Lock()
        self.errors = 0    # failed Redis calls
        self.skipped = 0   # calls not sent because Redis was down (backing off)

    # ---- keys ------------------------------------------------------------------------
    def _kb(self, kb: str) -> str:
        return f"{self.prefix}:{quote(kb, safe='')}"

    def _space(self, space: Space) -> str:
        variant = hashlib.sha1(space.variant.encode("utf-8")).hexdigest()[:12] if space.variant else "-"
        return f"{self._kb(space.kb)}:{int(space.generation)}:{variant}"

    # ---- outage handling ---------------------------------------------------------------
    def _call(self, op: str, fn: Callable[[], T], default: T, flush: bool = True) -> T:
        """fn() against Redis, or `default` while Redis is down or when the call fails (never raises).
        Invalidations deferred by an outage are done first."""
        with self._lock:
            if time.monotonic() < self._down_until:
                self.skipped += 1
                return default
        try:
            if flush and (self._pending or self._forgotten):
                self._flush_pending()
            result = fn()
        except (RedisError, OSError) as exc:
            self._failed(op, exc)
            return default
        except (ValueError, KeyError, TypeError) as exc:  # an entry we cannot read: a miss, Redis is fine
            log.warning("redis answer cache: unreadable data in %s (%s: %s)", op, type(exc).__name__, exc)
            return default
        self._succeeded()
        return result

    def _failed(self, op: str, exc: BaseException) -> None:
        with self._lock:
            self.errors += 1
            first = self._up
            self._up = False
            wait = self._backoff
            self._down_until = time.monotonic() + wait
            self._backoff = min(self._backoff * 2, self.retry_max_s)
        try:
            self.client.connection_pool.disconnect()  # no half-dead connection is reused after it returns
        except Exception:  # noqa: BLE001 - best effort
            pass
        if first:
            log.warning("redis answer cache unavailable (%s in %s: %s); answering without cache, retrying in %.1f s",
                        type(exc).__name__, op, exc, wait)
        else:
            log.debug("redis answer cache still unavailable (%s); next try in %.1f s", exc, wait)

    def _succeeded(self) -> None:
        with self._lock:
            was_down = not self._up
            self._up, self._backoff = True, self.retry_s
        if was_down:
            log.warning("redis answer cache is back")

    @property
    def available(self) -> bool:
        with self._lock:
            return self._up

    # ---- backend API -------------------------------------------------------------------
    @staticmethod
    def _stale(latest: bytes | None, generation: int) -> bool:
        return latest is not None and int(latest) > generation

    @staticmethod
    def _entry(fields: dict[bytes, bytes], vector: np.ndarray | None = None) -> Entry | None:
        if not fields:
            return None
        return Entry(question=fields[b"q"].decode("utf-8"), words=json.loads(fields[b"w"]),
                     payload=fields[b"p"].decode("utf-8"), created=float(fields[b"t"]), vector=vector,
                     owner=fields.get(b"o", b"").decode("utf-8"))

    def get(self, space: Space, key: str) -> Entry | None:
        def run() -> Entry | None:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(f"{self._kb(space.kb)}:latest")
            pipe.hgetall(f"{self._space(space)}:e:{key}")
            latest, fields = pipe.execute()
            return None if self._stale(latest, space.generation) else self._entry(fields)
        return self._call("get", run, None)

    def _vectors(self, s: str, ids: list[bytes]) -> dict[bytes, np.ndarray | None]:
        """The space's vectors, mirrored locally: only vectors stored since the last lookup are
        fetched (a lookup reads the id list, ~32 bytes an entry, not every vector again)."""
        with self._mirror_lock:
            local = self._mirror.pop(s, {})
        missing = [k for k in ids if k not in local]
        for i in range(0, len(missing), 500):
            part = missing[i:i + 500]
            for k, raw in zip(part, self.client.hmget(f"{s}:v", part)):
                local[k] = np.frombuffer(raw, dtype=np.float32) if raw else None
        keep = set(ids)
        local = {k: v for k, v in local.items() if k in keep}
        with self._mirror_lock:
            self._mirror[s] = local
            while len(self._mirror) > MIRROR_SPACES:
                self._mirror.popitem(last=False)
        return local

    def similar(self, space: Space, vector: np.ndarray, min_cos: float) -> list[tuple[Entry, float]]:
        s = self._space(space)

        def run() -> list[tuple[Entry, float]]:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(f"{self._kb(space.kb)}:latest")
            pipe.lrange(f"{s}:i", 0, -1)
            latest, ids = pipe.execute()
            if self._stale(latest, space.generation) or not ids:
                return []
            vectors = self._vectors(s, ids)
            keys = [k for k in ids if vectors.get(k) is not None and vectors[k].shape == vector.shape]
            if not keys:
                return []
            scores = np.vstack([vectors[k] for k in keys]) @ vector
            best = [i for i in np.argsort(-scores, kind="stable")[:MAX_CANDIDATES] if scores[i] >= min_cos]
            if not best:
                return []
            pipe = self.client.pipeline(transaction=False)
            for i in best:
                pipe.hgetall(f"{s}:e:{keys[i].decode()}")
            out, gone = [], []
            for i, fields in zip(best, pipe.execute()):
                entry = self._entry(fields, vectors[keys[i]])
                if entry is None:
                    gone.append(keys[i])  # expired
                else:
                    out.append((entry, float(scores[i])))
            if gone:
                pipe = self.client.pipeline(transaction=False)
                for k in gone:
                    pipe.lrem(f"{s}:i", 0, k)
                pipe.hdel(f"{s}:v", *gone)
                pipe.execute()
            return out
        return self._call("similar", run, [])

    def put(self, space: Space, key: str, entry: Entry) -> None:
        s, kb = self._space(space), self._kb(space.kb)

        def run() -> None:
            previous = int(self._bump(keys=[f"{kb}:latest"], args=[int(space.generation)]))
            if previous > space.generation:
                return  # an answer computed on an older KB state is never stored
            if 0 <= previous < space.generation:
                self._drop(kb, keep=f"{kb}:{int(space.generation)}:")
            vector = b"" if entry.vector is None else np.asarray(entry.vector, dtype=np.float32).tobytes()
            self._put(keys=[self._marker(entry.owner), f"{s}:e:{key}", f"{s}:v", f"{s}:i", f"{kb}:latest"],
                      args=[entry.owner, int(entry.epoch), entry.question, json.dumps(entry.words, ensure_ascii=False),
                            entry.payload, repr(entry.created), self.ttl_ms, key, vector, self.max_per_kb, s])
        self._call("put", run, None)

    def _drop(self, kb_prefix: str, keep: str | None = None) -> int:
        """Delete the KB's keys (but those starting with `keep` and the `latest` marker, when keeping);
        returns how many entries went."""
        latest = f"{kb_prefix}:latest"
        doomed = [k for k in self.client.scan_iter(match=f"{kb_prefix}:*", count=500)
                  if keep is None or not (k.decode().startswith(keep) or k.decode() == latest)]
        for i in range(0, len(doomed), 500):
            self.client.unlink(*doomed[i:i + 500])
        return sum(1 for k in doomed if b":e:" in k)

    def invalidate(self, kb: str) -> int:
        """Drop the KB's entries. While Redis is down the invalidation is kept and done first thing
        when it returns, so entries that should be gone are never served after an outage."""
        with self._lock:
            self._pending.add(kb)
        n = self._call("invalidate", self._flush_pending, 0, flush=False)
        if kb in self._pending:
            log.warning("redis answer cache: invalidation of KB %r deferred until Redis is back", kb)
        return n

    def _marker(self, owner: str) -> str:
        return f"{self.prefix}:!forgotten:{owner}"  # '!' is never in a (URL-quoted) KB's keys

    def forget(self, owner: str, epoch: int) -> int:
        """Drop the entries stored for this owner (a forgotten user's questions), in every KB, and refuse
        those asked before `epoch` (a marker kept FORGOTTEN_MARK_S); deferred like an invalidation while
        Redis is down."""
        with self._lock:
            self._forgotten[owner] = max(epoch, self._forgotten.get(owner, 0))
        n = self._call("forget", self._flush_pending, 0, flush=False)
        if owner in self._forgotten:
            log.warning("redis answer cache: dropping a forgotten user's entries deferred until Redis is back")
        return n

    def _drop_owner(self, owner: str, epoch: int) -> int:
        """Scan the entries (a forget is rare; no per-user index to keep in step) and delete the owner's asked
        before `epoch`, with their vectors and their places in the spaces' lists: a forget read again later (by
        another replica's forget feed) leaves what the user asked after it."""
        names = list(self.client.scan_iter(match=f"{self.prefix}:*:e:*", count=500))
        n = 0
        for i in range(0, len(names), 500):
            part = names[i:i + 500]
            pipe = self.client.pipeline(transaction=False)
            for name in part:
                pipe.hmget(name, "o", "e")
            doomed = [name for name, (o, e) in zip(part, pipe.execute())
                      if o is not None and o.decode() == owner and int(e or 0) < epoch]
            if not doomed:
                continue
            pipe = self.client.pipeline(transaction=False)
            for name in doomed:
                space, key = name.decode().rsplit(":e:", 1)
                pipe.delete(name)
                pipe.hdel(f"{space}:v", key)
                pipe.lrem(f"{space}:i", 0, key)
            pipe.execute()
            n += len(doomed)
        return n

    def _flush_pending(self) -> int:
        with self._lock:
            pending, forgotten = sorted(self._pending), sorted(self._forgotten.items())
        n = 0
        for kb in pending:
            n += self._drop(self._kb(kb))
            with self._lock:
                self._pending.discard(kb)
        for owner, epoch in forgotten:
            marker = self._marker(owner)
            self._bump(keys=[marker], args=[epoch])  # first: a put from now on is refused, or the scan finds it
            self.client.pexpire(marker, FORGOTTEN_MARK_S * 1000)
            n += self._drop_owner(owner, epoch)
            with self._lock:
                if self._forgotten.get(owner) == epoch:
                    del self._forgotten[owner]
        return n

    def stats(self) -> dict[str, float]:
        with self._lock:
            return {"errors": float(self.errors), "skipped": float(self.skipped), "available": float(self._up)}

    def close(self) -> None:
        self.client.close()
