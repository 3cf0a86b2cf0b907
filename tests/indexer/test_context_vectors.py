"""Context-aware chunk vectors (indexer.embed.context): real MiniLM / e5, real FAISS."""
import numpy as np
import pytest

from indexer.config import ChunkSettings, IndexerSettings
from indexer.embed.context import mix, vector_key, window_texts
from indexer.ingest import Ingestor, embed_text
from indexer.kbs import KBManager
from indexer.store.local.catalog import text_hash
from indexer.types import Element

EN_DOC = ("Overseas wire transfers are sent through the SWIFT network from any branch or the mobile app. "
          "You need the recipient's IBAN and the bank's BIC code. "
          "They usually arrive within three business days. "
          "The fee is 25 dollars, charged when the order is placed.")
ZH_DOC = ("境外电汇通过SWIFT网络办理，可在任一网点或手机银行提交。需要提供收款人的账号和收款银行的代码。"
          "一般三个工作日内到账。手续费为每笔二十五元，在提交时收取。")


def test_window_texts():
    assert window_texts(["only chunk"], 1) == [None]  # a one-chunk document is its own window
    assert window_texts(["a", "b", "c"], 0) == [None, None, None]
    assert window_texts(["a", "b", "c", "d"], 1) == ["a\nb", "a\nb\nc", "b\nc\nd", "c\nd"]
    assert window_texts(["一", "二", "三"], 2) == ["一\n二\n三"] * 3
    assert vector_key("t", None) == "t" and vector_key("t", "w") != vector_key("t", None)


def _kb(tmp_path, encoder, name, window, max_tokens):
    settings = IndexerSettings(home=tmp_path / "home", embed_model="test", context_window=window,
                               chunk=ChunkSettings(max_tokens=max_tokens, overlap_tokens=0))
    mgr = KBManager(settings, encoders={"test": encoder})
    store = mgr.open(name, writable=True, create=True)
    return mgr, store


def _index(mgr, store, encoder, docs):
    Ingestor(store, encoder, mgr.settings).index_elements(
        [(doc_id, doc_id, [Element(text, "text", "")]) for doc_id, text in docs], progress=False)


def _stored(store, doc_id):
    """(chunk texts, stored vectors) of a document, through the store's vector cache."""
    chunks = store.doc_chunks(doc_id)
    texts = [embed_text(c) for c in chunks]
    keys = [text_hash(vector_key(t, w)) for t, w in zip(texts, window_texts(texts, store.context_window))]
    got = store.cached_vectors(keys)
    return texts, np.vstack([got[k] for k in keys])


@pytest.fixture(scope="module")
def e5():
    from indexer.embed.factory import make_encoder

    enc = make_encoder("e5")
    enc.warm_up()
    return enc


@pytest.mark.parametrize("lang,window", [("en", 0), ("en", 1), ("zh", 1)])
def test_stored_vectors_mix_chunk_and_window(tmp_path, minilm, e5, lang, window):
    encoder, doc, short = (minilm, EN_DOC, "Branches open at nine.") if lang == "en" else (e5, ZH_DOC, "网点九点开门。")
    mgr, store = _kb(tmp_path, encoder, "kb", window, max_tokens=20)
    _index(mgr, store, encoder, [("wire", doc), ("short", short)])
    texts, vecs = _stored(store, "wire")
    assert len(texts) >= 3
    own = encoder.encode_passages(texts)
    expected = own if window == 0 else mix(own, encoder.encode_passages(window_texts(texts, 1)))
    np.testing.assert_allclose(vecs, expected, atol=1e-5)
    s_texts, s_vecs = _stored(store, "short")  # one chunk: its plain vector either way
    np.testing.assert_allclose(s_vecs, encoder.encode_passages(s_texts), atol=1e-5)
    store.close()


def test_kb_keeps_its_window_when_settings_change(tmp_path, minilm):
    mgr, store = _kb(tmp_path, minilm, "kb", 0, max_tokens=20)
    store.close()
    mgr.settings.context_window = 2  # configured otherwise later: documents added now match the old ones
    store = mgr.open("kb", writable=True)
    assert store.context_window == 0
    _index(mgr, store, minilm, [("wire", EN_DOC)])
    texts, vecs = _stored(store, "wire")
    np.testing.assert_allclose(vecs, minilm.encode_passages(texts), atol=1e-5)
    store.close()


def test_window_lifts_a_chunk_whose_topic_is_in_its_neighbour(tmp_path, minilm):
    """'You need the IBAN... They usually arrive within three business days' never says what arrives."""
    question = "How long does an overseas wire transfer take?"
    scores = {}
    for window in (0, 1):
        mgr, store = _kb(tmp_path / f"w{window}", minilm, "kb", window, max_tokens=20)
        _index(mgr, store, minilm, [("wire", EN_DOC)])
        chunk = next(c for c in store.doc_chunks("wire") if "three business days" in c.text)
        assert "wire" not in chunk.text.lower()
        store.commit()
        hits = store.search_dense(minilm.encode_queries([question])[0], 20)
        scores[window] = next(score for rec, score in hits if rec.chunk_id == chunk.chunk_id)
        store.close()
    assert scores[1] > scores[0] + 0.05
