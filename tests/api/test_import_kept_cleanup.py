"""A failed import job in cluster mode leaves none of the uploads it kept (api.state.kept_uploads, kept_upload_jobs):
the archive's kept uploads are written to the state database under the new KB's name before the KB takes the name,
so an import that then failed (a KB of that name created meanwhile, any error that fails the job) left rows under a
name no KB of its ever had, read by nobody, counted in that name's cap, and restored into a KB created later under
it. Only the job's own rows go: a KB's, created meanwhile under the name, stay, also one of the same bytes.

Real PostgreSQL, the real job runner and importer, the local store, real parsers and MiniLM; English and Chinese
uploads."""
from __future__ import annotations

from pathlib import Path

import pytest

from api.jobs.importing import Importer, ImportOptions
from api.jobs.indexing import index_upload
from api.jobs.originals import kept_originals
from api.jobs.runner import FileOutcome, JobRunner
from api.jobs.store import Incoming, JobStore
from api.state.factory import open_database
from api.state.kept_uploads import DatabaseOriginals, abandoned
from indexer.archive.export import export_kb
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_kept_uploads import _sha
from tests.lost_cards import EN, ZH, write_files

OWN = "网点营业时间为工作日9:00至17:00。Branches open at 9 a.m. on weekdays.\n"


def _db(postgres, tmp_path):  # noqa: F811
    db = open_database(postgres.url, tmp_path)
    with db.tx() as t:
        for table in ("kept_uploads", "kept_upload_jobs", "jobs"):
            t.execute(f"DELETE FROM {table}")
    return db


def _kept(db, kb: str) -> dict[str, str]:
    """The KB's kept uploads: name -> the import job that marked it ('' for the KB's own)."""
    return {r["name"]: r["job"] or "" for r in db.query(
        "SELECT u.name, j.job FROM kept_uploads u LEFT JOIN kept_upload_jobs j ON j.kb = u.kb AND j.name = u.name "
        "WHERE u.kb = ?", (kb,))}


def _chunks(db, kb: str) -> set[str]:
    return {r["name"] for r in db.query("SELECT DISTINCT name FROM kept_upload_chunks WHERE kb = ?", (kb,))}


class _KBCreatedMeanwhile(JobStore):
    """The job store, and a user who creates KB `name` and uploads `files` to it while the import writes its
    chunks (its first progress report of the 'importing' stage): between the import's start and the moment its KB
    would take the name, where nothing but a real concurrent request can put it."""

    def __init__(self, db, manager, name: str, files: list[Path]):
        super().__init__(db)
        self.manager, self.name, self.files, self.done = manager, name, files, False

    def set_progress(self, job_id: str, progress: str) -> None:
        super().set_progress(job_id, progress)
        if '"importing"' in progress and not self.done:
            self.done = True
            self.manager.open(self.name, writable=True, create=True).close()
            for path in self.files:
                assert index_upload(self.manager, self.name, path.name, path, {}, self.db).status == "indexed"


def export_with_kept(manager, db, kb: str, archive: Path) -> Path:
    """KB `kb` exported to `archive` with its uploads, kept in the state database `db`."""
    store = manager.open(kb)
    try:
        export_kb(store, kb, archive, manager.settings.chunk.model_dump(), progress=False,
                  originals=kept_originals(manager.settings, kb, db))
    finally:
        store.close()
    return archive


def _run_import(jobs: JobStore, manager, archive: Path, name: str, replace: bool = False):
    job_id = jobs.new_id()
    jobs.submit(job_id, name, [Incoming("kb.zip", archive, archive.stat().st_size)], {}, kind="import",
                options=ImportOptions(name=name, replace=replace).model_dump_json())
    runner = JobRunner(jobs, lambda *a: FileOutcome("failed", reason="uploads are not indexed here"),
                       import_file=Importer(manager, jobs).run, scratch=archive.parent)
    runner.run(job_id)
    return jobs.get(job_id)


@pytest.mark.slow  # ~16 s: two KBs indexed, an export and an import job on PostgreSQL
def test_a_failed_import_removes_the_uploads_it_kept_but_never_a_kbs(manager, postgres, tmp_path):  # noqa: F811
    db = _db(postgres, tmp_path)
    try:
        manager.settings.parse_isolation = False
        docs = write_files(tmp_path / "docs")
        cards, lost = docs / "cards.md", docs / "挂失.txt"
        (own := docs / "own.txt").write_text(OWN, encoding="utf-8")
        manager.open("src", writable=True, create=True).close()
        for path in (cards, lost):
            assert index_upload(manager, "src", path.name, path, {}, db).status == "indexed"
        archive = export_with_kept(manager, db, "src", tmp_path / "src.zip")

        # an import whose worker gave up after dying mid-import (after its uploads were kept): into "gone", which no
        # KB took since, and into "src", which exists (its rows are the KB's to keep or sweep)
        jobs = JobStore(db)
        for kb in ("gone", "src"):
            gave_up = jobs.new_id()
            jobs.submit(gave_up, kb, [Incoming("kb.zip", archive, archive.stat().st_size)], {}, kind="import",
                        options=ImportOptions(name=kb).model_dump_json())
            assert DatabaseOriginals(db, kb, scratch=tmp_path, job=gave_up).keep(own, own.name).kept
            jobs.finish(gave_up, "failed", "gave up after 3 attempts (the worker stopped while indexing)")

        # KB "bank" created meanwhile, keeping its own upload and one of the same bytes as the archive's
        job = _run_import(_KBCreatedMeanwhile(db, manager, "bank", [lost, own]), manager, archive, "bank")
        assert job.status == "failed" and "was created while" in job.error, (job.status, job.error)
        mine = {_sha(lost) + ".txt", _sha(own) + ".txt"}
        assert _kept(db, "bank") == dict.fromkeys(mine, "")  # the archive's cards.md copy gone, the KB's kept
        assert _chunks(db, "bank") == mine
        assert _kept(db, "gone") == {} and _sha(own) + ".txt" in _kept(db, "src")

        job = _run_import(JobStore(db), manager, archive, "copy")  # an import that succeeds keeps its uploads
        assert job.status == "done", job.error
        assert _kept(db, "copy") == {_sha(cards) + ".md": "", _sha(lost) + ".txt": ""}
        assert abandoned(db, job.job_id) == 0  # no longer the job's: they are the KB's
    finally:
        db.close()


@pytest.mark.slow  # an export and an import job on PostgreSQL
def test_an_upload_an_import_and_its_kb_both_kept_stays_when_the_import_fails(postgres, tmp_path):  # noqa: F811
    """The import kept it first, then a KB of that name kept the same bytes: the KB's, whatever the import's end."""
    db = _db(postgres, tmp_path)
    try:
        path = tmp_path / "挂失.txt"
        path.write_text(ZH, encoding="utf-8")
        other = tmp_path / "cards.md"
        other.write_text(EN, encoding="utf-8")
        importing = DatabaseOriginals(db, "bank", scratch=tmp_path, job="job_import")
        assert importing.keep(path, "挂失.txt").kept and importing.keep(other, "cards.md").kept
        assert DatabaseOriginals(db, "bank", scratch=tmp_path).keep(path, "挂失.txt").kept  # the KB's own
        assert abandoned(db, "job_import") == 1
        assert _kept(db, "bank") == {_sha(path) + ".txt": ""} and _chunks(db, "bank") == {_sha(path) + ".txt"}
    finally:
        db.close()
