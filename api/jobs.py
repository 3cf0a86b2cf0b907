"""Durable upload jobs: rows in service.sqlite, files on disk, indexed by a background worker.

A job is written (with its files already on disk) before the upload request returns 202. The
worker takes jobs oldest first; a job left `running` by a crash or kill is taken again at the
next start (files already indexed are found unchanged by content hash and skipped), and given
up after `MAX_ATTEMPTS` starts so one poisonous upload cannot crash-loop the service.
"""
from __future__ import annotations

import json
import logging
import secrets
import shutil
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from api.auth import _now
from api.db import ServiceDB
from api.metrics import Metrics
from api.upload import StoredFile

log = logging.getLogger("api.jobs")
MAX_ATTEMPTS = 3


@dataclass
class JobFile:
    filename: str
    status: str            # pending | indexed | updated | unchanged | failed
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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["counts"] = {s: sum(f.status == s for f in self.files)
                       for s in ("pending", "indexed", "updated", "unchanged", "failed")}
        return d


class JobQueue:
    """The job table plus one worker thread that indexes with `index(kb, files, tags) -> results`."""

    def __init__(self, db: ServiceDB, incoming: Path, metrics: Metrics,
                 index: Callable[[str, list[tuple[str, Path]], dict[str, str]], list],
                 on_done: Callable[[str], None] | None = None):
        self.db, self.incoming, self.metrics = db, incoming, metrics
        self.index, self.on_done = index, on_done
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.current: str | None = None

    # ---- requests --------------------------------------------------------------
    def new_dir(self) -> tuple[str, Path]:
        job_id = "job_" + secrets.token_hex(8)
        return job_id, self.incoming / job_id

    def submit(self, job_id: str, kb: str, files: list[StoredFile], tags: dict[str, str]) -> None:
        with self.db.tx() as c:
            c.execute("INSERT INTO jobs(id, kb, status, created_at, tags) VALUES (?,?,?,?,?)",
                      (job_id, kb, "queued", _now(), json.dumps(tags, ensure_ascii=False)))
            c.executemany("INSERT INTO job_files(job_id, n, filename, path, size, status) VALUES (?,?,?,?,?,?)",
                          [(job_id, n, f.filename, str(f.path), f.size, "pending") for n, f in enumerate(files)])
        self._gauge()
        self._wake.set()

    def get(self, job_id: str) -> Job | None:
        row = self.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            return None
        files = [JobFile(r["filename"], r["status"], r["size"], r["doc_id"], r["chunks"], r["reason"])
                 for r in self.db.query("SELECT * FROM job_files WHERE job_id = ? ORDER BY n", (job_id,))]
        return Job(row["id"], row["kb"], row["status"], row["created_at"], row["started_at"], row["finished_at"],
                   row["attempts"], row["error"], files)

    def list(self, kb: str, limit: int = 50) -> list[Job]:
        rows = self.db.query("SELECT id FROM jobs WHERE kb = ? ORDER BY created_at DESC, id DESC LIMIT ?",
                             (kb, limit))
        return [self.get(r["id"]) for r in rows]

    def pending(self) -> int:
        return self.db.one("SELECT count(*) AS n FROM jobs WHERE status IN ('queued', 'running')")["n"]

    def _gauge(self) -> None:
        self.metrics.jobs_pending.set(self.pending())

    # ---- worker ----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="rag-index-worker", daemon=True)
        self._thread.start()
        self._wake.set()  # resume what a previous run left

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the job in progress (up to `timeout`); unfinished jobs stay queued for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)

    def _next(self) -> str | None:
        row = self.db.one("SELECT id FROM jobs WHERE status IN ('running', 'queued') "
                          "ORDER BY status = 'running' DESC, created_at, id LIMIT 1")
        return row["id"] if row else None

    def _loop(self) -> None:
        while not self._stop.is_set():
            job_id = self._next()
            if job_id is None:
                self._wake.wait(timeout=5)
                self._wake.clear()
                continue
            try:
                self._run(job_id)
            except Exception as e:  # never let the worker die: the job fails, the next one runs
                log.exception("job %s failed", job_id, extra={"job_id": job_id})
                self._finish(job_id, "failed", f"{type(e).__name__}: {e}")
            self._gauge()

    def _run(self, job_id: str) -> None:
        row = self.db.one("SELECT kb, attempts, tags FROM jobs WHERE id = ?", (job_id,))
        kb, attempts = row["kb"], row["attempts"]
        if attempts >= MAX_ATTEMPTS:
            self.db.execute("UPDATE job_files SET status='failed', reason=? WHERE job_id=? AND status='pending'",
                            ("not indexed: the service stopped during this job several times", job_id))
            self._finish(job_id, "failed", f"gave up after {attempts} attempts (the service stopped while indexing)")
            return
        self.db.execute("UPDATE jobs SET status='running', attempts=attempts+1, started_at=? WHERE id=?",
                        (_now(), job_id))
        self.current = job_id
        log.info("job %s: indexing into %s (attempt %d)", job_id, kb, attempts + 1,
                 extra={"job_id": job_id, "kb": kb, "event": "job_start"})
        files = self.db.query("SELECT n, filename, path FROM job_files WHERE job_id=? AND status='pending' "
                              "ORDER BY n", (job_id,))
        todo = [(r["filename"], Path(r["path"])) for r in files if Path(r["path"]).exists()]
        for r in files:
            if not Path(r["path"]).exists():
                self._file(job_id, r["n"], "failed", reason="the uploaded file is gone from the job folder")
        results = self.index(kb, todo, json.loads(row["tags"])) if todo else []
        by_name = {res.source: res for res in results}
        for r in files:
            res = by_name.get(r["filename"])
            if res is not None:
                self._file(job_id, r["n"], res.status, res.doc_id, res.chunks, res.reason)
        self.current = None
        self._finish(job_id, "done", "")
        shutil.rmtree(self.incoming / job_id, ignore_errors=True)
        if self.on_done:
            self.on_done(kb)

    def _file(self, job_id: str, n: int, status: str, doc_id: str = "", chunks: int = 0, reason: str = "") -> None:
        self.db.execute("UPDATE job_files SET status=?, doc_id=?, chunks=?, reason=? WHERE job_id=? AND n=?",
                        (status, doc_id, chunks, reason, job_id, n))
        self.metrics.files.labels(status).inc()

    def _finish(self, job_id: str, status: str, error: str) -> None:
        self.current = None
        self.db.execute("UPDATE jobs SET status=?, error=?, finished_at=? WHERE id=?", (status, error, _now(), job_id))
        self.metrics.jobs.labels(status).inc()
        log.info("job %s: %s%s", job_id, status, f" ({error})" if error else "",
                 extra={"job_id": job_id, "event": "job_" + status})
