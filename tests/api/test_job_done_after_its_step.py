"""An upload job reads done only once its after-indexing step (the KB's refusal threshold recalibrated, its
cached answers dropped: Service._changed) has run. Before, the job read done first: a client that waited for the
job and asked at once could get an answer made under the old threshold, and have it cached and then dropped by
the step (tests/api/test_audit_http's cache test failed that way on a loaded machine)."""
from __future__ import annotations

from api.jobs.indexing import index_upload
from api.jobs.runner import JobRunner
from tests.api.test_job_waits_for_space import _submitted


def test_an_upload_job_reads_done_only_after_its_after_indexing_step(manager, tmp_path):
    manager.open("kb", writable=True, create=True).close()
    db, jobs = _submitted(tmp_path, {"hours.txt": "Branches open at 9 a.m.\n", "探视.txt": "探视时间为下午2点到8点。\n"})
    seen = []
    runner = JobRunner(jobs, lambda kb, name, path, tags: index_upload(manager, kb, name, path, tags),
                       on_done=lambda kb: seen.append((kb, jobs.get("job_1").status)), scratch=tmp_path / "scratch")
    runner.run("job_1")
    assert seen == [("kb", "running")]
    assert jobs.get("job_1").status == "done"
    db.close()
