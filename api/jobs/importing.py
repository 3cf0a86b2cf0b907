"""What a worker does with an import job (POST /v1/kbs/import): restore the archive as a KB
(indexer.archive.import_, crash-safe: a re-run of the job resumes the hidden copy an interrupted one left),
write how far it is to the job as it goes, and record what it made, or why it could not, as the job's result.

The service state the archive may carry (api.archive_state) is checked against this database's before anything
is written and restored once the KB is in place. A failure of the archive (damaged, its model missing), state
here it would overwrite, or a KB of that name created meanwhile fails the job, saying so; a full disk or a server away is no fault of the archive: the job waits and tries again
(api.jobs.runner), resuming."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from api.archive_state import Restored, StateConflict, planned, restore
from api.jobs.originals import kept_originals
from api.jobs.runner import FileOutcome
from api.jobs.store import JobStore, PendingFile
from api.outage import outage_of
from api.state.kept_uploads import abandoned, left_by_failed_imports, taken
from indexer.archive.format import ArchiveError
from indexer.archive.import_ import import_archive
from indexer.archive.kept_settle import settle_kept
from indexer.archive.staging import NotWanted
from indexer.kbs import KBManager
from indexer.originals import KeptOriginals
from indexer.store.base import KBLockedError
from indexer.store.write_errors import write_error

log = logging.getLogger("api.jobs")
PROGRESS_S = 1.0  # the job's progress is written at most this often (a write per document would load the database)
ARCHIVE_NAME = "kb.zip"  # the job's one file


class ImportOptions(BaseModel):
    name: str          # the KB it becomes (the request's ?name=, else the archive's own; checked when accepted)
    replace: bool = False
    without_state: bool = False  # leave the service state an archive carries (api.archive_state) unrestored
    requested_by: str = ""  # the actor of the request (api.audit), named in the audit record of the job's end
    request_id: str = ""    # the request's X-Request-ID: the end's record carries it too (api.jobs.import_audit)


class ImportProgress(BaseModel):
    stage: Literal["checking", "importing"] = Field(description="checking: the archive's bytes are read and "
                                                    "their checksums verified; importing: its chunks are written")
    done: int
    total: int
    unit: Literal["bytes", "chunks"]


class KBImported(BaseModel):
    name: str
    source_kb: str
    documents: int
    chunks: int
    embed_model: str
    replaced: bool
    left_out: list[str] = Field([], description="sources of documents the archive lacks: left out of its export "
                                "as they were being rewritten (its manifest's left_out); index them again")
    originals: int = Field(0, description="kept uploads the archive carried, restored: POST /v1/kbs/{kb}/reparse "
                           "re-reads them without their being uploaded again")
    originals_not_kept: int = Field(0, description="kept uploads carried but not kept here (keep_originals off, or "
                                    "past originals_max_mb): upload them again to have them re-read")
    ocr_cache: bool = Field(False, description="the KB's OCR cache was restored: its scans are not read by OCR again")
    state: Restored | None = Field(None, description="the service state the archive carried (exported with "
                                   "?with_state=true), restored: API keys, channels (`secrets_needed`: those "
                                   "exported without their secrets, to connect again), promoted settings")


class ImportFailure(BaseModel):
    code: Literal["invalid_archive", "kb_exists", "state_conflict"]
    message: str


class ImportEnded(BaseModel):
    """The job's result: one of the two."""
    report: KBImported | None = None
    failure: ImportFailure | None = None


class _ProgressWriter:
    def __init__(self, jobs: JobStore, job_id: str):
        self.jobs, self.job_id = jobs, job_id
        self._last, self._stage = 0.0, ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        t = time.monotonic()
        if stage == self._stage and done < total and t - self._last < PROGRESS_S:
            return
        self._last, self._stage = t, stage
        unit = "bytes" if stage == "checking" else "chunks"
        self.jobs.set_progress(self.job_id, ImportProgress(stage=stage, done=done, total=total, unit=unit)
                               .model_dump_json())


class Importer:
    """`after(kb, replaced)`: what the process does once a KB was imported (drop its pipelines, its cached
    answers)."""

    def __init__(self, manager: KBManager, jobs: JobStore, after: Callable[[str, bool], None] | None = None):
        self.manager, self.jobs, self.after = manager, jobs, after
        # jobs whose run this process left to be tried again (a server away, a full disk, the writer lock): the
        # runner tries the step again in the same attempt, and that run may find its own KB already in place
        self._interrupted: set[str] = set()

    def run(self, f: PendingFile, path: Path) -> FileOutcome:
        options = ImportOptions.model_validate_json(f.options)
        try:
            ended = self._import(f, path, options)
        except NotWanted as e:  # its job went with its KB meanwhile: nothing to record it on, nothing put in place
            log.info("job %s: %s", f.job_id, e)
            self._interrupted.discard(f.job_id)
            self._abandon(f.job_id)
            return FileOutcome("failed", reason=str(e))
        except Exception as e:
            if _tried_again(e):
                self._interrupted.add(f.job_id)
            else:  # the job fails (api.jobs.runner): the uploads it kept go
                self._interrupted.discard(f.job_id)
                self._abandon(f.job_id)
            raise
        self._interrupted.discard(f.job_id)
        self.jobs.set_result(f.job_id, ended.model_dump_json(exclude_none=True))
        if ended.failure is not None:
            self._abandon(f.job_id)
            return FileOutcome("failed", reason=ended.failure.message)
        if self.after is not None:
            self.after(options.name, ended.report.replaced)
        return FileOutcome("imported", chunks=ended.report.chunks)

    def gave_up(self, job_id: str) -> None:
        """Job `job_id` failed as its worker died during it too often (api.jobs.runner.MAX_ATTEMPTS), so no run of
        it removed what it kept: the uploads an import kept for a KB that never took the name go now, not when
        some later import fails (they hold the state database's space and count in the name's originals_max_mb).
        A KB under the name keeps them (its own import, stopped after it took the name; or one created meanwhile,
        whose next write sweeps the copies none of its documents names). Best effort: the job has failed whatever
        happens here, and the next failed import looks again."""
        if self.jobs.db.dialect != "postgresql":
            return
        try:
            job = self.jobs.get(job_id)
            if job is not None and job.kind == "import" and not self.manager.exists(job.kb):
                abandoned(self.jobs.db, job_id)
        except Exception:
            log.warning("job %s: the uploads it kept were not removed; the next failed import removes them", job_id,
                        exc_info=True)

    def _kept_for(self, job_id: str) -> Callable[[str], KeptOriginals] | None:
        """Where an imported KB's uploads are kept: the state database in cluster mode (api.jobs.originals), marked
        as the job's until the KB is in place, else its folder (None: the import's hidden copy, which becomes it)."""
        if self.jobs.db.dialect != "postgresql":
            return None
        return lambda kb: kept_originals(self.manager.settings, kb, self.jobs.db, job=job_id)

    def _abandon(self, job_id: str) -> None:
        """The uploads a failed import kept under a name no KB of its took leave the state database
        (api.state.kept_uploads.abandoned: only rows the job marked, never a KB's created meanwhile)."""
        if self.jobs.db.dialect != "postgresql":
            return
        abandoned(self.jobs.db, job_id)
        try:  # and those an import left when its worker gave up dying, where no KB took the name since (one that
            # did drops the rows none of its documents names when written next: DatabaseOriginals.sweep)
            for kb, job in left_by_failed_imports(self.jobs.db):
                if not self.manager.exists(kb):
                    abandoned(self.jobs.db, job)
        except Exception:  # Milvus away: the next failed import looks again
            log.warning("uploads kept by earlier failed imports not checked", exc_info=True)

    def _import(self, f: PendingFile, path: Path, options: ImportOptions) -> ImportEnded:
        db = self.jobs.db
        try:  # the state is checked first: a conflict leaves everything as it was
            state = None if options.without_state else planned(db, path, options.name, options.replace)
            # an earlier run of the job stopped, maybe after its KB took the name: its service stopped during an
            # earlier attempt, or a server was away in this one (then a run taken as new would fail with kb_exists
            # over its own KB and remove the uploads it kept for it). Not when replacing: the KB in the way may be an
            # earlier import of this same archive, changed since, which the job is to replace, not report as done;
            # replacing again whatever holds the name (its own result included) is always right
            rerun = not options.replace and ((self.jobs.attempts(f.job_id) or 0) > 1 or f.job_id in self._interrupted)
            rep = import_archive(self.manager, path, options.name, replace=options.replace, progress=False,
                                 report=_ProgressWriter(self.jobs, f.job_id), rerun=rerun,
                                 kept_for=self._kept_for(f.job_id),
                                 # a job deleted meanwhile (with its KB: Service.delete_kb) must not bring it back
                                 still_wanted=lambda: self.jobs.get(f.job_id) is not None)
            if db.dialect == "postgresql":
                taken(db, f.job_id)  # the KB is in place: its uploads are no longer the job's to remove
            if options.replace:  # the replaced KB's uploads go, the archive's all stay (a re-run settles them too)
                rep.files = settle_kept(self.manager, path, rep.kb, kept_originals(self.manager.settings, rep.kb, db),
                                        rep.files)
            restored = restore(db, options.name, state, options.replace) if state is not None else None
        except StateConflict as e:
            return ImportEnded(failure=ImportFailure(code="state_conflict", message=str(e)))
        except FileExistsError as e:
            return ImportEnded(failure=ImportFailure(code="kb_exists", message=_named(e, path)))
        except (ArchiveError, ValueError) as e:  # ValueError: what a store cannot hold (Milvus's field limits)
            if outage_of(e) is not None:
                raise
            return ImportEnded(failure=ImportFailure(code="invalid_archive", message=_named(e, path)))
        files = rep.files
        return ImportEnded(report=KBImported(name=rep.kb, source_kb=rep.source_kb, documents=rep.documents,
                                             chunks=rep.chunks, embed_model=rep.embed_model, replaced=rep.replaced,
                                             left_out=rep.left_out, state=restored,
                                             originals=files.originals if files else 0,
                                             originals_not_kept=files.not_kept if files else 0,
                                             ocr_cache=files.ocr_cache if files else False))


def _tried_again(e: Exception) -> bool:
    """The runner keeps the job's file pending after `e` (a server away, the writer lock lost, a full disk:
    api.jobs.runner) rather than failing it."""
    return outage_of(e) is not None or isinstance(e, KBLockedError) or write_error(e) is not None


def _named(e: Exception, path: Path) -> str:
    """The error's message naming the archive as the client sent it, not the worker's scratch copy."""
    return str(e).replace(str(path), ARCHIVE_NAME).replace(path.name, ARCHIVE_NAME)
