"""A knowledge base as one archive over HTTP (indexer.archive): GET /v1/kbs/{kb}/export streams it to a KB's
admin, POST /v1/kbs/import restores one (global admin: it creates or replaces a KB). The archive's bytes go
to a file under RAG_HOME/.uploads (swept at start-up), bounded by max_import_mb, before any is read."""
from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from api.audit.http import note
from api.auth import Principal
from api.body_stream import timed_chunks
from api.deps import allow, principal, require_admin, service
from api.errors import ApiError
from api.schemas import API_ERRORS, error_responses
from api.service import Service
from api.upload import no_room
from indexer.archive.export import ExportReport, export_kb
from indexer.archive.format import ArchiveError
from indexer.archive.import_ import import_archive
from indexer.kbs import NAME_PATTERN
from indexer.store.write_errors import KBWriteError, write_error

router = APIRouter(prefix="/v1", tags=["knowledge bases and keys"], responses=API_ERRORS)

ARCHIVE_BODY = {"requestBody": {"required": True, "content": {"application/zip": {"schema": {
    "type": "string", "format": "binary", "description": "an archive GET /v1/kbs/{kb}/export or `rag kb export` wrote"}}}}}


class KBImported(BaseModel):
    name: str
    source_kb: str
    documents: int
    chunks: int
    embed_model: str
    replaced: bool
    left_out: list[str] = Field([], description="sources of documents the archive lacks: left out of its export "
                                "as they were being rewritten (its manifest's left_out); index them again")


LEFT_OUT_HEADER = "X-Export-Left-Out"
EXPORT_DESCRIPTION = (
    "The KB keeps serving and taking uploads during the export. A document rewritten throughout it (by indexing "
    f"running meanwhile) is left out of the archive: the `{LEFT_OUT_HEADER}` header gives how many, and the "
    "archive's `manifest.json` names each in `left_out` (`doc_id`, `source`); export again once indexing is done.")


@router.get("/kbs/{kb}/export", response_class=FileResponse, description=EXPORT_DESCRIPTION, responses={
    200: {"content": {"application/zip": {}}, "description": "the KB's archive (`rag kb import` restores it)",
          "headers": {LEFT_OUT_HEADER: {"schema": {"type": "integer", "minimum": 0}, "description":
                                        "documents of the KB left out of the archive (0: none), named in its "
                                        "manifest.json, `left_out`"}}},
    **error_responses(507)}, summary="Download a knowledge base as one archive (admin of the KB)")
async def export(request: Request, kb: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "admin")
    folder = svc.uploads / f"export-{uuid.uuid4().hex}"
    path = folder / f"{kb}.zip"

    def run() -> ExportReport:
        store = svc.manager.open(kb)
        try:
            return export_kb(store, kb, path, svc.settings.indexer.chunk.model_dump(), progress=False)
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
    note(request, documents=rep.manifest.documents, left_out=len(rep.left_out))
    return FileResponse(path, media_type="application/zip", filename=f"{kb}.zip",
                        headers={LEFT_OUT_HEADER: str(len(rep.left_out))},
                        background=BackgroundTask(shutil.rmtree, folder, True))


@router.post("/kbs/import", response_model=KBImported, status_code=201, openapi_extra=ARCHIVE_BODY,
             responses=error_responses(408, 409, 413, 507),
             summary="Restore a knowledge base from an archive (admin); the archive's name unless `name`")
async def import_kb(request: Request, name: str | None = Query(None, pattern=NAME_PATTERN, description="the KB's name "
                    "here (default: the archive's)"), replace: bool = Query(False, description="replace a KB of "
                    "that name (default: 409)"), who: Principal = Depends(principal), svc: Service = Depends(service)):
    note(request, kb=name or "", replace=replace)
    require_admin(who)
    limit = int(svc.svc.max_import_mb * 2**20)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise ApiError(413, "archive_too_large", f"the archive is {int(length) / 2**20:.1f} MB; the limit is "
                       f"{svc.svc.max_import_mb:g} MB (max_import_mb); larger KBs: `rag kb import` on the server")
    folder = svc.uploads / f"import-{uuid.uuid4().hex}"
    try:
        path = await _receive(request, folder / "kb.zip", limit, svc.svc.upload_idle_s, svc.svc.upload_total_s)
        rep = await run_in_threadpool(import_archive, svc.manager, path, name, replace=replace, progress=False)
    except (ArchiveError, ValueError) as e:  # ValueError: what a store cannot hold (Milvus's field limits)
        raise ApiError(422, "invalid_archive", str(e)) from e
    except FileExistsError as e:
        raise ApiError(409, "kb_exists", str(e)) from e
    except KBWriteError as e:
        raise no_room(e) from e
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    note(request, kb=rep.kb, source_kb=rep.source_kb, documents=rep.documents, replaced=rep.replaced,
         left_out=len(rep.left_out))
    if rep.replaced:
        svc.drop(rep.kb)  # its pipelines held the KB it replaced
    return KBImported(name=rep.kb, source_kb=rep.source_kb, documents=rep.documents, chunks=rep.chunks,
                      embed_model=rep.embed_model, replaced=rep.replaced, left_out=rep.left_out)


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
