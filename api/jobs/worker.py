"""`rag worker`: an indexing process with no HTTP server. It shares the state database (uploads,
jobs), the store and the queue with the API replicas; nothing it writes to local disk outlives a job."""
from __future__ import annotations

import logging
from pathlib import Path

from api.cache.factory import make_answer_cache
from api.config import ServiceSettings
from api.jobs.adopt_ocr_cache import adopt_local_ocr_caches
from api.jobs.adopt_originals import adopt_local_originals
from api.jobs.factory import make_queue
from api.jobs.importing import Importer
from api.jobs.indexing import index_upload, reread_upload
from api.jobs.ocr_cache import ocr_cache_settings
from api.jobs.ocr_prune import OcrCachePruner
from api.jobs.runner import JobRunner
from api.jobs.store import JobStore
from api.metrics import Metrics
from api.state.factory import open_database
from indexer.ingest import prestart_parsers
from indexer.kbs import KBManager
from rag.adapt.tune_refusal import recalibrate
from rag.config import Settings

log = logging.getLogger("api.worker")


class Worker:
    def __init__(self, settings: Settings, svc: ServiceSettings):
        self.settings = settings
        self.manager = KBManager(ocr_cache_settings(settings.indexer, svc.database_url))
        home = Path(settings.indexer.home)
        self.db = open_database(svc.database_url, home)
        self.jobs = JobStore(self.db)
        self.scratch = home / ".worker"
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.cache = make_answer_cache()
        importer = Importer(self.manager, self.jobs, after=lambda kb, _replaced: self._invalidate(kb))
        self.runner = JobRunner(self.jobs, self._index, Metrics(), self._changed, scratch=self.scratch,
                                import_file=importer.run, reread_file=self._reread, gave_up=importer.gave_up)
        # OCR caches on this worker's disk (the state database not PostgreSQL, so none shared): a document or KB
        # deleted on an API replica leaves them between jobs
        chores = None if self.manager.settings.ocr_cache_url else OcrCachePruner(self.manager, svc.ocr_cache_check_s)
        self.queue = make_queue(svc.redis_url, self.jobs, self.runner, consume=True,
                                claim_idle_s=svc.job_claim_idle_s, heartbeat_s=svc.job_heartbeat_s, chores=chores)

    def _index(self, kb, filename, path, tags):
        return index_upload(self.manager, kb, filename, path, tags, self.db)

    def _reread(self, kb: str, doc_id: str):
        return reread_upload(self.manager, kb, doc_id, self.db)

    def _changed(self, kb: str) -> None:
        recalibrate(self.settings, kb, self.manager)
        self._invalidate(kb)

    def _invalidate(self, kb: str) -> None:
        try:
            self.cache.invalidate(kb)
        except Exception:
            log.warning("could not invalidate the answer cache of %s", kb, exc_info=True)

    def start(self) -> None:
        adopt_local_originals(self.manager, self.db)  # uploads an earlier release kept on this disk
        adopt_local_ocr_caches(self.manager)  # and its OCR caches, into the shared one
        prestart_parsers(self.settings.indexer, 1)  # one file at a time; it warms up while the model loads
        self.manager.encoder().warm_up()
        self.queue.start()

    def stop(self) -> None:
        self.queue.stop()
        self.db.close()
