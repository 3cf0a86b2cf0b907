"""A job's writer loses the KB's Redis writer lock mid-file (Redis restarted without its data): the
Milvus store's fence stops the write (indexer.store.milvus.lock), and the file is not failed for it: it
stays pending and the job's next try takes the lock again and indexes it. Real Redis, Milvus Lite,
MiniLM, the SQLite state database and the real job runner; English and Chinese files."""
from __future__ import annotations

import pytest

from api.jobs.indexing import index_upload
from api.jobs.runner import JobRunner
from api.jobs.store import Incoming, JobStore
from api.state.factory import open_database
from cli.testing.redis_server import RedisServer, redis_server_path
from indexer.config import IndexerSettings
from indexer.kbs import KBManager
from indexer.store.milvus.store import MilvusStore

pytest.importorskip("milvus_lite")
pytestmark = pytest.mark.slow  # ~15 s: Milvus Lite, Redis restarted, MiniLM indexing


def test_a_file_whose_writer_lost_the_redis_lock_is_indexed_on_the_next_try(tmp_path, minilm, monkeypatch):
    if not redis_server_path():
        pytest.fail("redis-server is not installed: run `make test` (it installs it) or apt-get install redis-server")
    with RedisServer(tmp_path / "redis") as server:
        monkeypatch.setenv("RAG_REDIS_URL", server.url)  # the Milvus store's writer locks live in Redis
        manager = KBManager(IndexerSettings(home=tmp_path / "home", embed_model="minilm",
                                            store_uri=str(tmp_path / "kb.db")), encoders={"minilm": minilm})
        manager.create("bank").close()
        jobs = JobStore(open_database(None, tmp_path))
        files = []
        for name, text in (("cards.txt", "To report a stolen card call 1-800-555-0199 at any hour."),
                           ("挂失.txt", "银行卡丢失后请立即拨打客服热线挂失。")):
            (tmp_path / name).write_text(text, encoding="utf-8")
            files.append(Incoming(name, tmp_path / name, (tmp_path / name).stat().st_size))
        jobs.submit("job_1", "bank", files, {})

        real, writes = MilvusStore.replace_document, []

        def redis_loses_its_data_first(self, *args, **kwargs):  # as the first document is written
            writes.append(args[0].source)
            if len(writes) == 1:
                server.restart()
            return real(self, *args, **kwargs)

        monkeypatch.setattr(MilvusStore, "replace_document", redis_loses_its_data_first)
        pauses = []
        runner = JobRunner(jobs, lambda kb, name, path, tags: index_upload(manager, kb, name, path, tags),
                           scratch=tmp_path)
        runner.run("job_1", pause=pauses.append)

        job = jobs.get("job_1")
        assert job.status == "done" and job.attempts == 1, job
        assert [(f.filename, f.status) for f in job.files] == [("cards.txt", "indexed"), ("挂失.txt", "indexed")], job
        assert writes == ["cards.txt", "cards.txt", "挂失.txt"] and len(pauses) == 1  # tried again once
        store = manager.open("bank")
        try:
            assert sorted(d.source for d in store.documents()) == ["cards.txt", "挂失.txt"]
        finally:
            store.close()
