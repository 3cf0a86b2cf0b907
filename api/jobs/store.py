"""Durable jobs: rows in the state database, the uploaded bytes with them (in 1 MB chunks). A job is an
upload (its files indexed into a KB) or an import (one archive restored as a KB: api.jobs.importing), whose
options, progress and result the row holds as JSON.

A job is written, with all its files' bytes, in one transaction before the upload request returns
202: a crash never leaves half a job, and any worker of any replica can read it. Files are indexed
one by one (`pending` -> indexed | updated | unchanged | failed); a file's bytes are dropped once
it is done. A KB's jobs go with the KB when it is deleted.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from api.state.base import Database
from indexer.store.base import now

CHUNK = 1 << 20  # bytes per stored upload chunk: bounded memory while writing and reading a file
STATUSES = ("pending", "indexed", "updated", "unchanged", "imported", "failed")
KINDS = ("upload", "import", "reparse")  # reparse: api.jobs.reparse
_IMPORT_LOCK = 7244774  # pg_advisory_xact_lock(class, name) of import reservations (others: api.state, api.audit)


class ImportRunning(RuntimeError):
    """An import into the KB is already queued or running: the name is reserved by that job."""

    def __init__(self, kb: str, job_id: str):
        self.kb, self.job_id = kb, job_id
        super().__init__(f"an import into knowledge base {kb!r} is already under way (GET /v1/jobs/{job_id}); wait "
                         "for it to end, or import under another name (?name=)")


@dataclass
class Incoming:
    """An uploaded file waiting to be submitted: the user's name and where its bytes are for now."""
    filename: str
    path: Path
    size: int = 0


@dataclass
class JobFile:
    filename: str
    status: str            # pending | indexed | updated | unchanged | imported | failed
    size: int
    doc_id: str = ""
    chunks: int = 0
    reason: str = ""


@dataclass
class Job:
    job_id: str
    kb: str
    status: str            # queued | running | done | failed
    created_at: str
    started_at: str | None
    finished_at: str | None
    attempts: int
    error: str
    files: list[JobFile] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    kind: str = "upload"   # upload | import | reparse
    options: str = ""      # JSON: an import's options (api.jobs.importing.ImportOptions)
    progress: str = ""     # JSON: how far an import is (api.jobs.importing.ImportProgress); '' before it starts
    result: str = ""       # JSON: an import's report or failure (api.jobs.importing); '' until it ends

    def to_dict(self) -> dict:
        """What GET /v1/jobs/{id} answers (api.schemas.JobOut)."""
        d = asdict(self)
        for private in ("tags", "options"):
            d.pop(private)
        d["counts"] = {s: sum(f.status == s for f in self.files) for s in STATUSES}
        d["progress"] = json.loads(self.progress) if self.progress else None
        ended = json.loads(self.result) if self.result else {}
        d["result"] = ended.get("report")
        d["error_code"] = ended.get("failure", {}).get("code", "")
        return d


@dataclass(frozen=True)
class PendingFile:
    job_id: str
    kb: str
    n: int
    filename: str
    size: int
    tags: dict[str, str]
    kind: str = "upload"
    options: str = "{}"
    path: str = ""    # where its bytes are when not in the job: api.jobs.reparse.ORIGINAL for a reparse job's document
    doc_id: str = ""  # that document (a reparse job's file names it when written)


class JobStore:
    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    def new_id() -> str:
        return "job_" + secrets.token_hex(8)

    # ---- writing ---------------------------------------------------------------
    def submit(self, job_id: str, kb: str, files: list[Incoming], tags: dict[str, str], kind: str = "upload",
               options: str = "{}") -> None:
        """An import job reserves its KB's name: while it is queued or running (a service killed during it resumes
        it, so still after a restart) another import into that name raises ImportRunning, checked and written in
        one transaction that holds the name's lock, so two requests at once cannot both be accepted."""
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r} (one of {', '.join(KINDS)})")
        with self.db.tx() as t:
            if kind == "import":
                self._reserve(t, kb)
            t.execute("INSERT INTO jobs(id, kb, status, created_at, tags, kind, options) VALUES (?,?,?,?,?,?,?)",
                      (job_id, kb, "queued", now(), json.dumps(tags, ensure_ascii=False), kind, options))
            t.executemany("INSERT INTO job_files(job_id, n, filename, path, size, status) VALUES (?,?,?,?,?,?)",
                          [(job_id, n, f.filename, "", f.size, "pending") for n, f in enumerate(files)])
            for n, f in enumerate(files):
                with open(f.path, "rb") as fh:
                    for seq, data in enumerate(iter(lambda: fh.read(CHUNK), b"")):
                        t.execute("INSERT INTO upload_chunks(job_id, n, seq, data) VALUES (?,?,?,?)",
                                  (job_id, n, seq, data))

    def _reserve(self, t, kb: str) -> None:
        """Raise ImportRunning when an import into `kb` is unfinished. SQLite: the transaction's BEGIN IMMEDIATE
        already serializes writers; PostgreSQL: a transaction lock on the name (two keys: class and the name's hash),
        so that the second of two requests reads the first's committed row."""
        if self.db.dialect == "postgresql":
            name_key = int.from_bytes(hashlib.sha256(kb.encode()).digest()[:4], "big", signed=True)
            t.execute("SELECT pg_advisory_xact_lock(?, ?)", (_IMPORT_LOCK, name_key))
        rows = t.query("SELECT id FROM jobs WHERE kb = ? AND kind = 'import' AND status IN ('queued', 'running')",
                       (kb,))
        if rows:
            raise ImportRunning(kb, rows[0]["id"])

    def start(self, job_id: str) -> bool:
        """Mark a job running (one more attempt); False when it is gone (its KB was deleted)."""
        return self.db.execute("UPDATE jobs SET status='running', attempts=attempts+1, started_at=? "
                               "WHERE id=? AND status IN ('queued', 'running')", (now(), job_id)) > 0

    def record(self, job_id: str, n: int, status: str, doc_id: str = "", chunks: int = 0, reason: str = "") -> None:
        with self.db.tx() as t:
            # only a pending file takes a result: a re-run after a worker died never overwrites one
            t.execute("UPDATE job_files SET status=?, doc_id=?, chunks=?, reason=? "
                      "WHERE job_id=? AND n=? AND status='pending'", (status, doc_id, chunks, reason, job_id, n))
            t.execute("DELETE FROM upload_chunks WHERE job_id=? AND n=?", (job_id, n))

    def set_progress(self, job_id: str, progress: str) -> None:
        """How far an unfinished job is (JSON), for GET /v1/jobs/{id}."""
        self.db.execute("UPDATE jobs SET progress=? WHERE id=? AND status IN ('queued', 'running')", (progress, job_id))

    def set_result(self, job_id: str, result: str) -> None:
        self.db.execute("UPDATE jobs SET result=? WHERE id=?", (result, job_id))

    def unfinished_import(self, kb: str) -> str | None:
        """The id of a queued or running import into `kb`, if any."""
        row = self.db.one("SELECT id FROM jobs WHERE kb = ? AND kind = 'import' AND status IN ('queued', 'running')",
                          (kb,))
        return None if row is None else row["id"]

    def note(self, job_id: str, n: int, reason: str) -> None:
        """Say why a pending file waits (a full disk), keeping it pending and its bytes for the next try."""
        self.db.execute("UPDATE job_files SET reason=? WHERE job_id=? AND n=? AND status='pending'", (reason, job_id, n))

    def finish(self, job_id: str, status: str, error: str = "") -> None:
        with self.db.tx() as t:
            t.execute("UPDATE jobs SET status=?, error=?, finished_at=? WHERE id=?", (status, error, now(), job_id))
            t.execute("DELETE FROM upload_chunks WHERE job_id=?", (job_id,))

    def fail_pending(self, job_id: str, reason: str) -> int:
        with self.db.tx() as t:
            n = t.execute("UPDATE job_files SET status='failed', reason=? WHERE job_id=? AND status='pending'",
                          (reason, job_id))
            t.execute("DELETE FROM upload_chunks WHERE job_id=?", (job_id,))
        return n

    def reclaim(self) -> None:
        """PostgreSQL: the space of the upload bytes dropped as files and jobs finished made reusable now. Every
        uploaded byte passes through upload_chunks and is deleted once indexed, and PostgreSQL keeps a deleted row's
        version until VACUUM: where autovacuum is off or lags behind a stream of uploads, the table grew by every
        upload's size, without bound. Vacuuming this one table after a job is cheap (it holds only the unfinished
        jobs' bytes) and takes no lock writers wait for; SKIP_LOCKED: another worker vacuuming it meanwhile does."""
        if self.db.dialect == "postgresql":
            self.db.execute("VACUUM (SKIP_LOCKED) upload_chunks")

    def delete_kb(self, kb: str) -> int:
        """A deleted KB's jobs go with it (their files and bytes too): a KB re-created under the same
        name starts with no history, and a worker still on one of them finds it gone and stops."""
        return self.db.execute("DELETE FROM jobs WHERE kb = ?", (kb,))

    # ---- reading ---------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        row = self.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            return None
        files = [JobFile(r["filename"], r["status"], r["size"], r["doc_id"], r["chunks"], r["reason"])
                 for r in self.db.query("SELECT * FROM job_files WHERE job_id = ? ORDER BY n", (job_id,))]
        return Job(row["id"], row["kb"], row["status"], row["created_at"], row["started_at"], row["finished_at"],
                   row["attempts"], row["error"], files, json.loads(row["tags"] or "{}"), row["kind"], row["options"],
                   row["progress"], row["result"])

    def list(self, kb: str, limit: int = 50, offset: int = 0) -> list[Job]:
        """The KB's jobs, newest first: `limit` of them after skipping `offset`."""
        rows = self.db.query("SELECT id FROM jobs WHERE kb = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                             (kb, limit, offset))
        return [j for j in (self.get(r["id"]) for r in rows) if j is not None]

    def pending_count(self) -> int:
        return int(self.db.one("SELECT count(*) AS n FROM jobs WHERE status IN ('queued', 'running')")["n"])

    def unfinished(self) -> list[tuple[str, str]]:
        """(job id, kb) of every queued or running job, oldest first."""
        return [(r["id"], r["kb"]) for r in self.db.query(
            "SELECT id, kb FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at, id")]

    def queued(self) -> list[tuple[str, str]]:
        """(job id, kb) of every job no worker has started yet, oldest first."""
        return [(r["id"], r["kb"]) for r in self.db.query(
            "SELECT id, kb FROM jobs WHERE status = 'queued' ORDER BY created_at, id")]

    def next_file(self, job_id: str) -> PendingFile | None:
        row = self.db.one("SELECT f.n, f.filename, f.size, f.path, f.doc_id, j.kb, j.tags, j.kind, j.options FROM job_files f "
                          "JOIN jobs j ON j.id = f.job_id WHERE f.job_id = ? AND f.status = 'pending' ORDER BY f.n",
                          (job_id,))
        if row is None:
            return None
        return PendingFile(job_id, row["kb"], int(row["n"]), row["filename"], int(row["size"]),
                           json.loads(row["tags"] or "{}"), row["kind"], row["options"], row["path"] or "",
                           row["doc_id"] or "")

    def attempts(self, job_id: str) -> int | None:
        row = self.db.one("SELECT attempts FROM jobs WHERE id = ?", (job_id,))
        return None if row is None else int(row["attempts"])

    def read_file(self, job_id: str, n: int) -> Iterator[bytes]:
        return self.db.iter_blob("SELECT data FROM upload_chunks WHERE job_id = ? AND n = ? ORDER BY seq",
                                 (job_id, n))
