"""Service settings: keys, limits, workers. Config file section [service]; environment RAG_*.

RAG_ADMIN_KEY is the bootstrap admin key (never stored; compared in constant time).
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.config import load_settings


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    admin_key: str | None = Field(None, description="bootstrap admin key (env RAG_ADMIN_KEY); without it only "
                                                     "keys already created work")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    # limits
    rate_limit: int = Field(600, ge=0, description="requests per minute per key (0 = no limit)")
    max_upload_mb: float = Field(50.0, gt=0, description="largest accepted file in an upload (413 above)")
    max_files: int = Field(20, ge=1, description="most files in one upload request")
    max_question_chars: int = Field(2000, ge=1, description="longer questions get 422")
    # generation backpressure
    gen_workers: int = Field(1, ge=1, description="answers generated at the same time")
    gen_queue: int = Field(8, ge=0, description="answers waiting for a worker; more get 503")
    retry_after_s: int = Field(5, ge=1, description="Retry-After sent with 503 when the queue is full")
    # background indexing
    index_workers: int = Field(1, ge=1, description="upload jobs indexed at the same time (one per KB at most)")
    warm_up: bool = Field(True, description="load the embedding model and generator at start-up")
    log_json: bool = Field(True, description="structured JSON log lines")

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides) -> "ServiceSettings":
        return load_settings(cls, config_file, "service", **overrides)
