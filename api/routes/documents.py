"""Uploads (background jobs), documents, jobs."""
from __future__ import annotations

import shutil

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.audit.http import note
from api.auth import Principal
from api.deps import allow, principal, service
from api.errors import ApiError
from api.jobs.originals import kept_originals
from api.routes.audit import MAX_OFFSET  # the SQL OFFSET both databases take
from api.schemas import API_ERRORS, DocumentOut, JobAccepted, JobOut, error_responses
from api.service import Service
from api.upload import queue_error, receive_upload
from indexer.originals import sweep_written

router = APIRouter(prefix="/v1", tags=["documents"], responses=API_ERRORS)

UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["files"],
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                             "description": "one or more documents (pdf, docx, pptx, html, md, txt, csv, tsv, xlsx)"},
                   "tags": {"type": "string", "description": "metadata for every file: JSON object or k=v,k2=v2"}}}}}}}


@router.post("/kbs/{kb}/documents", status_code=202, response_model=JobAccepted, openapi_extra=UPLOAD_BODY,
             responses=error_responses(400, 408, 413, 415, 503, 507),
             summary="Upload files; they are indexed in the background (poll GET /v1/jobs/{job_id})")
async def upload(kb: str, request: Request, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "write")
    limit = int(svc.svc.max_upload_mb * 2**20)
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit * svc.svc.max_files + 2**20:
        raise ApiError(413, "upload_too_large", f"the upload is {int(length) / 2**20:.1f} MB; the limit is "
                       f"{svc.svc.max_upload_mb:g} MB per file and {svc.svc.max_files} files")
    job_id = svc.jobs.new_id()
    note(request, job_id=job_id)
    folder = svc.uploads / job_id
    up = await receive_upload(request, folder, limit, svc.svc.max_files, svc.svc.upload_idle_s,
                              svc.svc.upload_total_s)
    note(request, files=[f.filename for f in up.files])
    try:
        await run_in_threadpool(svc.submit, job_id, kb, up.files, up.tags)
    except ApiError:
        raise
    except Exception as e:
        raise queue_error(e) from e
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the bytes are in the database now (or the upload failed)
    return JobAccepted(job_id=job_id, status="queued", files=[f.filename for f in up.files])


@router.get("/jobs/{job_id}", response_model=JobOut, summary="An upload job: status and per-file results")
def get_job(job_id: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    job = svc.jobs.get(job_id)
    if job is None or not who.can(job.kb, "read"):
        # the same answer whether the job is someone else's or does not exist: job ids cannot be probed
        raise ApiError(404, "job_not_found", f"no job {job_id!r}")
    return job.to_dict()


@router.get("/kbs/{kb}/jobs", response_model=list[JobOut], summary="Upload jobs of a KB, newest first")
def list_jobs(kb: str, limit: int = Query(50, ge=1, le=500, description="jobs per page"),
              offset: int = Query(0, ge=0, le=MAX_OFFSET, description="jobs skipped (the next page: offset + limit)"),
              who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "read")
    return [j.to_dict() for j in svc.jobs.list(kb, limit, offset)]


@router.get("/kbs/{kb}/documents", response_model=list[DocumentOut],
            summary="Documents of a KB, by source name; page with limit and offset (X-Total-Count: all of them)")
def list_documents(kb: str, response: Response,
                   limit: int | None = Query(None, ge=1, le=10_000, description="documents per page (default: all)"),
                   offset: int = Query(0, ge=0, description="documents skipped (the next page: offset + limit)"),
                   who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "read")
    store = svc.manager.open(kb)
    try:
        docs = store.documents()
    finally:
        store.close()
    response.headers["X-Total-Count"] = str(len(docs))
    page = docs[offset:offset + limit] if limit is not None else docs[offset:]
    return [DocumentOut(doc_id=d.doc_id, source=d.source, chunks=d.chunks, size=d.size,
                        indexed_at=d.indexed_at, tags=d.tags) for d in page]


@router.delete("/kbs/{kb}/documents/{doc_id}", status_code=204, responses=error_responses(409), summary="Remove a document from a KB")
async def delete_document(kb: str, doc_id: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "write")

    def delete() -> bool:
        from indexer.store.base import KBLockedError

        try:
            store = svc.manager.open(kb, writable=True, lock_timeout=30)
        except KBLockedError as e:
            raise ApiError(409, "kb_busy", "the knowledge base is being indexed; retry in a moment",
                           {"Retry-After": "10"}) from e
        try:
            gone = store.delete_document(doc_id)
            if gone:
                store.commit()
                sweep_written(kept_originals(svc.manager.settings, kb, svc.db), store)  # its kept upload goes with it
            return gone
        finally:
            store.close()
    if not await run_in_threadpool(delete):
        raise ApiError(404, "document_not_found", f"no document {doc_id!r} in {kb!r}")
    svc._changed(kb)
