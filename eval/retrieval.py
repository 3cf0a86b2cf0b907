"""`rag eval retrieval`: index a BEIR corpus into a KB (reusing what it already holds),
run every query, and report nDCG@10, Recall@k, MRR@10 and latency."""
from __future__ import annotations

import time

import numpy as np
from tqdm import tqdm

from eval.beir import BeirDataset
from eval.stats import percentile_ms
from indexer.ingest import Ingestor
from indexer.kbs import KBManager
from indexer.types import Element
from rag.config import Settings
from rag.metrics import per_query
from rag.retrieval.hybrid import HybridRetriever

SOURCE_PREFIX = "beir:"  # a corpus document's source: beir:FOLDER/ID


class ForeignDocuments(ValueError):
    """The KB holds documents that are not the corpus's: the corpus is never indexed into it."""


def foreign_documents(ds: BeirDataset, store) -> list:
    """The KB's documents that are not documents of this corpus (indexed by `index_corpus`: a corpus id
    and a beir: source). A KB holding a copy of the corpus from another folder (zh2en: the English
    corpus with Chinese questions) holds none."""
    return [d for d in store.documents() if not (d.source.startswith(SOURCE_PREFIX) and d.doc_id in ds.corpus)]


def check_corpus_kb(ds: BeirDataset, mgr: KBManager, kb: str) -> None:
    """Raise ForeignDocuments when the KB exists and holds documents other than the corpus's (the user's
    own documents, another benchmark's): measuring it would mix the corpus into them."""
    if not mgr.exists(kb):
        return
    store = mgr.open(kb)
    try:
        foreign = foreign_documents(ds, store)
        total = len(store.documents()) if foreign else 0
    finally:
        store.close()
    if foreign:
        raise ForeignDocuments(
            f"knowledge base {kb!r} holds documents that are not in {ds.root}'s corpus ({len(foreign)} of its "
            f"{total}, e.g. {foreign[0].source}): the benchmark corpus is never indexed into a KB with other "
            f"documents. Name a KB of its own with --kb (a new name is created and indexed; one that holds "
            f"exactly this corpus is reused), or delete {kb!r} first if it is a benchmark KB you no longer need")


def index_corpus(ds: BeirDataset, mgr: KBManager, kb: str, embed_model: str | None = None,
                 progress: bool = True) -> int:
    """Index the corpus with doc ids = corpus _ids; unchanged documents are skipped. Returns docs written.
    Raises ForeignDocuments (and writes nothing) when the KB holds documents that are not the corpus's."""
    check_corpus_kb(ds, mgr, kb)
    store = mgr.open(kb, writable=True, create=True, embed_model=embed_model)
    try:
        docs = [(did, f"{SOURCE_PREFIX}{ds.root.name}/{did}", [Element(text, "text", title)])
                for did, (title, text) in ds.corpus.items() if text.strip()]
        report = Ingestor(store, mgr.encoder(store.embed_model), mgr.settings).index_elements(docs, progress=progress)
        return report.count("indexed") + report.count("updated")
    finally:
        store.close()


def evaluate(ds: BeirDataset, settings: Settings, kb: str, mode: str | None = None, k: int = 10,
             progress: bool = True, mgr: KBManager | None = None) -> dict:
    """mode: hybrid | dense | bm25, or 'rerank' = hybrid followed by the configured cross-encoder."""
    mgr = mgr or KBManager(settings.indexer)
    store = mgr.open(kb)
    reranker = None
    if mode == "rerank":
        from rag.rerank.factory import make_reranker

        reranker = make_reranker(settings.rerank)
        if reranker is None:
            raise ValueError("mode 'rerank' needs a reranker: set RAG_RERANK_MODEL or [rerank] model "
                             "(train one with `rag tune reranker`)")
        reranker.warm_up()
        retrieval = settings.retrieval.model_copy(update={"per": "chunk", "mode": "hybrid"})
    else:
        retrieval = replace_settings(settings, mode)
    retriever = HybridRetriever.from_store(store, mgr, retrieval)
    retriever.warm_up()
    retriever.run("warm up", k)
    rows, latencies = [], []
    for qid, text in tqdm(ds.queries.items(), desc=f"queries ({mode or retrieval.mode})", disable=not progress):
        t0 = time.perf_counter()
        if reranker:
            hits = reranker.run(text, retriever.run(text, reranker.top_n), reranker.top_n)
        else:
            hits = retriever.run(text, k)
        latencies.append(time.perf_counter() - t0)
        ranked = list(dict.fromkeys(h.doc_id for h in hits))[:k]  # documents, best chunk first
        rows.append({"query_id": qid, **per_query(ranked, ds.qrels[qid]), "top": ranked[:3]})
    store.close()
    metrics = {m: float(np.mean([r[m] for r in rows])) for m in ("ndcg@10", "recall@1", "recall@5", "recall@10", "mrr@10")}
    return {"mode": mode or retrieval.mode, "fusion": retrieval.fusion, "queries": len(rows), **metrics,
            "latency_p50_ms": percentile_ms(latencies, 50), "latency_p95_ms": percentile_ms(latencies, 95),
            "embed_model": store.embed_model, "context_window": store.context_window,
            "bm25_weight": retrieval.bm25_weight, "per_query": rows}


def replace_settings(settings: Settings, mode: str | None):
    r = settings.retrieval.model_copy(update={"per": "document"})
    return r.model_copy(update={"mode": mode}) if mode else r
