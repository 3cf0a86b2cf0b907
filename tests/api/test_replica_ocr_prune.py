"""An API replica that indexes from the Redis queue keeps OCR caches in its own home, as a `rag worker` does, so it
runs the worker's checks between jobs (api.jobs.ocr_prune): a scan deleted through another replica leaves its
disk too. Only where the state database is not PostgreSQL: in cluster mode the cache is shared in it. tests/cluster/test_ocr_cache_cluster.py follows a worker's checks end to end."""
from __future__ import annotations

import pytest

from api.jobs.ocr_prune import OcrCachePruner
from cli.testing.redis_server import RedisServer, redis_server_path
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)


@pytest.mark.parametrize("indexing", [True, False])
def test_a_replica_indexing_from_the_redis_queue_checks_its_ocr_caches(tmp_path, indexing):
    from api.config import ServiceSettings
    from api.service import Service
    from rag.config import Settings

    if redis_server_path() is None:
        pytest.fail("redis-server is missing: `make test` installs it (apt-get install redis-server)")
    with RedisServer(tmp_path / "redis") as redis:
        svc = Service(Settings.load(indexer={"home": str(tmp_path / "home"), "embed_model": "minilm"}),
                      ServiceSettings(admin_key="k", database_url=None, redis_url=redis.url, indexing=indexing,
                                      ocr_cache_check_s=5))
        try:
            chores = svc.queue.chores
            # a replica that only submits indexes nothing, so caches nothing
            assert isinstance(chores, OcrCachePruner) == indexing
            if indexing:
                assert chores.every_s == 5 and chores.manager is svc.manager
        finally:
            svc.close()


def test_a_replica_with_a_postgresql_state_database_shares_its_ocr_cache_and_checks_no_disk(tmp_path, postgres):  # noqa: F811
    """In cluster mode (RAG_DATABASE_URL a PostgreSQL one) the OCR cache is the state database's
    (api.jobs.ocr_cache): a delete removes the pages at once, so there is no disk of its own to check."""
    from api.config import ServiceSettings
    from api.service import Service
    from rag.config import Settings

    if redis_server_path() is None:
        pytest.fail("redis-server is missing: `make test` installs it (apt-get install redis-server)")
    with RedisServer(tmp_path / "redis") as redis:
        svc = Service(Settings.load(indexer={"home": str(tmp_path / "home"), "embed_model": "minilm"}),
                      ServiceSettings(admin_key="k", database_url=postgres.url, redis_url=redis.url, indexing=True))
        try:
            assert svc.queue.chores is None and svc.manager.settings.ocr_cache_url == postgres.url
        finally:
            svc.close()
