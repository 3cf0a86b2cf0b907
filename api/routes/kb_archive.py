"""A knowledge base as one archive over HTTP (indexer.archive): GET /v1/kbs/{kb}/export streams it to a KB's
admin, POST /v1/kbs/import restores one (global admin: it creates or replaces a KB). The archive's bytes go
to a file under RAG_HOME/.uploads (swept at start-up), bounded by max_import_mb, before any is read; once its
structure and manifest are checked they are kept with an import job in the state database (api.jobs.importing),
which restores the KB in the background, so that no client or proxy waits minutes on one request."""
from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from api.archive_state import StateConflict, collect, planned, to_bytes
from api.audit.http import actor_of, note
from api.auth import Principal
from api.body_stream import timed_chunks
from api.deps import allow, principal, require_admin, service
from api.errors import ApiError
from api.jobs.importing import ARCHIVE_NAME, ImportOptions, KBImported
from api.jobs.originals import kept_originals
from api.jobs.store import ImportRunning, Incoming
from api.schemas import API_ERRORS, error_responses
from api.service import Service
from api.upload import queue_error
from indexer.archive.export import ExportReport, export_kb
from indexer.archive.format import ArchiveError
from indexer.archive.import_ import exists_message, target_name
from indexer.archive.reader import ArchiveReader
from indexer.kbs import NAME_PATTERN
from indexer.store.write_errors import write_error

router = APIRouter(prefix="/v1", tags=["knowledge bases and keys"], responses=API_ERRORS)

WAIT_S = 50.0  # ?wait=true: under the 60 s nginx and haproxy give a response by default
WAIT_POLL_S = 0.5

_ARCHIVE_BYTES = {"schema": {"type": "string", "format": "binary",
                             "description": "an archive GET /v1/kbs/{kb}/export or `rag kb export` wrote"}}
# the body is read as bytes whatever its Content-Type; application/octet-stream is listed too, as clients and
# schema-driven tools that cannot write application/zip send it
ARCHIVE_BODY = {"requestBody": {"required": True, "content": {"application/zip": _ARCHIVE_BYTES,
                                                             "application/octet-stream": _ARCHIVE_BYTES}}}


LEFT_OUT_HEADER = "X-Export-Left-Out"
ORIGINALS_HEADER, ORIGINALS_MB_HEADER = "X-Export-Originals", "X-Export-Originals-MB"  # kept uploads carried
OCR_CACHE_MB_HEADER = "X-Export-OCR-Cache-MB"  # 0.0: none carried
EXPORT_DESCRIPTION = (
    "The KB keeps serving and taking uploads during the export. A document rewritten throughout it (by indexing "
    f"running meanwhile) is left out of the archive: the `{LEFT_OUT_HEADER}` header gives how many, and the "
    "archive's `manifest.json` names each in `left_out` (`doc_id`, `source`); export again once indexing is done.")


@router.get("/kbs/{kb}/export", response_class=FileResponse, description=EXPORT_DESCRIPTION, responses={
    200: {"content": {"application/zip": {}}, "description": "the KB's archive (`rag kb import` restores it)",
          "headers": {LEFT_OUT_HEADER: {"schema": {"type": "integer", "minimum": 0}, "description":
                                        "documents of the KB left out of the archive (0: none), named in its "
                                        "manifest.json, `left_out`"},
                      ORIGINALS_HEADER: {"schema": {"type": "integer", "minimum": 0}, "description":
                                         "the KB's kept uploads carried (without_originals: 0)"},
                      ORIGINALS_MB_HEADER: {"schema": {"type": "string"}, "description": "their size, MB"},
                      OCR_CACHE_MB_HEADER: {"schema": {"type": "string"}, "description":
                                            "the size of the OCR cache carried, MB (0.0: none)"}}},
    **error_responses(507)}, summary="Download a knowledge base as one archive (admin of the KB)")
async def export(request: Request, kb: str, with_state: bool = Query(False, description="also the service's state for "
                 "the KB: its API keys (as their hashes), chat channels (without their secrets), promoted settings, "
                 "experiments and settings history"),
                 with_secrets: bool = Query(False, description="with with_state: the channels' secrets too (a global "
                 "admin key; keep the archive as you keep those secrets)"),
                 without_originals: bool = Query(False, description="leave out the KB's kept uploads and OCR cache "
                 "(carried by default: the imported KB re-reads its uploads, and its scans without OCR again)"),
                 who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "admin")
    if with_secrets and not with_state:
        raise ApiError(422, "bad_request", "with_secrets=true goes with with_state=true")
    if with_secrets:
        require_admin(who)  # the secrets are never shown otherwise, not even to the KB's admin
    note(request, with_state=with_state, with_secrets=with_secrets)
    folder = svc.uploads / f"export-{uuid.uuid4().hex}"
    path = folder / f"{kb}.zip"

    def run() -> ExportReport:
        state = to_bytes(collect(svc.db, kb, with_secrets)) if with_state else None
        store = svc.manager.open(kb)
        try:
            return export_kb(store, kb, path, svc.settings.indexer.chunk.model_dump(), progress=False, state=state,
                             originals=None if without_originals else kept_originals(svc.manager.settings, kb, svc.db))
        finally:
            store.close()
    try:
        rep = await run_in_threadpool(run)
    except Exception as e:
        shutil.rmtree(folder, ignore_errors=True)
        if (full := write_error(e)) is not None:
            raise ApiError(507, "insufficient_storage", f"the server could not write the archive: {full.reason}; "
                           "the administrator must free space under RAG_HOME") from e
        raise
    note(request, documents=rep.manifest.documents, left_out=len(rep.left_out), originals=rep.files.originals)
    return FileResponse(path, media_type="application/zip", filename=f"{kb}.zip",
                        headers={LEFT_OUT_HEADER: str(len(rep.left_out)), ORIGINALS_HEADER: str(rep.files.originals),
                                 ORIGINALS_MB_HEADER: f"{rep.files.originals_bytes / 2**20:.1f}",
                                 OCR_CACHE_MB_HEADER: f"{rep.files.ocr_cache_bytes / 2**20:.1f}"},
                        background=BackgroundTask(shutil.rmtree, folder, True))


class ImportAccepted(BaseModel):
    job_id: str
    status: str = Field(description="queued, or running / done / failed when ?wait=true waited for it")
    kb: str = Field(description="the KB the archive becomes")
    location: str = Field(description="where to follow the import (also the Location header): GET it for its "
                          "progress and, once done, its `result`")


IMPORT_DESCRIPTION = (
    "The archive is received (bounded by max_import_mb), its structure and manifest checked, and kept with a job "
    "in the state database; the import then runs in the background: `202` with the job's id and a `Location` "
    "(`GET /v1/jobs/{job_id}`) giving its `progress` (`checking` the archive's bytes, then `importing` its chunks) "
    "and, once done, its `result` (name, source_kb, documents, chunks, embed_model, replaced, left_out), or why it "
    "failed (`error_code`: invalid_archive, kb_exists, state_conflict). An archive exported `with_state` restores "
    "the KB's API keys, channels and promoted settings too (`result.state`), refused with 409 `state_conflict` when "
    "it would overwrite state here (unless `replace`); `without_state=true` imports the KB alone. "
    f"`?wait=true` waits up to {WAIT_S:g} s for it (under the "
    "60 s a proxy gives a response): `201` with the result when done by then, the error when it failed, else "
    "`202` as without it; `404` `job_not_found` when the job went meanwhile (its KB deleted while the request waited). "
    "A service stopped during the import resumes it when it starts again.")


@router.post("/kbs/import", response_model=ImportAccepted, status_code=202, openapi_extra=ARCHIVE_BODY,
             description=IMPORT_DESCRIPTION, responses={
                 201: {"model": KBImported, "description": "?wait=true, and the import was done in time"},
                 **error_responses(408, 409, 413, 503, 507)},
             summary="Restore a knowledge base from an archive (admin), in the background; the archive's name "
                     "unless `name`")
async def import_kb(request: Request, name: str | None = Query(None, pattern=NAME_PATTERN, description="the KB's name "
                    "here (default: the archive's)"), replace: bool = Query(False, description="replace a KB of "
                    "that name (default: 409)"), wait: bool = Query(False, description=f"wait up to {WAIT_S:g} s "
                    "for the import: 201 with its result when it is done by then"),
                    without_state: bool = Query(False, description="leave the service state the archive carries "
                    "(exported with_state) unrestored: the KB only"),
                    who: Principal = Depends(principal), svc: Service = Depends(service)):
    note(request, kb=name or "", replace=replace)
    require_admin(who)
    limit = int(svc.svc.max_import_mb * 2**20)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise ApiError(413, "archive_too_large", f"the archive is {int(length) / 2**20:.1f} MB; the limit is "
                       f"{svc.svc.max_import_mb:g} MB (max_import_mb); larger KBs: `rag kb import` on the server")
    job_id = svc.jobs.new_id()
    folder = svc.uploads / f"import-{uuid.uuid4().hex}"
    try:
        path = await _receive(request, folder / ARCHIVE_NAME, limit, svc.svc.upload_idle_s, svc.svc.upload_total_s)
        target, source_kb = await run_in_threadpool(_accept, svc, path, name, replace, without_state)
        note(request, kb=target, source_kb=source_kb, job_id=job_id)
        options = ImportOptions(name=target, replace=replace, without_state=without_state,
                                requested_by=actor_of(svc, who)[0],
                                request_id=request.scope.get("state", {}).get("request_id", "")).model_dump_json()
        await run_in_threadpool(svc.submit, job_id, target, [Incoming(ARCHIVE_NAME, path, path.stat().st_size)],
                                {}, "import", options)
    except ApiError:
        raise
    except ImportRunning as e:  # the name is reserved by an unfinished import (checked as the job is written)
        raise ApiError(409, "import_running", str(e)) from e
    except StateConflict as e:
        raise ApiError(409, "state_conflict", str(e)) from e
    except (ArchiveError, ValueError) as e:  # StateError: the archive's state is invalid
        raise ApiError(422, "invalid_archive", str(e)) from e
    except FileExistsError as e:
        raise ApiError(409, "kb_exists", str(e)) from e
    except Exception as e:
        raise queue_error(e, "import") from e
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the bytes are in the database now (or nothing was kept)
    location = f"/v1/jobs/{job_id}"
    status = "queued"
    if wait:
        job = await _wait_for(svc, job_id, WAIT_S)
        if job is None:  # deleted while the request waited (with its KB): what GET /v1/jobs/{job_id} answers now
            raise ApiError(404, "job_not_found", f"no job {job_id!r}: the import's job no longer exists, deleted "
                           f"while this request waited (its KB {target!r} was deleted meanwhile); GET /v1/kbs "
                           "says whether the KB is there, and importing again restores it")
        if job.status in ("done", "failed"):
            return _ended(job)
        status = job.status
    return JSONResponse(ImportAccepted(job_id=job_id, status=status, kb=target, location=location).model_dump(),
                        status_code=202, headers={"Location": location})


def _accept(svc: Service, path: Path, name: str | None, replace: bool, without_state: bool) -> tuple[str, str]:
    """(the KB the archive will become, the KB it was exported from), once its structure and manifest are checked
    (the checksums of its members are the job's first step: reading gigabytes is no work for a request)."""
    with ArchiveReader(path) as archive:
        target, source_kb = target_name(archive.manifest, name), archive.manifest.kb
    if svc.manager.exists(target) and not replace:
        raise FileExistsError(exists_message(target))
    running = svc.jobs.unfinished_import(target)  # early, before the state is read; submit reserves the name
    if running is not None:
        raise ImportRunning(target, running)
    if not without_state:
        planned(svc.db, path, target, replace)  # its state would overwrite state here: refused now (409)
    return target, source_kb


async def _wait_for(svc: Service, job_id: str, wait_s: float):
    deadline = time.monotonic() + wait_s
    while True:
        job = await run_in_threadpool(svc.jobs.get, job_id)
        if job is None or job.status in ("done", "failed") or time.monotonic() >= deadline:
            return job
        await asyncio.sleep(WAIT_POLL_S)


FAILED_STATUS = {"invalid_archive": 422, "kb_exists": 409, "state_conflict": 409}


def _ended(job) -> JSONResponse:
    """The answer ?wait=true gives for an import that ended: what the synchronous import gave."""
    out = job.to_dict()
    if job.status == "done":
        return JSONResponse(KBImported.model_validate(out["result"]).model_dump(mode="json"), status_code=201)
    code = out["error_code"] or "import_failed"
    raise ApiError(FAILED_STATUS.get(code, 500), code, job.error or "the import failed")


async def _receive(request: Request, dest: Path, limit: int, idle_s: float, total_s: float) -> Path:
    """The request body into `dest`, cut off past `limit` bytes (413), after `idle_s` without data or
    `total_s` in all (408)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with open(dest, "wb") as out:
        async for chunk in timed_chunks(request, idle_s, total_s):
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "archive_too_large", f"the archive is over the {limit / 2**20:g} MB limit "
                               "(max_import_mb); larger KBs: `rag kb import` on the server")
            out.write(chunk)
    if not size:
        raise ApiError(422, "invalid_archive", "the body is empty: send the archive's bytes as application/zip")
    return dest
