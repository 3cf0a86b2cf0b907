"""An import job's end in the audit trail (api.audit): the request POST /v1/kbs/import is recorded as `kb.import`
when it is accepted; what the job then made of it is recorded as `kb.import.end`, by actor `service`, with the
request's id and who asked (so the two records are read together): `ok` with the documents and chunks imported,
or `failed` with the error code and why. Written whichever way the job ends (its import failed, the worker gave
up after dying during it, its bytes were gone), once, as the job is marked finished."""
from __future__ import annotations

import json
import logging

from api.audit.record import AuditEntry
from api.audit.trail import AuditTrail
from api.jobs.store import Job, JobStore

log = logging.getLogger("api.audit")
ACTION = "kb.import.end"


def end_entry(job: Job, status: str, error: str) -> AuditEntry:
    """The audit record of import job `job` ending as `status` (done | failed)."""
    options = json.loads(job.options or "{}")
    ended = json.loads(job.result) if job.result else {}
    detail: dict = {"job_id": job.job_id, "requested_by": options.get("requested_by", "")}
    report = ended.get("report")
    if status == "done" and report:
        detail.update({k: report[k] for k in ("source_kb", "documents", "chunks", "replaced") if k in report})
        detail["left_out"] = len(report.get("left_out") or [])
        if report.get("state"):
            detail["state_keys"] = report["state"].get("keys", 0)
    else:
        failure = ended.get("failure") or {}
        detail.update(error_code=failure.get("code", "import_failed"), reason=(failure.get("message") or error)[:2000])
    return AuditEntry(action=ACTION, actor="service", outcome="ok" if status == "done" else "failed", kb=job.kb,
                      target=job.job_id, detail=detail, request_id=options.get("request_id", ""))


def record_end(jobs: JobStore, job_id: str, status: str, error: str) -> None:
    """Append the end of import job `job_id`; a trail that cannot be written is logged (event audit_failed), never
    undoes or fails the import."""
    try:
        job = jobs.get(job_id)
        if job is None or job.kind != "import":
            return
        AuditTrail(jobs.db).append(end_entry(job, status, error))
    except Exception as e:
        log.error("audit record of %s for job %s could not be written: %s: %s", ACTION, job_id, type(e).__name__, e,
                  extra={"event": "audit_failed"})
