"""An import job whose state database went away after its KB took the name (cluster mode) ends done, its KB keeping
the archive's uploads. The runner tries the job's step again in the same attempt once the server is back; that run
took the job as new, so it found its own KB in the way: the job failed with kb_exists over the KB it had just
imported, and the failure removed the uploads it had kept for that KB (still marked as the job's: the server went
away before the job recorded that the KB took them).

The outage is real: PostgreSQL ends the job's connection (pg_terminate_backend) right before the statement that
records the KB taking its uploads, the first one after the KB took its name. Real PostgreSQL, the real job runner
and importer, the local store, real parsers and MiniLM; English and Chinese uploads."""
from __future__ import annotations

import psycopg
import pytest

from api.jobs.importing import Importer, ImportOptions
from api.jobs.indexing import index_upload
from api.jobs.runner import FileOutcome, JobRunner
from api.jobs.store import Incoming, JobStore
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_import_kept_cleanup import _chunks, _db, _kept, export_with_kept
from tests.api.test_kept_uploads import _sha
from tests.kb_sources import kb_sources
from tests.lost_cards import write_files

TAKEN = "DELETE FROM kept_upload_jobs WHERE job"  # api.state.kept_uploads.taken
PROGRESS = "UPDATE jobs SET progress"  # api.jobs.store.JobStore.set_progress, as the import writes its chunks


def _server_ends_the_connection_before_taken(db, url: str, statement: str = TAKEN) -> list[str]:
    """Make PostgreSQL end `db`'s connection of the calling thread right before its first `statement` (as a
    restart or failover would); the list records each statement so interrupted."""
    cut: list[str] = []
    execute = db.execute

    def execute_after_cut(sql, args=()):
        if sql.startswith(statement) and not cut and (statement != PROGRESS or '"importing"' in str(args)):
            cut.append(sql)
            pid = db._conn().info.backend_pid
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return execute(sql, args)

    db.execute = execute_after_cut
    return cut


def _submit(jobs: JobStore, archive, kb: str, replace: bool = False) -> str:
    job_id = jobs.new_id()
    jobs.submit(job_id, kb, [Incoming("kb.zip", archive, archive.stat().st_size)], {}, kind="import",
                options=ImportOptions(name=kb, replace=replace).model_dump_json())
    return job_id


def _run(jobs: JobStore, manager, job_id: str, tmp_path) -> None:
    runner = JobRunner(jobs, lambda *a: FileOutcome("failed", reason="uploads are not indexed here"),
                       import_file=Importer(manager, jobs).run, scratch=tmp_path)
    runner.run(job_id, pause=lambda _s: None)  # the server is back at once: the step is tried again



def _exported_source(manager, db, tmp_path):
    """(the documents, the archive) of KB "src", holding an English and a Chinese upload kept in the database."""
    manager.settings.parse_isolation = False
    docs = write_files(tmp_path / "docs")
    manager.open("src", writable=True, create=True).close()
    for name in ("cards.md", "挂失.txt"):
        assert index_upload(manager, "src", name, docs / name, {}, db).status == "indexed"
    return docs, export_with_kept(manager, db, "src", tmp_path / "src.zip")


@pytest.mark.slow  # ~15 s: a KB indexed, exported and imported by a job on PostgreSQL
def test_an_import_whose_database_went_away_after_its_kb_took_the_name_ends_done_keeping_its_uploads(
        manager, postgres, tmp_path):  # noqa: F811
    db = _db(postgres, tmp_path)
    try:
        docs, archive = _exported_source(manager, db, tmp_path)
        cut = _server_ends_the_connection_before_taken(db, postgres.url)

        jobs = JobStore(db)
        job_id = _submit(jobs, archive, "copy")
        _run(jobs, manager, job_id, tmp_path)

        assert cut, "the connection was never ended: the test did not reach the window it is about"
        job = jobs.get(job_id)
        assert (job.status, job.error) == ("done", ""), (job.status, job.error)
        assert manager.exists("copy")
        kept = {_sha(docs / "cards.md") + ".md", _sha(docs / "挂失.txt") + ".txt"}
        assert _kept(db, "copy") == dict.fromkeys(kept, "")  # the KB's, no longer marked as the job's
        assert _chunks(db, "copy") == kept
    finally:
        db.close()


@pytest.mark.slow  # ~20 s: a KB indexed, exported, imported twice by jobs on PostgreSQL
def test_a_replacing_import_of_the_same_archive_tried_again_after_an_outage_replaces_the_kb(
        manager, postgres, tmp_path):  # noqa: F811
    """Restoring a KB from the archive it was first imported from, after changes: a run of the job tried again after
    the server went away (before the swap) found the KB marked as a complete import of this archive and reported the
    job done, writing nothing: the KB kept the changes it was to lose."""
    db = _db(postgres, tmp_path)
    try:
        docs, archive = _exported_source(manager, db, tmp_path)
        jobs = JobStore(db)
        first = _submit(jobs, archive, "bank")
        _run(jobs, manager, first, tmp_path)
        assert jobs.get(first).status == "done", jobs.get(first).error
        (docs / "新规定.txt").write_text("自下月起，挂失手续费调整为10元。Lost card fees change next month.\n",
                                         encoding="utf-8")
        assert index_upload(manager, "bank", "新规定.txt", docs / "新规定.txt", {}, db).status == "indexed"

        cut = _server_ends_the_connection_before_taken(db, postgres.url, PROGRESS)
        again = _submit(jobs, archive, "bank", replace=True)
        _run(jobs, manager, again, tmp_path)
        assert cut, "the connection was never ended: the test did not reach the window it is about"
        job = jobs.get(again)
        assert (job.status, job.error) == ("done", ""), (job.status, job.error)
        assert kb_sources(manager, "bank") == {"cards.md", "挂失.txt"}  # the archive's, the later upload gone
        assert set(_kept(db, "bank")) == {_sha(docs / "cards.md") + ".md", _sha(docs / "挂失.txt") + ".txt"}
    finally:
        db.close()
