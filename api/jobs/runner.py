"""Indexes one job's files, one file per step, in any process that can reach the state database.

The file's bytes are copied from the database to a private scratch folder under a generated name
(the user's name is metadata only: a 150-character or hostile name never becomes a path), indexed,
and its result recorded; a result is recorded only while the file is still pending, so a job taken
back from a worker that died is finished exactly once per file (content hashes make the re-run of
a file that was in flight idempotent).

A server the job needs being away (PostgreSQL, Milvus: api.outage) is no fault of the file: the file
stays pending and the job goes on once the server is back, in the same attempt (`run`), instead of the
file failing for good or the worker dying. Nor is the KB's writer lock lost (Redis lost its data) or
held by another writer past its timeout: the next try takes it again. Nor is a disk the KB (or the
scratch copy) cannot be written to, full or read-only (indexer.store.write_errors): the file stays
pending with its bytes, its reason says what it waits for, and the job tries it again with a growing
pause until there is room.
"""
from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from api.jobs.import_audit import record_end
from api.jobs.reparse import reparse_target
from api.jobs.store import JobStore, PendingFile
from api.metrics import Metrics
from api.outage import outage_of
from indexer.store.base import KBLockedError
from indexer.store.write_errors import KBWriteError, write_error

log = logging.getLogger("api.jobs")
MAX_ATTEMPTS = 3  # a job whose worker died this many times fails instead of crash-looping workers
RETRY_S = 2.0  # while a server the job needs is away: how often the job tries its next step again
MAX_ROOM_WAIT_S = 60.0  # a full disk: pauses double from RETRY_S up to this, not a re-parse every 2 s
_EXT = re.compile(r"\.[A-Za-z0-9]{1,8}$")


@dataclass
class FileOutcome:
    status: str            # indexed | updated | unchanged | failed
    doc_id: str = ""
    chunks: int = 0
    reason: str = ""


class WaitingForRoom(RuntimeError):
    """A file could not be written (disk full, read-only): it stays pending and is tried again."""

    def __init__(self, filename: str, error: KBWriteError):
        self.error = error
        super().__init__(f"{filename}: {waiting_reason(error)}")


def waiting_reason(error: KBWriteError) -> str:
    return (f"not indexed yet: {error.reason} ({error.advice}); the upload is kept and indexed once "
            "it can be written")


def room_pause(waits: int) -> float:
    """The pause before the next try after `waits` tries in a row met a full or read-only disk."""
    return min(RETRY_S * 2 ** max(0, waits - 1), MAX_ROOM_WAIT_S)


IndexFile = Callable[[str, str, Path, dict[str, str]], FileOutcome]  # (kb, filename, path, tags)
RereadFile = Callable[[str, str], FileOutcome]  # (kb, doc id): a reparse job's document (api.jobs.reparse)
ImportFile = Callable[[PendingFile, Path], FileOutcome]  # an import job's archive (api.jobs.importing.Importer.run)


def scratch_name(n: int, filename: str) -> str:
    """A generated name that keeps the user's extension (the parsers dispatch on it)."""
    m = _EXT.search(filename)
    return f"{n:03d}{m.group(0).lower() if m else ''}"


class JobRunner:
    def __init__(self, jobs: JobStore, index_file: IndexFile, metrics: Metrics | None = None,
                 on_done: Callable[[str], None] | None = None, scratch: Path | None = None,
                 import_file: ImportFile | None = None, reread_file: RereadFile | None = None,
                 gave_up: Callable[[str], None] | None = None):
        """`on_done(kb)`: after an upload job (an import job's `import_file` does its own after-steps).
        `reread_file` reads a reparse job's document (every process that runs jobs is given one). `gave_up(job)`:
        after a job failed for its worker dying MAX_ATTEMPTS times, which no step of it saw (an import job's kept
        uploads go: api.jobs.importing.Importer.gave_up)."""
        self.jobs, self.index_file, self.metrics, self.on_done = jobs, index_file, metrics, on_done
        self.scratch, self.import_file, self.reread_file = scratch, import_file, reread_file
        self.gave_up = gave_up

    def begin(self, job_id: str) -> bool:
        """Take a job (again): False when it is gone or has failed for good."""
        attempts = self.jobs.attempts(job_id)
        if attempts is None:
            return False
        if attempts >= MAX_ATTEMPTS:
            self.jobs.fail_pending(job_id, "not indexed: the indexing worker stopped during this job several times")
            self._finish(job_id, "failed", f"gave up after {attempts} attempts (the worker stopped while indexing)")
            if self.gave_up is not None:
                self.gave_up(job_id)
            return False
        if not self.jobs.start(job_id):
            return False
        log.info("job %s: started (attempt %d)", job_id, attempts + 1, extra={"job_id": job_id, "event": "job_start"})
        return True

    def step(self, job_id: str) -> bool:
        """Index the job's next pending file; False when none is left (the job is then finished)."""
        f = self.jobs.next_file(job_id)
        if f is None:
            if self.jobs.attempts(job_id) is not None:
                job = self.jobs.get(job_id)
                failed = [x for x in job.files if x.status == "failed"] if job is not None else []
                if job is not None and job.kind == "import" and failed:
                    self._finish(job_id, "failed", failed[0].reason)
                    return False
                # the after-indexing step (the refusal threshold recalibrated, the KB's cached answers dropped)
                # comes before the job reads done: a client that waits for the job and then asks gets answers
                # under the new threshold, and a cached answer of its is not dropped by the step right after
                if self.on_done and job is not None and job.kind in ("upload", "reparse"):
                    try:
                        self.on_done(job.kb)
                    except Exception:  # the documents are in; recalibrating or invalidating is best effort
                        log.warning("job %s: done, but the after-indexing step failed", job_id, exc_info=True)
                self._finish(job_id, "done")
            return False
        try:
            out = self._index(f)
        except Exception as e:  # never let a worker die on one file: the file fails, the job goes on
            if outage_of(e) is not None or isinstance(e, KBLockedError):
                raise  # not the file's fault (a server away, the KB's writer lock lost): it stays pending
            lack = write_error(e)
            if lack is not None:  # nor is a full disk: it stays pending, saying so
                self._wait_for_room(f, lack)
            log.exception("job %s: %s failed", job_id, f.filename, extra={"job_id": job_id})
            out = FileOutcome("failed", reason=f"could not be indexed ({type(e).__name__}: {e})")
        self.jobs.record(f.job_id, f.n, out.status, out.doc_id, out.chunks, out.reason)
        if self.metrics:
            self.metrics.files.labels(out.status).inc()
        return True

    def run(self, job_id: str, stop: Callable[[], bool] = lambda: False,
            pause: Callable[[float], object] = time.sleep) -> None:
        """Take the job and index its files until none is left or `stop()`. A step that fails because a
        server is away (or any other error outside a file's own) is tried again every RETRY_S seconds
        (`pause`, which may return early when stopping), in this attempt: the job's attempts count workers
        that died, not outages."""
        if not self.begin(job_id):
            return
        waits = 0
        while not stop():
            try:
                if not self.step(job_id):
                    return
                waits = 0
            except Exception as e:
                waits = waits + 1 if isinstance(e, WaitingForRoom) else 0
                delay = room_pause(waits) if waits else RETRY_S
                log.warning("job %s: paused (%s: %s); trying again in %g s", job_id, type(e).__name__,
                            str(e).splitlines()[0][:200] if str(e) else "", delay, extra={"job_id": job_id})
                pause(delay)

    def _wait_for_room(self, f: PendingFile, lack: KBWriteError) -> None:
        try:
            self.jobs.note(f.job_id, f.n, waiting_reason(lack))
        except Exception:  # the state database on the same full disk: the file stays pending all the same
            log.warning("job %s: could not record why %s waits", f.job_id, f.filename, exc_info=True)
        raise WaitingForRoom(f.filename, lack)

    def _index(self, f: PendingFile) -> FileOutcome:
        doc_id = reparse_target(f)
        if doc_id is not None:  # a reparse job's document: its bytes are the KB's kept original
            if self.reread_file is None:
                return FileOutcome("failed", doc_id, reason="this process cannot read documents again")
            return self.reread_file(f.kb, doc_id)
        folder = Path(tempfile.mkdtemp(prefix=f"{f.job_id}-", dir=self.scratch))
        try:
            path = folder / scratch_name(f.n, f.filename)
            size = 0
            with open(path, "wb") as fh:
                for data in self.jobs.read_file(f.job_id, f.n):
                    fh.write(data)
                    size += len(data)
            if size != f.size:
                return FileOutcome("failed", reason="the uploaded bytes are missing from the job (was its knowledge "
                                                    "base deleted?)")
            if f.kind == "import":
                if self.import_file is None:  # every process that runs jobs is given one (api.service, api.jobs.worker)
                    return FileOutcome("failed", reason="this worker cannot import knowledge bases")
                return self.import_file(f, path)
            out = self.index_file(f.kb, f.filename, path, f.tags)
            # reasons name the user's file, never the scratch name
            out.reason = out.reason.replace(str(path), f.filename).replace(path.name, f.filename)
            return out
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _finish(self, job_id: str, status: str, error: str = "") -> None:
        self.jobs.finish(job_id, status, error)
        try:
            self.jobs.reclaim()
        except Exception:  # the job is finished; autovacuum, or the next job's end, reclaims the space
            log.warning("job %s: the space of its uploaded bytes was not reclaimed (VACUUM upload_chunks)", job_id,
                        exc_info=True)
        record_end(self.jobs, job_id, status, error)  # an import's outcome joins its request in the audit trail
        if self.metrics:
            self.metrics.jobs.labels(status).inc()
        log.info("job %s: %s%s", job_id, status, f" ({error})" if error else "",
                 extra={"job_id": job_id, "event": "job_" + status})
