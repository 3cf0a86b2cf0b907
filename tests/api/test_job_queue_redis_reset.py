"""The Redis Streams job queue when Redis loses its data (restarted without persistence, replaced,
flushed) while the database keeps the jobs: a running worker makes its consumer groups again and the
jobs whose entries were lost are queued again, so no accepted upload waits forever. Real Redis, the
SQLite state database, the real indexing of an upload (MiniLM) and the real job runner."""
from __future__ import annotations

import time

import pytest

from api.jobs.indexing import index_upload
from api.jobs.runner import JobRunner
from api.jobs.store import Incoming, JobStore
from api.jobs.streams import StreamQueue
from api.state.factory import open_database
from cli.testing.redis_server import RedisServer, redis_server_path

pytestmark = pytest.mark.slow  # tens of seconds: run with make test-all


@pytest.fixture
def redis_server(tmp_path):
    if not redis_server_path():
        pytest.fail("redis-server is not installed: run `make test` (it installs it) or apt-get install redis-server")
    with RedisServer(tmp_path / "redis") as server:
        yield server


def _submit(jobs: JobStore, tmp_path, name: str, text: str) -> str:
    path = tmp_path / f"incoming-{name}"
    path.write_text(text, encoding="utf-8")
    job_id = jobs.new_id()
    jobs.submit(job_id, "bank", [Incoming(name, path, path.stat().st_size)], {})
    return job_id


def _wait_done(jobs: JobStore, job_id: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.get(job_id)
        if job.status in ("done", "failed"):
            return job.status
        time.sleep(0.1)
    return jobs.get(job_id).status


def test_jobs_survive_redis_losing_its_data_without_restarting_the_worker(manager, redis_server, tmp_path):
    manager.create("bank").close()
    db = open_database(None, tmp_path)
    jobs = JobStore(db)
    runner = JobRunner(jobs, lambda kb, name, path, tags: index_upload(manager, kb, name, path, tags),
                       scratch=tmp_path)
    api = StreamQueue(redis_server.url, jobs, None, consume=False)  # an API replica: it only submits
    worker = StreamQueue(redis_server.url, jobs, runner, consume=True, claim_idle_s=15, heartbeat_s=1, block_s=0.2)
    worker.start()
    try:
        first = _submit(jobs, tmp_path, "cards.txt", "To report a stolen card call 1-800-555-0199 at any hour.")
        api.submit(first, "bank")
        assert _wait_done(jobs, first) == "done"

        # accepted (in the database) but its entry lost with Redis's data; then Redis comes back empty
        lost = _submit(jobs, tmp_path, "挂失.txt", "银行卡丢失后请立即拨打客服热线挂失。")
        # and one a worker had begun (attempt 1) and may still be at: put back, but not taken at once
        held = _submit(jobs, tmp_path, "hours.txt", "Branches open at 9 am on weekdays.")
        assert jobs.start(held)
        redis_server.restart()
        # and a new upload after the restart, through a replica whose consumer group cache is stale
        after = _submit(jobs, tmp_path, "fees.txt", "A wire transfer abroad costs 25 dollars.")
        for _ in range(50):  # the replica's first call may meet the connection Redis closed
            try:
                api.submit(after, "bank")
                break
            except Exception:
                time.sleep(0.1)

        assert _wait_done(jobs, after) == "done", jobs.get(after)
        assert _wait_done(jobs, lost) == "done", jobs.get(lost)
        assert [f.status for f in jobs.get(lost).files] == ["indexed"]
        # the running one is back in the stream, yet untouched until claim_idle_s (15 s) has passed
        assert held in {f[b"job"].decode() for _, f in api.redis.xrange(api.stream("bank"))}
        assert jobs.get(held).attempts == 1 and jobs.get(held).status == "running"
        assert _wait_done(jobs, held) == "done", jobs.get(held)
        assert jobs.get(held).attempts == 2
        store = manager.open("bank")
        try:
            assert sorted(d.source for d in store.documents()) == ["cards.txt", "fees.txt", "hours.txt", "挂失.txt"]
        finally:
            store.close()
        assert jobs.unfinished() == []
    finally:
        worker.stop()
        db.close()
