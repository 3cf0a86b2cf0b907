"""Liveness, readiness, metrics and the web page (no key needed for these)."""
from __future__ import annotations

import shutil
from importlib.resources import files

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import service
from api.errors import ApiError
from api.service import Service

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
def healthz():
    return {"status": "ok"}


@router.get("/readyz", summary="Ready to serve: models loaded, state database and store reachable (503 if not)")
def readyz(svc: Service = Depends(service)):
    """Redis is reported but not required: without it the cache is skipped and limits count per process.
    `index_worker` says whether this process runs an indexing worker that is alive: false on a replica
    started with `--indexing off` (its uploads are indexed by `rag worker` processes), where it is not
    required for readiness. `disk` says when RAG_HOME has less room than one upload: reported, not
    required (searches and answers still work)."""
    try:
        kbs, store_ok = len(svc.manager.names()), True
    except Exception:
        kbs, store_ok = 0, False
    checks = {"models_loaded": svc.ready, "database": svc.db.ping(), "store": store_ok}
    indexing, worker = bool(svc.svc.indexing), svc.queue.alive()
    if indexing:
        checks["index_worker"] = worker
    ok = all(checks.values())
    body = {"ready": ok, **checks, "index_worker": worker, "kbs": kbs, "queue": svc.queue.name,
            "indexing": indexing}
    if svc.svc.redis_url:
        body["redis"] = "up" if svc.redis_up() else "down (degraded: no shared cache or limits)"
    body["disk"] = disk_state(svc.home, svc.svc.max_upload_mb)
    return JSONResponse(body, status_code=200 if ok else 503)


def disk_state(home, max_upload_mb: float) -> str:
    """'ok', or why uploads may fail (answers still work): less room under RAG_HOME than one upload
    (its bytes, the scratch copy and the KB's growth go there in embedded mode)."""
    try:
        free_mb = shutil.disk_usage(home).free / 2**20
    except OSError as e:
        return f"unknown ({e.strerror})"
    if free_mb < max_upload_mb:
        return (f"low: {free_mb:.0f} MB free under RAG_HOME, less than one upload ({max_upload_mb:g} MB); uploads "
                "may be refused (507) or wait to be indexed until space is freed (degraded)")
    return "ok"


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(svc: Service = Depends(service)):
    try:  # read at scrape time: jobs finish in other processes too (`rag worker`)
        svc.metrics.jobs_pending.set(svc.jobs.pending_count())
    except Exception:
        pass
    if svc.cache is not None:
        stats = svc.cache.stats()
        svc.metrics.cache_errors.set(stats.get("errors", 0))
        svc.metrics.cache_up.set(float(stats.get("available", 1)))
    return Response(svc.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index():
    return HTMLResponse((files("api") / "web" / "index.html").read_text(encoding="utf-8"),
                        headers={"Cache-Control": "no-cache"})


# the page's script and styles: files, so the Content-Security-Policy can forbid inline code
STATIC = {"app.js": "text/javascript; charset=utf-8", "i18n.js": "text/javascript; charset=utf-8",
          "app.css": "text/css; charset=utf-8"}


@router.get("/static/{name}", include_in_schema=False)
def static(name: str):
    if name not in STATIC:
        raise ApiError(404, "not_found", "no such file")
    return Response((files("api") / "web" / name).read_bytes(), media_type=STATIC[name],
                    headers={"Cache-Control": "no-cache"})
