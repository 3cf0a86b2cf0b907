"""The FastAPI application factory: `create_app(settings, service_settings)`.

Models load in the lifespan start-up (before the first request is accepted); shutdown stops
admitting answers, waits for those in progress, lets the index worker finish its job (or leaves
it queued for the next start) and closes the stores."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api import errors
from api.audit.http import AuditHttp
from api.body_limit import BodyLimit
from api.cache.factory import make_answer_cache
from api.cache.forget_feed import ForgetFeed
from api.config import ServiceSettings
from api.cors import Cors
from api.json_depth import JsonDepth
from api.middleware import RequestContext
from api.routes import (
    admin,
    api_docs,
    audit,
    channels,
    documents,
    experiments,
    feedback,
    health,
    kb_archive,
    openai_compat,
    query,
    reparse,
    synonyms,
)
from api.service import Service
from indexer import kb_trash
from indexer.archive.leftovers import sweep_imports
from rag.config import Settings

log = logging.getLogger("api")


def create_app(settings: Settings | None = None, svc_settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or Settings.load()
    svc_settings = svc_settings or ServiceSettings.load()
    service = Service(settings, svc_settings)
    _attach_guard_and_cache(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(sweep_deleted_kbs, service.home)
        await run_in_threadpool(service.warm_up)
        log.info("ready: %d knowledge bases under %s", len(service.manager.names()), service.home,
                 extra={"event": "ready"})
        yield
        await asyncio.gather(service.gate.drain(timeout=30), service.quote_gate.drain(timeout=30))
        await run_in_threadpool(service.close)
        log.info("stopped", extra={"event": "stopped"})

    app = FastAPI(title="RAG knowledge-base service", version="0.1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # /docs is served offline (api/routes/api_docs.py)
                  description="Knowledge bases, uploads, hybrid search and grounded answers with citations. "
                              "All /v1 routes take `Authorization: Bearer KEY`; the WebSocket also takes a "
                              "single-use ticket from POST /v1/ws-ticket (see docs/api.md).")
    app.state.service = service
    app.state.ws_tickets = query.WsTickets(redis_url=svc_settings.redis_url)  # shared by replicas with Redis
    errors.install(app)
    for module in (health, api_docs, admin, kb_archive, documents, reparse, query, openai_compat, channels, feedback, experiments,
                   audit, synonyms):
        app.include_router(module.router)
    app.add_middleware(JsonDepth)  # inside BodyLimit: the body it reads is bounded
    app.add_middleware(BodyLimit, max_bytes=int(svc_settings.max_body_mb * 2**20))  # inside RequestContext
    if svc_settings.cors_origin_list:  # other sites' pages calling the API (a browser's preflight and headers)
        app.add_middleware(Cors, origins=svc_settings.cors_origin_list)
    # outside the body checks: an administrative request they refuse (413, 422) is recorded as refused too
    app.add_middleware(AuditHttp, service=service)
    app.add_middleware(RequestContext, metrics=service.metrics)
    return app


def _attach_guard_and_cache(service: Service) -> None:
    cache = make_answer_cache()
    service.cache = cache if cache.enabled else None
    if service.cache is not None:
        service.forget_feed = ForgetFeed(service.db, service.cache)


def sweep_deleted_kbs(home: Path) -> None:
    """Remove what KB deletes and imports interrupted by a crash or kill left in the home folder (indexer.kb_trash,
    indexer.archive.leftovers)."""
    swept = kb_trash.sweep(home)
    if line := swept.message():
        log.log(logging.WARNING if swept.failed else logging.INFO, line, extra={"event": "sweep"})
    imports = sweep_imports(home)  # an upload's import killed with the service: its hidden folder
    if line := imports.message("an interrupted import"):
        log.log(logging.WARNING if imports.failed else logging.INFO, line, extra={"event": "sweep"})
