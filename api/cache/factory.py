"""The configured answer cache: Redis when `redis_url` (RAG_REDIS_URL) is set, else in-process."""
from __future__ import annotations

import logging

from api.cache.answer_cache import AnswerCache
from api.cache.base import CacheBackend
from api.cache.config import CacheSettings

log = logging.getLogger(__name__)


def make_answer_cache(settings: CacheSettings | None = None) -> AnswerCache:
    """The configured cache: Redis when `redis_url` (RAG_REDIS_URL) is set, else in-process."""
    s = settings or CacheSettings()
    if s.redis_url:
        from api.cache.redis_backend import RedisBackend

        backend: CacheBackend = RedisBackend(s.redis_url, prefix=s.redis_prefix, ttl_s=s.ttl_s,
                                             max_per_kb=s.max_per_kb, timeout_s=s.redis_timeout_s,
                                             retry_s=s.redis_retry_s, retry_max_s=s.redis_retry_max_s)
    else:
        from api.cache.memory import MemoryBackend

        backend = MemoryBackend(max_entries=s.max_entries, max_per_kb=s.max_per_kb, ttl_s=s.ttl_s)
    log.info("answer cache: %s backend, similarity %.3f, ttl %.0f s%s", backend.name, s.similarity, s.ttl_s,
             "" if s.enabled else " (disabled)")
    return AnswerCache(backend, similarity=s.similarity, lexical_min=s.lexical_min, enabled=s.enabled)
