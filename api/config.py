"""Service settings: keys, limits, workers. Config file section [service]; environment RAG_*.

RAG_ADMIN_KEY is the bootstrap admin key (never stored; compared in constant time).
"""
from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.config import load_settings
from indexer.url_secret import check_postgres_url

ORIGIN = re.compile(r"https?://[^/\s:]+(:[0-9]{1,5})?")


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    admin_key: str | None = Field(None, description="bootstrap admin key (env RAG_ADMIN_KEY); without it only "
                                                     "keys already created work")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    # limits
    rate_limit: int = Field(600, ge=0, description="requests per minute per key (0 = no limit)")
    kb_rate_limit: int = Field(1200, ge=0, description="requests per minute per knowledge base, over all its keys "
                                                      "(0 = no limit): more keys do not buy more requests")
    auth_failure_limit: int = Field(30, ge=0, description="missing or wrong keys per minute per client address "
                                                          "before 429 (0 = no limit)")
    max_upload_mb: float = Field(50.0, gt=0, description="largest accepted file in an upload (413 above)")
    max_files: int = Field(20, ge=1, description="most files in one upload request")
    max_import_mb: float = Field(4096.0, gt=0, description="largest KB archive accepted by POST /v1/kbs/import "
                                 "(413 above; `rag kb import` on the server reads larger ones)")
    header_timeout_s: float = Field(10.0, gt=0, description="a request whose line and headers take longer is "
                                                            "disconnected")
    upload_idle_s: float = Field(30.0, gt=0, description="an upload that sends nothing for this long is cut off (408)")
    upload_total_s: float = Field(600.0, gt=0, description="an upload that takes longer than this in all is cut off")
    max_question_chars: int = Field(2000, ge=1, description="longer questions get 422")
    # 8 MB: the largest query the schema allows (50 history turns of 20,000 characters, Chinese sent as
    # \uXXXX escapes) fits; a body is held in memory whole, before the key is checked
    max_body_mb: float = Field(8.0, gt=0, description="largest request body other than an upload (413 above)")
    # generation backpressure
    gen_workers: int = Field(1, ge=1, description="answers generated at the same time")
    gen_queue: int = Field(8, ge=0, description="answers waiting for a worker; more get 503")
    # a quote takes ~20-60 ms of CPU: 4 at once keep 2 cores busy, 64 waiting is about a second's work
    quote_workers: int = Field(4, ge=1, description="quoted answers (no model writing) worked on at the same time")
    quote_queue: int = Field(64, ge=0, description="quoted answers waiting for a worker; more get 503")
    retry_after_s: int = Field(5, ge=1, description="Retry-After sent with 503 when the queue is full")
    # shared state (cluster mode); unset: everything under RAG_HOME (the embedded default)
    database_url: str | None = Field(None, description="PostgreSQL URL for keys, jobs and uploads (env "
                                     "RAG_DATABASE_URL); unset: RAG_HOME/service.sqlite; a space, '@', ':' or '/' "
                                     "in the user name or password is percent-encoded ('@' as %40, '/' as %2F): a URL "
                                     "with an unencoded '@' or '/' there, or a query parameter libpq does not know, is "
                                     "refused when read")
    redis_url: str | None = Field(None, description="Redis URL (env RAG_REDIS_URL): job queue (Redis Streams), "
                                                    "shared rate limits, answer cache")
    indexing: bool = Field(True, description="index uploads in this process (env RAG_INDEXING); off: an API "
                                             "replica that only enqueues, for `rag worker` processes to index")
    job_claim_idle_s: float = Field(60.0, gt=0, description="a job whose worker has not reported for this long "
                                                            "is taken back by another worker (Redis queue)")
    job_heartbeat_s: float = Field(10.0, gt=0, description="how often a busy worker reports (< job_claim_idle_s)")
    ocr_cache_check_s: float = Field(60.0, gt=0, description="how often an idle `rag worker` drops from its OCR "
                                     "caches the pages of documents and KBs deleted through an API replica "
                                     "(also before each job on a KB; api.jobs.ocr_prune)")
    # background indexing
    index_workers: int = Field(1, ge=1, description="upload jobs indexed at the same time (one per KB at most)")
    warm_up: bool = Field(True, description="load the embedding model and generator at start-up")
    models_dir: Path | None = Field(None, description="folder of embedding-model folders that POST /v1/kbs may "
                                                     "name as embed_model (env RAG_MODELS_DIR); unset: only the "
                                                     "built-in model names (e5, minilm, e5+minilm)")
    log_json: bool = Field(True, description="structured JSON log lines")
    # bot channels (api/channels, docs/channels.md)
    channel_wait_s: float = Field(4.5, gt=0, le=60, description="how long a chat platform's callback waits for "
                                  "the answer before it is acknowledged and the answer sent later (DingTalk and "
                                  "WeCom give up after about 5 s)")
    wecom_api_base: str = Field("https://qyapi.weixin.qq.com", description="WeCom API (gettoken, message/send) "
                                "for answers sent after the callback returned")
    dingtalk_webhook_prefixes: str = Field("https://oapi.dingtalk.com/", description="comma-separated URL "
                                           "prefixes a DingTalk sessionWebhook must start with to be posted to")

    # audit, retention and personal data (docs/service.md)
    retention_days: int = Field(180, ge=0, description="recorded answers (questions, answers, votes) and chat "
                                "conversations older than this many days are deleted, every hour (0 = kept forever)")
    mask_stored_questions: bool = Field(False, description="also mask resident ID, bank card and phone numbers and "
                                        "e-mail addresses in the questions recorded with answers and in chat "
                                        "conversations (log lines are always masked)")

    cors_origins: str = Field("", description="comma-separated origins (https://portal.example.com) whose web "
                              "pages may call the API from a browser (CORS); '*' = any; empty (the default): "
                              "none, only the service's own page at /")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        return check_postgres_url(value)

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",") if o.strip()):
            if origin != "*" and not ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin: scheme://host[:port], no path or trailing "
                                 "slash (e.g. https://portal.example.com), or '*'")
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides) -> "ServiceSettings":
        return load_settings(cls, config_file, "service", **overrides)
