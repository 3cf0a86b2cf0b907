"""Answer-cache settings. Config file section [cache]; environment RAG_CACHE_* and RAG_REDIS_URL.

    RAG_REDIS_URL=redis://127.0.0.1:6379/0   # Redis backend (shared by all workers); unset = in-process
    RAG_CACHE_ENABLED=false                  # no cache at all
    RAG_CACHE_SIMILARITY=0.95                # near-duplicate: cosine of the question embeddings
    RAG_CACHE_TTL_S=3600  RAG_CACHE_MAX_ENTRIES=10000  RAG_CACHE_MAX_PER_KB=1000
"""
from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.config import load_settings


class CacheSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_CACHE_", extra="ignore", populate_by_name=True)

    enabled: bool = True
    redis_url: str | None = Field(None, validation_alias=AliasChoices("RAG_REDIS_URL", "RAG_CACHE_REDIS_URL"),
                                  description="Redis backend when set (e.g. redis://127.0.0.1:6379/0); "
                                              "unset = in-process cache")
    similarity: float = Field(0.95, ge=0.0, le=1.0001,
                              description="near-duplicate: cosine of question embeddings at least this "
                                          "(above 1 = exact matches only)")
    lexical_min: float = Field(1.0, ge=0.0, le=1.0,
                               description="near-duplicate: content words (fillers such as 'please'/'请问' "
                                           "dropped, stemmed) must match at least this well (difflib ratio; "
                                           "1.0 = same words in the same order)")
    ttl_s: float = Field(3600.0, gt=0, description="entries expire after this many seconds")
    max_entries: int = Field(10000, ge=1, description="in-process backend: entries in all KBs (LRU)")
    max_per_kb: int = Field(1000, ge=1, description="entries kept per KB (and variant); also the near-duplicate "
                                                    "scan window")
    redis_prefix: str = Field("rag:answers", min_length=1)
    redis_timeout_s: float = Field(0.2, gt=0, description="connect and read timeout of every Redis call")
    redis_retry_s: float = Field(1.0, gt=0, description="after a Redis error, calls skip Redis this long "
                                                        "(doubling up to redis_retry_max_s while it stays down)")
    redis_retry_max_s: float = Field(30.0, gt=0)

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides) -> "CacheSettings":
        return load_settings(cls, config_file, "cache", **overrides)
