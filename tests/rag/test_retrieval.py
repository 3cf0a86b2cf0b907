"""Hybrid retrieval, document-level results, HNSW, config precedence, LangChain adapter."""
import numpy as np
import pytest

from indexer.config import IndexerSettings
from indexer.store.local.dense import DenseIndex
from rag.config import RetrievalSettings, Settings
from rag.integrations.langchain import KBRetriever
from rag.retrieval.hybrid import HybridRetriever


def test_hybrid_fuses_both_retrievers(manager, sample_copy):
    store = manager.open("t")
    hits = HybridRetriever(store, manager.encoder()).run("wire transfer cut-off time", 5)
    store.close()
    assert "wire_transfers" in hits[0].source
    assert {"dense", "bm25"} <= set(hits[0].scores)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_per_document_collapses_chunks(manager, sample_copy):
    store = manager.open("t")
    r = HybridRetriever(store, manager.encoder(), RetrievalSettings(per="document"))
    hits = r.run("lost card", 10)
    store.close()
    assert len({h.doc_id for h in hits}) == len(hits) == 5


def test_hnsw_recall_against_exact():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 32)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(10, 3010)
    flat, hnsw = DenseIndex(32, "flat"), DenseIndex(32, "hnsw", ef_search=128)
    flat.add(ids, x)
    hnsw.add(ids, x)
    q = x[:50] + 0.1 * rng.normal(size=(50, 32)).astype("float32")
    exact, _ = flat.search(q, 10)
    approx, _ = hnsw.search(q, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall >= 0.95
    hnsw.remove(ids[:100])
    got, _ = hnsw.search(x[:5], 10)
    assert not set(got.ravel()) & set(ids[:100])
    allowed = ids[500:510]
    got, _ = hnsw.search(x[:1], 10, allowed)
    assert set(got.ravel()) == set(allowed)  # a narrow filter still returns every allowed hit


def test_config_precedence(tmp_path, monkeypatch):
    cfg = tmp_path / "rag.toml"
    cfg.write_text('[indexer]\nembed_model = "e5"\nmax_file_mb = 5\n[indexer.chunk]\nmax_tokens = 111\n'
                   '[retrieval]\nfusion = "dbsf"\ncandidates = 7\n')
    s = Settings.load(cfg)
    assert s.indexer.embed_model == "e5" and s.indexer.chunk.max_tokens == 111 and s.retrieval.fusion == "dbsf"
    monkeypatch.setenv("RAG_MAX_FILE_MB", "9")
    monkeypatch.setenv("RAG_RETRIEVAL_CANDIDATES", "9")
    s = Settings.load(cfg)
    assert s.indexer.max_file_mb == 9 and s.retrieval.candidates == 9 and s.indexer.embed_model == "e5"
    s = Settings.load(cfg, indexer={"max_file_mb": 1.5, "home": None}, retrieval={"candidates": 3})
    assert s.indexer.max_file_mb == 1.5 and s.retrieval.candidates == 3
    assert IndexerSettings().embed_model == "e5+minilm"
    with pytest.raises(Exception):
        Settings.load(cfg, retrieval={"fusion": "nonsense"})


def test_langchain_retriever(manager, sample_copy):
    store = manager.open("t")
    lc = KBRetriever(hybrid=HybridRetriever(store, manager.encoder()), k=3)
    docs = lc.invoke("How much does a wire transfer cost?")
    store.close()
    assert len(docs) == 3 and docs[0].metadata["source"].endswith("wire_transfers_en.html")
    assert docs[0].metadata["chunk_id"] and docs[0].page_content
