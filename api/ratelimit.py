"""Per-key rate limit: a token bucket of RAG_RATE_LIMIT requests per minute (bursts up to that many)."""
from __future__ import annotations

import math
import threading
import time

from api.errors import ApiError


class RateLimiter:
    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, last time)
        self._lock = threading.Lock()

    def check(self, key_id: str) -> None:
        """Take one token for this key or raise 429 with Retry-After (seconds until a token is back)."""
        if self.per_minute <= 0:
            return
        rate = self.per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                wait = max(1, math.ceil((1.0 - tokens) / rate))
                raise ApiError(429, "rate_limited", f"over {self.per_minute} requests per minute for this key; "
                               f"retry in {wait} s", {"Retry-After": str(wait)})
            self._buckets[key_id] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget idle keys
                cutoff = now - 120
                self._buckets = {k: v for k, v in self._buckets.items() if v[1] > cutoff}
