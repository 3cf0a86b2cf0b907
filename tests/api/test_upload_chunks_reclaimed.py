"""The space of uploaded bytes is reclaimed as jobs finish on PostgreSQL (api.jobs.store.JobStore.reclaim). Every
uploaded byte is written to upload_chunks and deleted once its file is done; PostgreSQL keeps deleted rows' versions
until VACUUM, so where autovacuum is off (or lags behind a stream of uploads) the table grew by each upload's size
without bound (8 jobs of 2 MB: 17 MB). Now each finished job vacuums it, and it stays near the size of the
unfinished jobs' bytes.

Real PostgreSQL with autovacuum off for the table, the real job runner and indexer (files it cannot read fail fast:
the bytes pass through the table all the same)."""
from __future__ import annotations

import os

import pytest

from api.jobs.indexing import index_upload
from api.jobs.runner import JobRunner
from api.jobs.store import Incoming, JobStore
from api.state.factory import open_database
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)

JOBS, MB = 8, 2


@pytest.mark.slow  # ~14 s: eight upload jobs on PostgreSQL
def test_the_bytes_of_finished_upload_jobs_do_not_stay_in_postgresql(manager, postgres, tmp_path):  # noqa: F811
    db = open_database(postgres.url, tmp_path)
    try:
        db.execute("DELETE FROM jobs")
        # autovacuum off, as some managed servers run, or one that lags behind the uploads
        db.execute("ALTER TABLE upload_chunks SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)")
        manager.open("bank", writable=True, create=True).close()
        scan = tmp_path / "scan.bin"
        scan.write_bytes(os.urandom(MB << 20))
        jobs = JobStore(db)
        runner = JobRunner(jobs, lambda kb, name, path, tags: index_upload(manager, kb, name, path, tags, db),
                           scratch=tmp_path)
        for _ in range(JOBS):
            job_id = jobs.new_id()
            jobs.submit(job_id, "bank", [Incoming(scan.name, scan, scan.stat().st_size)], {})
            runner.run(job_id)
            assert jobs.get(job_id).status == "done"
        size = db.one("SELECT pg_total_relation_size('upload_chunks') AS n")["n"]
        assert size < MB << 20, f"upload_chunks holds {size / 2**20:.1f} MB after {JOBS} finished jobs of {MB} MB"
    finally:
        db.execute("ALTER TABLE upload_chunks RESET (autovacuum_enabled, toast.autovacuum_enabled)")
        db.close()
