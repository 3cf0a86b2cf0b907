"""An upload job reads done only once its after-indexing step (the KB's refusal threshold recalibrated, its
cached answers dropped: Service._changed) has run. Before, the job read done first: a client that waited for the
job and asked at once could get an answer made under the old threshold, and have it cached and then dropped by
the step (tests/api/test_audit_http's cache test failed that way on a loaded machine)."""
from __future__ import annotations

from api.jobs.indexing import index_upload
from api.jobs.runner import JobRunner
from api.jobs.store import Incoming, JobStore
from api.state.migrations import migrate
from api.state.sqlite import SQLiteDatabase


def test_an_upload_job_reads_done_only_after_its_after_indexing_step(manager, tmp_path):
    manager.open("kb", writable=True, create=True).close()
    db = SQLiteDatabase(tmp_path / "service.sqlite")
    migrate(db)
    jobs = JobStore(db)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    incoming = []
    for name, text in {"hours.txt": "Branches open at 9 a.m.\n", "探视.txt": "探视时间为下午2点到8点。\n"}.items():
        (uploads / name).write_text(text, encoding="utf-8")
        incoming.append(Incoming(name, uploads / name, len(text.encode())))
    jobs.submit("job_1", "kb", incoming, {})
    seen = []
    runner = JobRunner(jobs, lambda kb, name, path, tags: index_upload(manager, kb, name, path, tags),
                       on_done=lambda kb: seen.append((kb, jobs.get("job_1").status)), scratch=tmp_path / "scratch")
    runner.run("job_1")
    assert seen == [("kb", "running")]
    assert jobs.get("job_1").status == "done"
    db.close()
