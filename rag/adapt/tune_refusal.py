"""`rag tune refusal`: choose the KB's refusal threshold from answerable vs unanswerable questions
and store it in the KB, so `rag ask` and the service refuse weak evidence without generating.

A threshold stored here is marked "tuned" (refusal.SOURCE_KEY): the automatic calibration that runs
after indexing (`recalibrate`: rag.answering.auto_refusal on the KB's own content) never overwrites it."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.answering.auto_refusal import EVIDENCE_KEY, GENERATION_KEY, AutoCalibration, auto_calibrate, evidence_kind
from rag.answering.refusal import (
    META_KEY,
    SOURCE_KEY,
    TUNED,
    Calibration,
    calibrate,
    evidence_scores,
    threshold_source,
)

log = logging.getLogger("rag.refusal")

# Questions no bank, school or hospital knowledge base answers: the default unanswerable set.
OFF_TOPIC = [
    "Who won the football World Cup in 2010?", "What is the boiling point of mercury?",
    "Write me a poem about the moon.", "What is the capital of Australia?",
    "How many moons does Jupiter have?", "Recommend a good recipe for lasagna.",
    "Who painted the Mona Lisa?", "What is the best way to train a puppy?",
    "Which stocks will go up tomorrow?", "How do I fix a flat bicycle tyre?",
    "2018年世界杯冠军是哪个国家？", "红烧肉怎么做好吃？", "月球离地球有多远？",
    "推荐几部好看的科幻电影。", "明天的天气怎么样？", "如何训练小狗上厕所？",
]


@dataclass
class RefusalReport:
    calibration: Calibration
    answerable: list[float]
    unanswerable: list[float]


def read_questions(path: str | Path) -> list[str]:
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def scores(pipeline, questions: list[str]) -> list[float]:
    """Evidence score of each question, through the same retrieve (+ rerank) path as answering
    (rag.answering.refusal.evidence_scores)."""
    return evidence_scores(pipeline, questions)


def tune_refusal(pipeline, answerable: list[str], unanswerable: list[str] | None = None,
                 store_in_kb: bool = True, min_answered: float | None = 0.9) -> RefusalReport:
    pipeline.retriever.warm_up()
    if pipeline.reranker:
        pipeline.reranker.warm_up()
    a = scores(pipeline, answerable)
    u = scores(pipeline, unanswerable or OFF_TOPIC)
    cal = calibrate(a, u, min_answered)
    if store_in_kb:
        store = pipeline.retriever.store
        store.set_meta(META_KEY, repr(cal.threshold))
        store.set_meta(SOURCE_KEY, TUNED)
        pipeline.refusal_threshold = cal.threshold
    return RefusalReport(cal, a, u)


def index_calibrated(settings, kb: str, manager, paths: list[str]) -> AutoCalibration | None:
    """Index `paths` into `kb` (created if missing) with `manager`'s encoder for it, then calibrate the
    refusal threshold on its content with no reranker: the KB `rag index` leaves (benchmarks and tests
    build theirs with it). The calibration, as `recalibrate` returns it."""
    from indexer.ingest import Ingestor

    store = manager.open(kb, writable=True, create=True)
    try:
        Ingestor(store, manager.encoder(store.embed_model), manager.settings).index_paths(paths, progress=False)
    finally:
        store.close()
    return recalibrate(settings, kb, manager, reranker=None)


def recalibrate(settings, kb: str, manager=None, *, reranker=True, force: bool = False,
                progress: Callable[[str], None] | None = None) -> AutoCalibration | None:
    """After a KB changed (`rag index`, `rag delete`, the service's indexing jobs and deletes): its
    automatic refusal threshold is calibrated again (rag.answering.auto_refusal.auto_calibrate).
    None, with nothing done, when the KB is gone, has a tuned threshold, has too little content to
    calibrate on, or has not changed since its automatic threshold was computed with the same kind of
    evidence (unless `force`; a reranker switched on or off counts as a change).

    `settings`: rag.config.Settings; `manager`: an indexer.kbs.KBManager sharing loaded encoders (the
    service's); `reranker`: as in rag.pipeline.build_pipeline, the one answering uses (True: the
    configured one, built here; None: none; or a loaded one to share). Never raises: a failure is
    logged and leaves the KB's threshold as it was."""
    from indexer.kbs import KBManager, KBNotFound
    from rag.retrieval.hybrid import HybridRetriever

    try:
        manager = manager or KBManager(settings.indexer)
        store = manager.open(kb)
    except (KBNotFound, FileNotFoundError, ValueError):  # deleted (the service calls this after deletes too)
        return None
    except Exception:
        log.warning("could not open %s to calibrate its refusal threshold", kb, exc_info=True)
        return None
    try:
        if threshold_source(store) == TUNED:
            return None
        if reranker is True:
            from rag.rerank.factory import make_reranker

            reranker = make_reranker(settings.rerank)
        if not force and store.get_meta(GENERATION_KEY) == str(store.cache_generation()) \
                and store.get_meta(EVIDENCE_KEY) == evidence_kind(store, reranker):
            return None  # calibrated on this very content, with the same evidence
        if not store.documents():
            return None
        retriever = HybridRetriever.from_store(store, manager, settings.retrieval)
        retriever.warm_up()
        if reranker:
            reranker.warm_up()
        return auto_calibrate(retriever, store, reranker=reranker or None, top_k=settings.answer.top_k,
                              progress=progress)
    except ValueError as e:  # too little content to calibrate on
        log.info("%s: no automatic refusal threshold: %s", kb, e)
        return None
    except Exception:
        log.warning("could not calibrate the refusal threshold of %s", kb, exc_info=True)
        return None
    finally:
        store.close()
