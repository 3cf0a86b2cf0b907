"""A job the Redis queue refuses while PostgreSQL is away too (api.jobs.handoff). The job is written, then handed to
the queue; a refused job is removed again and the client told nothing was kept. Where that removal failed as well,
the client was still told "nothing was kept" (503 queue_unavailable) while the job stayed queued in the database:
with Redis keeping its data (the queue's marker there) no worker ever ran it, and an import's name stayed reserved;
with Redis losing its data, requeue_lost ran it behind the client's back. Now the client gets 503 job_not_withdrawn
naming both servers and the job (GET /v1/jobs/ID tells whether it was kept), and a worker queues such a job again
once it has found it in no stream on two looks (StreamQueue.requeue_unqueued): it runs, the upload is not lost.

Real PostgreSQL (stopped and started again on its data), real Redis reached by the submitting replica through a TCP
relay that is cut (Redis away for it only), the real job runner and indexing (MiniLM); English and Chinese files."""
from __future__ import annotations

import pytest

from api.jobs.handoff import JobNotWithdrawn, hand_over
from api.jobs.indexing import index_upload
from api.jobs.runner import JobRunner
from api.jobs.store import JobStore
from api.jobs.streams import StreamQueue
from api.state.factory import open_database
from api.upload import queue_error
from cli.testing.postgres_server import PostgresServer
from tests.api.test_job_queue_redis_reset import _submit, _wait_done, redis_server  # noqa: F401  (its fixture)
from tests.tcp_relay import Relay

pytestmark = [pytest.mark.slow]  # ~30 s: PostgreSQL started twice, uploads indexed


def test_a_refused_job_the_database_could_not_withdraw_is_named_to_the_client_and_runs(manager, redis_server,  # noqa: F811
                                                                                        tmp_path):
    manager.create("bank").close()
    relay = Relay(redis_server.port)
    with PostgresServer() as pg:
        api_db, worker_db = open_database(pg.url, tmp_path / "api"), open_database(pg.url, tmp_path / "worker")
        api_jobs, worker_jobs = JobStore(api_db), JobStore(worker_db)
        runner = JobRunner(worker_jobs, lambda kb, name, path, tags: index_upload(manager, kb, name, path, tags),
                           scratch=tmp_path)
        worker = StreamQueue(redis_server.url, worker_jobs, runner, consume=True, claim_idle_s=15, heartbeat_s=1,
                             block_s=0.2, unqueued_after_s=0.5)
        worker.start()
        try:
            first = _submit(api_jobs, tmp_path, "cards.txt", "To report a stolen card call 1-800-555-0199 at any hour.")
            hand_over(api_db, worker, first, "bank")
            assert _wait_done(api_jobs, first) == "done"  # the queue works, its marker is set (Redis keeps its data)

            # Redis refuses, the database removes the job: the queue's error, and nothing kept
            relay.up = False
            replica = StreamQueue(relay.url(redis_server.url, redis_server.port), api_jobs, None, consume=False)
            refused = _submit(api_jobs, tmp_path, "hours.txt", "Branches open at 9 am on weekdays.")
            with pytest.raises(Exception) as e:
                hand_over(api_db, replica, refused, "bank")
            assert type(e.value).__module__.startswith("redis") and api_jobs.get(refused) is None
            assert "nothing was kept" in queue_error(e.value).message

            # Redis refuses and PostgreSQL is gone before the job can be removed
            kept = _submit(api_jobs, tmp_path, "挂失.txt", "银行卡丢失后请立即拨打客服热线 400-800-1234 挂失。")
            pg.stop()
            with pytest.raises(JobNotWithdrawn) as e:
                hand_over(api_db, replica, kept, "bank")
            told = queue_error(e.value)
            assert (told.status, told.code) == (503, "job_not_withdrawn")
            assert kept in told.message and "Redis" in told.message and "PostgreSQL" in told.message
            assert "nothing was kept" not in told.message and f"GET /v1/jobs/{kept}" in told.message

            pg.start()  # back with the job; Redis kept its data all along: requeue_lost has nothing to do
            assert api_jobs.get(kept).status == "queued"
            assert _wait_done(api_jobs, kept) == "done", api_jobs.get(kept)
            assert [f.status for f in api_jobs.get(kept).files] == ["indexed"]
            store = manager.open("bank")
            try:
                assert sorted(d.source for d in store.documents()) == ["cards.txt", "挂失.txt"]
            finally:
                store.close()
            assert api_jobs.unfinished() == []
        finally:
            worker.stop()
            relay.close()
            api_db.close()
            worker_db.close()


def test_a_job_written_a_moment_ago_is_not_queued_twice(redis_server, tmp_path):  # noqa: F811
    """The first look that finds a queued job in no stream only notes it: its request may be adding it right now."""
    with PostgresServer() as pg:
        db = open_database(pg.url, tmp_path)
        try:
            jobs = JobStore(db)
            queue = StreamQueue(redis_server.url, jobs, None, consume=False, unqueued_after_s=0.01)
            job = _submit(jobs, tmp_path, "fees.txt", "A wire transfer abroad costs 25 dollars. 境外汇款手续费25美元。")
            queue._next_look = 0
            assert queue.requeue_unqueued() == 0  # noted
            queue.submit(job, "bank")  # its request adds it
            queue._next_look = 0
            queue.redis.delete("rag:unqueued-look")
            assert queue.requeue_unqueued() == 0
            assert [f[b"job"].decode() for _, f in queue.redis.xrange(queue.stream("bank"))] == [job]
        finally:
            db.close()
