"""The remote (OpenAI-compatible) generator stays bounded whatever the endpoint does: a server that
trickles keep-alives, streams past max_tokens, cuts the stream, asks for a long Retry-After or echoes
the API key (the local server of tests/rag/conftest.py plays each)."""
from __future__ import annotations

import time

import pytest

from rag.generation.base import GenerationError
from rag.generation.config import GenerationSettings
from rag.generation.factory import make_generator
from rag.generation.remote import OVERRUN

MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "How do I report a lost card?"}]


def _remote(url, model, **kw):
    kw.setdefault("backoff_s", 0.01)
    return make_generator(GenerationSettings(backend="openai", base_url=url, model=model, **kw))


def test_keepalives_without_an_answer_are_cut_at_total_timeout(llm_server):
    # the read timeout (5 s) never fires: a comment arrives every 0.1 s for 10 s
    gen = _remote(llm_server.url, "trickle", timeout_s=5, total_timeout_s=1)
    t0 = time.monotonic()
    with pytest.raises(GenerationError, match="still sending after 1 s"):
        list(gen.stream(MSGS))
    assert time.monotonic() - t0 < 3
    assert llm_server.counts["trickle"] == 1


def test_a_retry_after_past_the_deadline_fails_at_once(llm_server):
    gen = _remote(llm_server.url, "busy", retries=2, total_timeout_s=5)
    t0 = time.monotonic()
    with pytest.raises(GenerationError, match="429.*would pass total_timeout_s"):
        gen.generate(MSGS)
    assert time.monotonic() - t0 < 2 and llm_server.counts["busy"] == 1


def test_a_stream_ignoring_max_tokens_is_cut(llm_server):
    gen = _remote(llm_server.url, "endless", max_new_tokens=20, total_timeout_s=30)
    t0 = time.monotonic()
    text = "".join(gen.stream(MSGS))
    assert time.monotonic() - t0 < 5
    assert 20 <= gen.count_tokens(text) <= OVERRUN * 20 + 8  # one piece past the cap at most
    assert text.startswith("Call the card line [1].")


def test_a_json_answer_ignoring_max_tokens_is_cut(llm_server):
    gen = _remote(llm_server.url, "chatty", max_new_tokens=20, stream=False)
    text = gen.generate(MSGS)
    assert 20 <= gen.count_tokens(text) <= OVERRUN * 20
    assert text.startswith("Call the card line [1].")


def test_a_stream_cut_halfway_is_an_error_not_a_short_answer(llm_server):
    gen = _remote(llm_server.url, "cut", max_new_tokens=100)
    got = []
    with pytest.raises(GenerationError, match="ended before the answer was complete"):
        for piece in gen.stream(MSGS):
            got.append(piece)
    assert "".join(got).endswith("cannot be")  # what came is what the server sent, no more
    # a stream that ends properly is not affected
    assert "".join(_remote(llm_server.url, "echo").stream(MSGS)) == "You said: How do I report a lost card?"


@pytest.mark.parametrize("call", ["stream", "generate"])
def test_errors_never_hold_the_api_key_even_when_the_server_echoes_it(llm_server, monkeypatch, call):
    monkeypatch.setenv("TEST_REMOTE_KEY", "sk-live-0123456789abcdef")
    gen = _remote(llm_server.url, "echo-key", api_key_env="TEST_REMOTE_KEY")
    with pytest.raises(GenerationError) as err:
        list(gen.stream(MSGS)) if call == "stream" else gen.generate(MSGS)
    assert llm_server.requests[-1]["auth"] == "Bearer sk-live-0123456789abcdef"  # the server did get it
    assert "401" in str(err.value) and "Incorrect API key provided: [redacted]" in str(err.value)
    assert "sk-live-0123456789abcdef" not in str(err.value)


def test_a_retry_after_of_nan_is_waited_as_the_backoff_not_a_crash(llm_server):
    # float('nan') reached time.sleep, which raised ValueError: a traceback, not a retry
    gen = _remote(llm_server.url, "nan-wait", retries=1, total_timeout_s=5)
    assert gen.generate(MSGS) == "You said: How do I report a lost card?"
    assert llm_server.counts["nan-wait"] == 2


def test_a_streamed_delta_that_is_not_text_is_a_generation_error(llm_server):
    # a GenerationError lets the pipeline answer with the passages' quote; a TypeError was a 500
    gen = _remote(llm_server.url, "odd-delta")
    with pytest.raises(GenerationError, match="the delta is not text"):
        list(gen.stream(MSGS))
