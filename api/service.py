"""The running service's state: settings, KBs, one pipeline per KB sharing one generator and one
encoder per model, the key store, the job queue, the gate, metrics.

Heavy models load in `warm_up()` (before the server accepts requests), never per request.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from api.audit.purge import RetentionLoop
from api.auth import KeyStore
from api.config import ServiceSettings
from api.experiments import Arm, Experiment, ExperimentStore, apply_overrides
from api.feedback import FeedbackStore
from api.gate import GateMeters, GenerationGate
from api.jobs.adopt_ocr_cache import adopt_local_ocr_caches
from api.jobs.adopt_originals import adopt_local_originals
from api.jobs.factory import make_queue
from api.jobs.handoff import hand_over
from api.jobs.importing import Importer
from api.jobs.indexing import index_upload, reread_upload
from api.jobs.ocr_cache import ocr_cache_settings
from api.jobs.ocr_prune import OcrCachePruner
from api.jobs.reparse import submit_reparse
from api.jobs.runner import FileOutcome, JobRunner
from api.jobs.store import Incoming, JobStore
from api.metrics import Metrics
from api.ratelimit import make_limiter
from api.state.factory import open_database
from api.state.forget import forget_kb
from indexer.ingest import prestart_parsers
from indexer.kbs import KBManager
from rag.adapt.tune_refusal import recalibrate
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
        self.manager = KBManager(ocr_cache_settings(settings.indexer, svc.database_url))
        self.home = Path(settings.indexer.home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.metrics = Metrics()
        self.db = open_database(svc.database_url, self.home)
        self.keys = KeyStore(self.db, svc.admin_key)
        self.uploads = self.home / ".uploads"  # upload bytes in flight to the database; swept at start
        self._redis_probe = None  # redis.Redis for /readyz, made on first use
        sweep_uploads(self.uploads)
        self.jobs = JobStore(self.db)
        self.importer = Importer(self.manager, self.jobs, after=self._imported)
        self.runner = JobRunner(self.jobs, self._index, self.metrics, self._changed, scratch=self.uploads,
                                import_file=self.importer.run, reread_file=self._reread, gave_up=self.importer.gave_up)
        # a replica that indexes from the Redis queue with no shared OCR cache (the state database not PostgreSQL)
        # keeps OCR caches in its own home: a document or KB deleted on another replica leaves them between jobs
        # (api.jobs.ocr_prune)
        local_ocr = not self.manager.settings.ocr_cache_url
        chores = OcrCachePruner(self.manager, svc.ocr_cache_check_s) \
            if svc.indexing and svc.redis_url and local_ocr else None
        self.queue = make_queue(svc.redis_url, self.jobs, self.runner, consume=svc.indexing,
                                claim_idle_s=svc.job_claim_idle_s, heartbeat_s=svc.job_heartbeat_s, chores=chores)
        m = self.metrics
        self.gate = GenerationGate(svc.gen_workers, svc.gen_queue, svc.retry_after_s,
                                   GateMeters(m.queue_depth, m.active, m.rejected))
        self.quote_gate = GenerationGate(svc.quote_workers, svc.quote_queue, svc.retry_after_s,
                                         GateMeters(m.quote_queue_depth, m.quote_active, m.quote_rejected),
                                         what="quoted-answer")
        self.limiter = make_limiter(svc)
        self.generator = make_generator(settings.generation)
        self.reranker = make_reranker(settings.rerank)
        self._pipes: dict[tuple[str, str], object] = {}   # (kb, arm key) -> pipeline
        self._kb_versions: dict[str, int] = {}             # the KB settings version the pipelines were built at
        self._generators: dict[str, object] = {}           # generators of arms whose [generation] differs
        self._rerankers: dict[str, object] = {}
        self.experiments = ExperimentStore(self.db)
        self.feedback = FeedbackStore(self.db, mask_questions=svc.mask_stored_questions)
        self.retention = RetentionLoop(self.db, svc.retention_days)
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.ready = False
        self.cache = None      # set by the app when the answer cache is configured
        self.forget_feed = None  # with it: forgotten users' cached answers dropped (api.cache.forget_feed)
        self.cache_variant = answer_variant(settings)
        self.guard = check_question  # required: imported at module level, so no guard means no service

    # ---- lifecycle -------------------------------------------------------------
    def warm_up(self) -> None:
        if self.svc.warm_up:
            if self.svc.indexing:  # an upload is parsed by one sandboxed process; it warms up meanwhile
                prestart_parsers(self.settings.indexer, 1)
            enc = self.manager.encoder()
            enc.warm_up()
            if self.settings.uses_generator:
                self.generator.warm_up(system_prompt=SYSTEM_PROMPT)
            if self.reranker:
                self.reranker.warm_up()
        adopt_local_originals(self.manager, self.db)  # uploads an earlier release kept on this disk (cluster mode)
        adopt_local_ocr_caches(self.manager)  # and the OCR caches (cluster mode)
        self.queue.start()
        self.retention.start()
        self.ready = True

    def close(self) -> None:
        self.ready = False
        self.retention.stop()
        self.queue.stop()
        with self._lock:
            for pipe in self._pipes.values():
                pipe.close()
            self._pipes.clear()
        if self._redis_probe is not None:
            self._redis_probe.close()
        self.db.close()

    # ---- knowledge bases ---------------------------------------------------------
    def kb_lock(self, kb: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(kb, threading.Lock())

    def kb_settings(self, kb: str) -> tuple[int, Settings]:
        """(version, settings) of a KB: the global settings with the KB's own (promoted) overrides on top."""
        version, overrides = self.experiments.kb_settings(kb)
        try:
            return version, apply_overrides(self.settings, overrides)
        except ValueError:
            log.warning("knowledge base %s has invalid stored settings; using the global ones", kb, exc_info=True)
            return version, self.settings

    def arm_of(self, kb: str, user: str) -> tuple[Experiment | None, Arm | None]:
        """The KB's active experiment and the arm `user` is in (None, None without one)."""
        exp = self.experiments.active(kb)
        return (exp, exp.assign(user)) if exp is not None else (None, None)

    def pipeline(self, kb: str, arm: Arm | None = None, experiment: str = ""):
        """The KB's pipeline (an experiment arm's with `arm`), opened once, refreshed when the KB changed
        and opened again when another KB took its name (raises KBNotFound). Built from the global settings,
        the KB's own settings over them and the arm's overrides over those; rebuilt when the KB's settings
        change (promote, rollback)."""
        from rag.pipeline import build_pipeline

        version, settings = self.kb_settings(kb)
        if arm is not None:
            settings = apply_overrides(settings, arm.overrides)
        key = (kb, f"{experiment}/{arm.name}" if arm is not None else "")
        with self.kb_lock(kb):
            if self._kb_versions.get(kb, version) != version:
                for k in [k for k in self._pipes if k[0] == kb]:
                    self._pipes.pop(k).close()
            self._kb_versions[kb] = version
            held = [k for k in self._pipes if k[0] == kb]
            # deleted by another process, or `rag kb reembed` swapped its copy in: open the name again (with
            # the new KB's embedding model). The oldest pipe tells: any opened after it holds as new a KB
            if held and self._pipes[held[0]].store.replaced():
                for k in held:
                    self._pipes.pop(k).close()
            pipe = self._pipes.get(key)
            if pipe is not None and answer_variant(pipe.settings) != answer_variant(settings):
                self._pipes.pop(key).close()  # an experiment re-created under the same name and arm
                pipe = None
            if pipe is None:
                pipe = build_pipeline(settings, kb, self.manager, generator=self._generator_for(settings),
                                      reranker=self._reranker_for(settings))
                pipe.retriever.warm_up()
                self._pipes[key] = pipe
            else:
                pipe.refresh()  # a pipeline just built has read the KB, its thresholds and synonyms
            return pipe

    def _generator_for(self, settings: Settings):
        """The shared generator when the [generation] section is the global one, else one per distinct section."""
        if settings.generation == self.settings.generation:
            return self.generator
        from rag.generation.factory import make_generator

        h = settings.generation.model_dump_json()
        with self._lock:
            if h not in self._generators:
                self._generators[h] = make_generator(settings.generation)
            return self._generators[h]

    def _reranker_for(self, settings: Settings):
        if settings.rerank == self.settings.rerank:
            return self.reranker
        from rag.rerank.factory import make_reranker

        h = settings.rerank.model_dump_json()
        with self._lock:
            if h not in self._rerankers:
                self._rerankers[h] = make_reranker(settings.rerank)
            return self._rerankers[h]

    def drop(self, kb: str) -> None:
        with self.kb_lock(kb):
            for key in [k for k in self._pipes if k[0] == kb]:
                self._pipes.pop(key).close()

    def delete_kb(self, kb: str) -> None:
        """The KB and everything the state database holds for it go together (api.state.forget: keys,
        chat channels, jobs, answers and votes, experiments, settings, conversations), the state first:
        a delete that fails half-way leaves a KB nobody can reach, never a re-created KB that an old
        key or chat bot reaches. A worker still writing to it is fenced off by the store (its writes
        fail) and finds its job gone."""
        self.drop(kb)
        forget_kb(self.db, kb)
        with self.kb_lock(kb):
            self._kb_versions.pop(kb, None)  # its settings went with it
        if hasattr(self.queue, "forget_kb"):
            self.queue.forget_kb(kb)
        self.manager.delete(kb)
        self._changed(kb)

    def redis_up(self) -> bool:
        """One PING on a client kept for the probe (a readiness probe every few seconds must not open a
        connection pool each time); the client reconnects by itself once Redis is back."""
        try:
            if self._redis_probe is None:
                import redis

                self._redis_probe = redis.Redis.from_url(self.svc.redis_url, socket_timeout=0.5,
                                                         socket_connect_timeout=0.5)
            return bool(self._redis_probe.ping())
        except Exception:
            return False

    def submit(self, job_id: str, kb: str, files: list[Incoming], tags: dict[str, str], kind: str = "upload",
               options: str = "{}") -> None:
        """Write the job with its files' bytes, then hand it to the workers (if the queue cannot take
        it, the job is removed again and the caller gets the error: api.jobs.handoff)."""
        self.jobs.submit(job_id, kb, files, tags, kind, options)
        self._enqueue(job_id, kb)

    def _enqueue(self, job_id: str, kb: str) -> None:
        """Hand a written job to the workers; if the queue cannot take it, the job is removed again (or, where that
        fails too, JobNotWithdrawn: api.jobs.handoff)."""
        hand_over(self.db, self.queue, job_id, kb)
        self.metrics.jobs_pending.set(self.jobs.pending_count())

    def _changed(self, kb: str) -> None:
        """After an upload job or a delete: re-calibrate the KB's automatic refusal threshold (never one set
        by `rag tune refusal`) and drop the KB's cached answers."""
        recalibrate(self.settings, kb, self.manager, reranker=self.reranker)
        self._drop_cached(kb)

    def _imported(self, kb: str, replaced: bool) -> None:
        """After an import job: pipelines that held a KB it replaced go, and its cached answers."""
        if replaced:
            self.drop(kb)
        self._drop_cached(kb)

    def _drop_cached(self, kb: str) -> None:
        if self.cache is not None:
            try:
                self.cache.invalidate(kb)
            except Exception:
                log.warning("could not invalidate the answer cache of %s", kb, exc_info=True)

    # ---- indexing (the job runner calls this, in a worker thread or a `rag worker` process) --------
    def _index(self, kb: str, filename: str, path: Path, tags: dict[str, str]) -> FileOutcome:
        return index_upload(self.manager, kb, filename, path, tags, self.db)

    def _reread(self, kb: str, doc_id: str) -> FileOutcome:
        return reread_upload(self.manager, kb, doc_id, self.db)

    def submit_reparse(self, job_id: str, kb: str, todo: list) -> None:
        """A reparse job (api.jobs.reparse) of documents `todo`, written, then handed to the workers."""
        submit_reparse(self.jobs, job_id, kb, todo)
        self._enqueue(job_id, kb)


def sweep_uploads(folder: Path) -> None:
    """Upload bytes on local disk are only ever in flight (request -> database, database -> indexer):
    whatever is left at start-up belongs to a process that died, and goes."""
    import shutil

    if folder.exists():
        for p in folder.iterdir():
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
