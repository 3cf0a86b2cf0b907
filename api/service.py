"""The running service's state: settings, KBs, one pipeline per KB sharing one generator and one
encoder per model, the key store, the job queue, the gate, metrics.

Heavy models load in `warm_up()` (before the server accepts requests), never per request.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from api.auth import KeyStore
from api.config import ServiceSettings
from api.db import ServiceDB
from api.gate import GenerationGate
from api.jobs import JobQueue
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from indexer.kbs import KBManager
from rag.config import Settings
from rag.generation.prompt import SYSTEM_PROMPT
from rag.guard.input_guard import check_question

log = logging.getLogger("api.service")


def answer_variant(settings: Settings) -> str:
    """A short hash of every setting an answer depends on (retrieval, reranking, generation, answer
    mode): a shared (Redis) answer cache never serves an answer made under another configuration,
    e.g. after the generator or [answer] mode changed and the service restarted."""
    import hashlib
    import json

    from rag.generation.config import GenerationSettings

    skip = {"generation": set(GenerationSettings.TRANSPORT_FIELDS)}
    parts = {name: getattr(settings, name).model_dump(mode="json", exclude=skip.get(name))
             for name in ("retrieval", "rerank", "generation", "answer")}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


class Service:
    def __init__(self, settings: Settings, svc: ServiceSettings):
        from rag.generation.factory import make_generator
        from rag.rerank.factory import make_reranker

        self.settings, self.svc = settings, svc
        self.manager = KBManager(settings.indexer)
        self.home = Path(settings.indexer.home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.metrics = Metrics()
        self.db = ServiceDB(self.home / "service.sqlite")
        self.keys = KeyStore(self.db, svc.admin_key)
        self.jobs = JobQueue(self.db, self.home / ".uploads", self.metrics, self._index, self._changed)
        self.gate = GenerationGate(svc.gen_workers, svc.gen_queue, svc.retry_after_s, self.metrics)
        self.limiter = RateLimiter(svc.rate_limit)
        self.generator = make_generator(settings.generation)
        self.reranker = make_reranker(settings.rerank)
        self._pipes: dict[str, object] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.ready = False
        self.cache = None      # set by the app when the answer cache is configured
        self.cache_variant = answer_variant(settings)
        self.guard = check_question  # required: imported at module level, so no guard means no service

    # ---- lifecycle -------------------------------------------------------------
    def warm_up(self) -> None:
        if self.svc.warm_up:
            enc = self.manager.encoder()
            enc.warm_up()
            if self.settings.answer.uses_generator:
                self.generator.warm_up(system_prompt=SYSTEM_PROMPT)
            if self.reranker:
                self.reranker.warm_up()
        self.jobs.start()
        self.ready = True

    def close(self) -> None:
        self.ready = False
        self.jobs.stop()
        with self._lock:
            for pipe in self._pipes.values():
                pipe.close()
            self._pipes.clear()
        self.db.close()

    # ---- knowledge bases ---------------------------------------------------------
    def kb_lock(self, kb: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(kb, threading.Lock())

    def pipeline(self, kb: str):
        """The KB's pipeline, opened once and refreshed when the KB changed (raises KBNotFound)."""
        from rag.pipeline import build_pipeline

        with self.kb_lock(kb):
            pipe = self._pipes.get(kb)
            if pipe is None:
                pipe = build_pipeline(self.settings, kb, self.manager, generator=self.generator,
                                      reranker=self.reranker)
                pipe.retriever.warm_up()
                self._pipes[kb] = pipe
            pipe.refresh()
            return pipe

    def drop(self, kb: str) -> None:
        with self.kb_lock(kb):
            pipe = self._pipes.pop(kb, None)
            if pipe is not None:
                pipe.close()

    def delete_kb(self, kb: str) -> None:
        self.drop(kb)
        self.manager.delete(kb)
        self.keys.revoke_kb(kb)
        self._changed(kb)

    def _changed(self, kb: str) -> None:
        """After an upload job or a delete: drop the KB's cached answers."""
        if self.cache is not None:
            try:
                self.cache.invalidate(kb)
            except Exception:
                log.warning("could not invalidate the answer cache of %s", kb, exc_info=True)

    # ---- indexing (job worker thread) ------------------------------------------
    def _index(self, kb: str, files: list[tuple[str, Path]], tags: dict[str, str]) -> list:
        import hashlib

        from indexer.ingest import Ingestor

        store = self.manager.open(kb, writable=True)
        try:
            items = [(name, path, "u" + hashlib.sha1(f"{kb}/{name}".encode()).hexdigest()[:15])
                     for name, path in files]
            report = Ingestor(store, self.manager.encoder(store.embed_model), self.manager.settings) \
                .index_files(items, tags, progress=False)
            return report.results
        finally:
            store.close()
