"""Reparse jobs (POST /v1/kbs/{kb}/reparse): a KB's uploaded documents read again from their kept originals
(indexer.originals), after an upgrade that fixed a parser or the chunker.

A reparse job (kind 'reparse') is a job like an upload's, with one file per document to read again (its
uploaded name, its size, its id) and no bytes in the database: its file rows say where the bytes are instead,
in `path` (ORIGINAL, unused by uploads, which keep '' there), so the same workers, queue, progress
(GET /v1/jobs/{id}) and restarts serve it. The worker reads the document from the KB's kept original (api.jobs.indexing.
reread_upload) with the name and tags it has; in cluster mode the original is in the state database
(api.jobs.originals), so any worker reads what another kept."""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from api.jobs.store import JobStore, PendingFile
from indexer.originals import KeptOriginals, is_upload, not_kept_reason, split_uploads
from indexer.store.base import now
from indexer.types import DocumentInfo

ORIGINAL = "kept-original"  # job_files.path of a document read again from the KB's kept original


class NotReread(BaseModel):
    """A document the job does not read again, by name, with what to do."""

    doc_id: str
    source: str
    reason: str


class ReparseAccepted(BaseModel):
    job_id: str = Field(description="poll GET /v1/jobs/{job_id}: one file per document, its status as it is read")
    status: str
    files: list[str] = Field(description="the uploaded documents the job reads again from their kept originals")
    not_reread: list[NotReread] = Field(description="documents it cannot read again, each with what to do")


@dataclass(frozen=True)
class ReparsePlan:
    """What a reparse job of a KB reads again, and the documents it cannot, each with what to do."""

    todo: list[DocumentInfo]
    left: list[NotReread]


def plan(kb: str, documents: list[DocumentInfo], originals: KeptOriginals) -> ReparsePlan:
    kept, not_kept = split_uploads(documents, originals)
    advice = not_kept_reason(originals)
    left = [NotReread(doc_id=d.doc_id, source=d.source, reason=advice) for d in not_kept]
    left += [NotReread(doc_id=d.doc_id, source=d.source, reason=f"not re-read: not an upload (indexed on the server by `rag index`); "
                       f"`rag index --reparse --kb {kb}` there reads it again from its file")
             for d in documents if not is_upload(d)]
    return ReparsePlan(kept, left)


def submit_reparse(jobs: JobStore, job_id: str, kb: str, todo: list[DocumentInfo]) -> None:
    """Write the job and its documents (one transaction); the caller hands it to the queue."""
    with jobs.db.tx() as t:
        t.execute("INSERT INTO jobs(id, kb, status, created_at, tags, kind) VALUES (?,?,?,?,?,?)",
                  (job_id, kb, "queued", now(), "{}", "reparse"))
        if todo:
            t.executemany("INSERT INTO job_files(job_id, n, filename, path, size, status, doc_id) VALUES (?,?,?,?,?,?,?)",
                          [(job_id, n, d.source, ORIGINAL, d.size, "pending", d.doc_id) for n, d in enumerate(todo)])


def reparse_target(f: PendingFile) -> str | None:
    """The document a job's file reads again from its kept original; None for an uploaded file."""
    return f.doc_id if f.kind == "reparse" and f.path == ORIGINAL else None
