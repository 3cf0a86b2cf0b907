"""BM25 pseudo-relevance feedback (rag.retrieval.feedback, `retrieval.bm25_feedback`): the weighted BM25
search it runs, the terms it adds, a question it ranks right, and the coverage gate.

tests/data/debian_faq/ holds sections of the Debian FAQ (en and its zh translation, GPL-2+): for each language a
FAQ dev question's gold section and the sections BM25 ranks above it on the whole FAQ."""
import random
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from indexer.ingest import Ingestor
from indexer.store.local.sparse import BM25Index
from indexer.tokenize import tokenize
from rag.config import RetrievalSettings
from rag.retrieval.feedback import FEEDBACK_DOCS, FEEDBACK_TERMS, expanded_query
from rag.retrieval.hybrid import HybridRetriever

FAQ = Path(__file__).resolve().parents[1] / "data" / "debian_faq"
# a question, its gold section: BM25 ranks the gold second on these sections without feedback
QUESTIONS = {"en": ("Which other codenames have been used in the past?", "faq-6.2.1"),
             "zh": ("在“稳定版”中会有软件包的升级吗？", "faq-2.2")}


def _texts(lang: str) -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted((FAQ / lang).glob("*.txt"))]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_weighted_bm25_is_plain_bm25_at_weight_one_and_scales_each_term(lang):
    corpus = [tokenize(t) for t in _texts(lang)]
    ref = BM25Okapi(corpus)
    idx = BM25Index(idf="okapi")
    idx.add(np.arange(len(corpus)), corpus)
    query = tokenize(QUESTIONS[lang][0])
    query = query + query[:1]  # a repeated term counts twice, weighted or not
    assert np.array_equal(idx.score(query, {t: 1.0 for t in query}), idx.score(query))
    rng = random.Random(0)
    weights = {t: rng.uniform(0.05, 2.0) for t in query}
    counts = {t: query.count(t) for t in query}
    expected = sum(weights[t] * counts[t] * ref.get_scores([t]) for t in counts)
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(idx.score(query, weights), expected, rtol=1e-5, atol=1e-9)
    ids, scores = idx.search(query, 3, weights=weights)
    assert list(ids) == list(np.argsort(-expected, kind="stable")[:3])


def _kb(manager, lang: str):
    store = manager.open("faq", writable=True, create=True)
    Ingestor(store, manager.encoder(), manager.settings).index_paths([str(FAQ / lang)], progress=False)
    store.close()
    return manager.open("faq")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_feedback_adds_the_top_documents_terms_and_keeps_the_questions(manager, lang):
    store = _kb(manager, lang)
    tokens = tokenize(QUESTIONS[lang][0])
    sparse = store.search_sparse(tokens, 20)
    assert store.search_sparse(tokens, 20, weights={t: 1.0 for t in tokens}) == sparse
    query = expanded_query(store, tokens, sparse, 0.3)
    top_docs = list(dict.fromkeys(rec.doc_id for rec, _ in sparse))[:FEEDBACK_DOCS]
    top_words = {w for d in top_docs for chunk in store.doc_chunks(d) for w in tokenize(chunk.text)}
    known = store.known_terms(tokens)
    store.close()
    own = {t: w for t, w in query.weights.items() if t in tokens}
    added = {t: w for t, w in query.weights.items() if t not in tokens}
    assert set(own) == set(known) and sum(own.values()) == pytest.approx(0.7)
    assert len(added) == FEEDBACK_TERMS and sum(added.values()) == pytest.approx(0.3)
    assert set(added) <= top_words
    assert all(w > 0 for w in query.weights.values())


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_answer_in_other_words_ranks_first_on_bm25_with_feedback_only(manager, lang):
    question, gold = QUESTIONS[lang]
    store = _kb(manager, lang)

    def first(feedback: float) -> str:
        r = HybridRetriever(store, manager.encoder(), RetrievalSettings(per="document", bm25_feedback=feedback))
        return Path(r.run(question, 5, mode="bm25")[0].source).stem

    try:
        assert first(0.0) != gold
        assert first(0.3) == gold
    finally:
        store.close()


def test_a_chinese_question_on_english_documents_gets_no_feedback(manager):
    store = _kb(manager, "en")
    question = "以前的 Debian 版本用过哪些代号？"
    tokens = tokenize(question)
    sparse = store.search_sparse(tokens, 20)
    assert sparse and store.term_coverage(tokens) < 0.5  # a BM25 hit ("debian"), most words unknown
    assert expanded_query(store, tokens, sparse, 0.3) is None

    def ranked(feedback: float) -> list[tuple[str, float]]:
        r = HybridRetriever(store, manager.encoder(), RetrievalSettings(bm25_feedback=feedback))
        return [(h.chunk_id, h.score) for h in r.run(question, 5)]

    try:
        assert ranked(0.3) == ranked(0.0)
    finally:
        store.close()
