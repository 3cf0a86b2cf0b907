"""Request limits: per key, per knowledge base (extra keys minted for a KB share its budget), and
failed authentications per client address (so key guessing is slowed down).

Token buckets (`limit` per minute, bursts up to `limit`), shared through Redis when RAG_REDIS_URL is
set so the limits hold across API replicas (one atomic Lua script per request); without Redis, or
while Redis is unreachable, each process counts alone and the service keeps serving.
"""
from __future__ import annotations

import logging
import math
import threading
import time

from api.errors import ApiError

log = logging.getLogger("api.ratelimit")


class _Buckets:
    """In-process token buckets: `limit` per minute, bursts up to `limit`."""

    def __init__(self):
        self._b: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, name: str, limit: int) -> int:
        """0 when allowed, else seconds until a token is back."""
        rate, now = limit / 60.0, time.monotonic()
        with self._lock:
            tokens, last = self._b.get(name, (float(limit), now))
            tokens = min(float(limit), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._b[name] = (tokens, now)
                return max(1, math.ceil((1.0 - tokens) / rate))
            self._b[name] = (tokens - 1.0, now)
            if len(self._b) > 100_000:  # forget idle counters
                cutoff = now - 120
                self._b = {k: v for k, v in self._b.items() if v[1] > cutoff}
            return 0


_BUCKET = """
local limit, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local rate = limit / 60.0
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens, at = tonumber(b[1]) or limit, tonumber(b[2]) or now
tokens = math.min(limit, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) / rate) else tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 120)
return wait
"""


class _RedisBuckets:
    """The same token buckets, kept in Redis (one atomic script per request) for every replica."""

    def __init__(self, url: str, prefix: str = "rag:rl:"):
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.script = self.redis.register_script(_BUCKET)
        self.prefix = prefix

    def take(self, name: str, limit: int) -> int:
        return max(0, int(self.script(keys=[self.prefix + name], args=[limit, time.time()])))


class RateLimiter:
    def __init__(self, per_minute: int, per_kb: int = 0, auth_failures: int = 0, redis_url: str | None = None):
        self.per_minute, self.per_kb, self.auth_failures = per_minute, per_kb, auth_failures
        self._local = _Buckets()
        self._shared = _RedisBuckets(redis_url) if redis_url else None
        self._down_until = 0.0

    def _take(self, name: str, limit: int) -> int:
        if self._shared is not None and time.monotonic() >= self._down_until:
            try:
                return self._shared.take(name, limit)
            except Exception as e:  # degrade: count in this process until Redis answers again
                log.warning("rate limits: Redis unavailable (%s); counting per process for 10 s", e)
                self._down_until = time.monotonic() + 10
        return self._local.take(name, limit)

    def _check(self, name: str, limit: int, what: str) -> None:
        if limit <= 0:
            return
        wait = self._take(name, limit)
        if wait:
            raise ApiError(429, "rate_limited", f"over {limit} requests per minute for {what}; retry in {wait} s",
                           {"Retry-After": str(wait)})

    def check(self, key_id: str, kb: str | None = None) -> None:
        """Take one request for this key (and its KB) or raise 429 with Retry-After."""
        self._check(f"key:{key_id}", self.per_minute, "this key")
        if kb is not None:
            self._check(f"kb:{kb}", self.per_kb, "this knowledge base")

    def failed_auth(self, client: str) -> None:
        """Count a missing or wrong key from `client`; 429 once it passes the limit."""
        self._check(f"auth:{client}", self.auth_failures, "failed authentications from this address")


def make_limiter(svc) -> RateLimiter:
    return RateLimiter(svc.rate_limit, svc.kb_rate_limit, svc.auth_failure_limit, svc.redis_url)
