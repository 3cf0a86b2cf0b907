"""retrieve -> refuse? -> prompt -> generate (real SmolLM2) -> cite, on the sample KB."""
import pytest

from rag.answer_types import Answer
from rag.config import Settings
from rag.pipeline import Pipeline, Token, build_pipeline
from rag.tune_refusal import tune_refusal


@pytest.fixture(scope="module")
def generator():
    from rag.generate import make_generator
    from rag.generate_config import GenerationSettings

    gen = make_generator(GenerationSettings(max_new_tokens=40))
    gen.warm_up()
    return gen


def make(manager, generator, **answer):
    settings = Settings.load(indexer={"home": manager.home}, answer=answer or None,
                             generation={"max_new_tokens": 40})
    pipe = build_pipeline(settings, "t", manager)
    pipe.generator = generator
    return pipe


def test_answer_streams_then_cites_real_chunks(manager, sample_copy, generator):
    pipe = make(manager, generator)
    events = list(pipe.stream("What number do I call to report a stolen card?"))
    tokens = [e for e in events if isinstance(e, Token)]
    ans = events[-1]
    assert isinstance(ans, Answer) and len(tokens) > 1 and ans.answer and not ans.refused
    ids = {h.chunk_id for h in ans.hits}
    assert ans.citations and all(c.chunk_id in ids for c in ans.citations)
    assert all(c.quote and c.source for c in ans.citations)
    t = ans.timings
    assert 0 < t["ttft_s"] <= t["total_s"] and t["retrieve_s"] > 0 and "rerank_s" in t


def test_calibrated_refusal_skips_the_generator(manager, sample_copy, generator):
    pipe = make(manager, generator)
    rep = tune_refusal(pipe, ["How do I report a lost card?", "What does a wire transfer cost?",
                              "银行卡丢失如何挂失？", "When are wire transfers processed?"])
    assert rep.calibration.threshold > min(rep.unanswerable)
    again = make(manager, generator)  # the threshold was stored with the KB
    assert again.refusal_threshold == pytest.approx(rep.calibration.threshold)
    ans = again.ask("Who won the football World Cup in 2010?")
    assert ans.refused and ans.citations == [] and ans.timings["generate_s"] == 0.0


def test_follow_up_question_uses_history(manager, sample_copy, generator):
    pipe = make(manager, generator)
    history = [{"role": "user", "content": "What is the fee for an outgoing international wire transfer?"},
               {"role": "assistant", "content": "It is listed in the wire transfer fees."}]
    ans = pipe.ask("And what about the cut-off time?", history)
    assert any("wire" in h.source for h in ans.hits[:2])
