"""Liveness, readiness, metrics and the web page (no key needed for these)."""
from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import service
from api.service import Service

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
def healthz():
    return {"status": "ok"}


@router.get("/readyz", summary="Models loaded and the store open (503 until then)")
def readyz(svc: Service = Depends(service)):
    checks = {"models_loaded": svc.ready, "store_open": svc.db is not None and svc.home.is_dir(),
              "index_worker": svc.jobs._thread is not None and svc.jobs._thread.is_alive()}
    ok = all(checks.values())
    return JSONResponse({"ready": ok, **checks, "kbs": len(svc.manager.names())}, status_code=200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(svc: Service = Depends(service)):
    if svc.cache is not None:
        stats = svc.cache.stats()
        svc.metrics.cache_errors.set(stats.get("errors", 0))
        svc.metrics.cache_up.set(float(stats.get("available", 1)))
    return Response(svc.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index():
    return HTMLResponse((files("api") / "web" / "index.html").read_text(encoding="utf-8"))
