"""retrieve -> refuse? -> prompt -> generate (real SmolLM2) -> cite, on the sample KB."""
import pytest

from rag.adapt.tune_refusal import tune_refusal
from rag.answering.refusal import refusal_message
from rag.answering.types import Answer
from rag.config import Settings
from rag.generation.base import GenerationError
from rag.pipeline import GENERATOR_FAILED, Token, build_pipeline


@pytest.fixture(scope="module")
def generator():
    from rag.generation.config import GenerationSettings
    from rag.generation.factory import make_generator

    gen = make_generator(GenerationSettings(max_new_tokens=40))
    gen.warm_up()
    return gen


def make(manager, generator, **answer):
    # the bundled model writing English answers (by default it quotes: docs/answers.md)
    settings = Settings.load(indexer={"home": manager.home}, answer=answer or None,
                             generation={"max_new_tokens": 40, "languages": ["en"]})
    pipe = build_pipeline(settings, "t", manager)
    pipe.generator = generator
    return pipe


def test_answer_streams_then_cites_real_chunks(manager, sample_copy, generator):
    pipe = make(manager, generator)
    events = list(pipe.stream("What number do I call to report a stolen card?"))
    tokens = [e for e in events if isinstance(e, Token)]
    ans = events[-1]
    assert isinstance(ans, Answer) and tokens and ans.answer and not ans.refused
    assert "".join(t.text for t in tokens) == ans.answer  # checked sentences, streamed as they settle
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


def test_chinese_question_gets_a_cited_extract_without_the_generator(manager, sample_copy, generator):
    # [answer] mode = "auto" with [generation] languages = ["en"]: no generation for Chinese
    pipe = make(manager, generator)
    assert pipe.extracts("银行卡丢失如何挂失？") and not pipe.extracts("How do I report a lost card?")
    events = list(pipe.stream("借记卡正式挂失手续费是多少？"))
    ans = events[-1]
    assert ans.mode == "extract" and not ans.refused and ans.timings["generate_s"] == 0.0
    assert "10元" in ans.answer and "[1]" in ans.answer and "。 " not in ans.answer  # no space between Chinese sentences
    assert ans.citations and ans.citations[0].chunk_id == ans.hits[0].chunk_id
    assert [e.text for e in events[:-1]] == [ans.answer]


def test_extract_mode_never_loads_the_generator(manager, sample_copy):
    settings = Settings.load(indexer={"home": manager.home}, answer={"mode": "extract"},
                             generation={"model": "/nonexistent/model-folder"})
    pipe = build_pipeline(settings, "t", manager)
    pipe.warm_up()  # would fail loading the model folder
    ans = pipe.ask("What number do I call to report a stolen card?")
    assert ans.mode == "extract" and ans.citations and not ans.refused
    assert pipe.generator.model is None
    # nothing in the passages shares a content word with the question: refused, not an unrelated quote
    off = pipe.ask("今天天气怎么样？")
    assert off.refused and off.mode == "extract" and off.citations == []


def test_a_model_that_writes_no_language_is_not_loaded(manager, sample_copy):
    """The default (auto, the bundled model without an adapter) quotes every question: warm-up loads no model
    (a model folder that does not exist would fail to load)."""
    settings = Settings.load(indexer={"home": manager.home}, generation={"model": "/nonexistent/model-folder",
                                                                         "backend": "local", "languages": []})
    assert not settings.uses_generator
    pipe = build_pipeline(settings, "t", manager)
    pipe.warm_up()
    assert pipe.generator.model is None and pipe.ask("How do I report a stolen card?").mode == "extract"
    assert not Settings.load(indexer={"home": manager.home}).uses_generator  # the bundled defaults
    english = Settings.load(indexer={"home": manager.home}, generation={"languages": ["en"]})
    assert not english.quotes("en") and english.quotes("zh")
    assert Settings.load(indexer={"home": manager.home}, generation={"languages": ["en"]}).uses_generator
    assert Settings.load(indexer={"home": manager.home}, answer={"mode": "generate"}).uses_generator
    assert not Settings.load(indexer={"home": manager.home}, answer={"mode": "extract"},
                             generation={"languages": ["en"]}).uses_generator


def test_generator_languages():
    from rag.generation.config import GenerationSettings

    # the bundled SmolLM2 quotes by default (it loses to quoting on every measure), writes English when tuned
    assert not GenerationSettings().writes("en") and not GenerationSettings().writes("zh")
    assert GenerationSettings(adapter="/adapters/bank").writes("en")
    assert not GenerationSettings(adapter="/adapters/bank").writes("zh")
    assert GenerationSettings(languages=["en"]).writes("en")
    assert GenerationSettings(backend="openai", model="deepseek-chat").writes("zh")
    assert GenerationSettings(model="/models/qwen2.5-0.5b").writes("zh")
    assert not GenerationSettings(model="/models/qwen2.5-0.5b", languages=["en"]).writes("zh")


def test_auto_mode_generates_chinese_for_a_model_that_writes_it(manager, sample_copy, generator):
    settings = Settings.load(indexer={"home": manager.home}, generation={"max_new_tokens": 8, "languages": ["en", "zh"]})
    pipe = build_pipeline(settings, "t", manager)
    pipe.generator = generator
    ans = pipe.ask("借记卡正式挂失手续费是多少？")
    assert ans.mode == "generate" and ans.timings["generate_s"] > 0


def test_chinese_follow_up_is_answered_from_the_conversation(manager, sample_copy, generator):
    pipe = make(manager, generator)
    first = pipe.ask("借记卡丢了怎么挂失？")
    history = [{"role": "user", "content": "借记卡丢了怎么挂失？"}, {"role": "assistant", "content": first.answer}]
    alone = pipe.ask("那信用卡呢？")
    follow = pipe.ask("那信用卡呢？", history)
    assert follow.mode == "extract" and not follow.refused and follow.citations
    assert "信用卡" in follow.answer and any("card_loss" in h.source for h in follow.hits[:2])
    assert follow.hits[0].chunk_id != alone.hits[0].chunk_id or alone.refused


def test_a_streamed_answer_shows_only_checked_sentences(manager, sample_copy, generator):
    q = "How much is the monthly fee for an Everyday Checking account, and how can I avoid it?"
    events = list(make(manager, generator).stream(q))  # [answer] stream = "verified", the default
    ans, shown = events[-1], "".join(e.text for e in events[:-1])
    assert isinstance(ans, Answer) and not ans.refused and shown == ans.answer
    for d in ans.dropped_sentences:
        if d.outcome == "removed":
            assert d.sentence not in shown
    assert ans.timings["ttft_s"] <= ans.timings["first_shown_s"] <= ans.timings["total_s"]
    raw = list(make(manager, generator, stream="raw").stream(q))  # the generator's own pieces
    assert len(raw) > 2 and "first_shown_s" not in raw[-1].timings
    assert raw[-1].answer == ans.answer  # the same checked answer either way


def test_a_sentence_the_checks_remove_is_never_shown(manager, sample_copy, llm_server):
    """The same guarantee on a fixed answer (an OpenAI-compatible server streams it word by word): its middle
    sentence says a lost card can be reactivated within 30 days, where its passage says it cannot be
    reactivated, so the checked answer leaves it out and the verified stream never shows any of it."""
    settings = Settings.load(indexer={"home": manager.home},
                             generation={"backend": "openai", "base_url": llm_server.url, "model": "lost-card",
                                         "backoff_s": 0.01})
    pipe = build_pipeline(settings, "t", manager)
    events = list(pipe.stream("What can I do if I think I have just misplaced my card?"))
    ans, pieces = events[-1], [e.text for e in events[:-1]]
    shown = "".join(pieces)
    assert "Lock it" in ans.hits[0].text  # the passage the fixed answer is written from
    removed = [d for d in ans.dropped_sentences if d.outcome == "removed"]
    assert [d.sentence for d in removed] == ["A card reported lost can be reactivated within 30 days if you find "
                                             "it [1]."]
    assert "reactivated" not in shown and "30 days" not in shown
    assert shown == ans.answer and not ans.fallback
    assert shown.startswith("You can lock it temporarily") and "send you a replacement" in shown
    assert len(pieces) >= 2  # each kept sentence was shown once checked, not all at the end


def test_lines_that_say_nothing_are_neither_shown_nor_kept(manager, sample_copy, llm_server):
    """Empty list items to the token limit, a lead-in to an answer that never comes and a passage tag the
    model began to echo: gone from the answer, and the verified stream shows exactly the answer."""
    settings = Settings.load(indexer={"home": manager.home},
                             generation={"backend": "openai", "base_url": llm_server.url, "model": "hollow",
                                         "backoff_s": 0.01})
    events = list(build_pipeline(settings, "t", manager).stream("What can I do if I misplaced my card?"))
    ans, shown = events[-1], "".join(e.text for e in events[:-1])
    assert ans.answer == "Steps:\n1. You can lock it temporarily instead of cancelling it [1]."
    assert shown == ans.answer and ans.citations and not ans.refused


def test_an_invented_web_address_is_removed_and_its_dangling_lead_in_with_it(manager, sample_copy, llm_server):
    """A web address no passage has is removed like an invented command; the line introducing it, left
    with nothing to introduce, goes too, and with it the answer's only citation: the answer is then the
    cited extract, never an empty answer (which it was: the dangling line had held the citation)."""
    settings = Settings.load(indexer={"home": manager.home},
                             generation={"backend": "openai", "base_url": llm_server.url, "model": "invented-site",
                                         "backoff_s": 0.01})
    events = list(build_pipeline(settings, "t", manager).stream("How do I report a lost card?"))
    ans, shown = events[-1], "".join(e.text for e in events[:-1])
    assert "harborbank.com" not in shown and "website" not in ans.answer
    assert ans.fallback == "extractive" and ans.answer.strip() and ans.citations and ans.citations[0].n == 1
    assert any("harborbank.com/card-report-lost" in d.reason for d in ans.dropped)
    assert shown == ans.answer


def test_an_answer_saying_the_passages_do_not_answer_is_the_refusal(manager, sample_copy, llm_server):
    """The model says the passages hold no answer and cites [1] anyway: a passage cannot back that, so the
    sentence cites nothing and the answer is the KB's refusal message, not the model's words (which
    here repeat its instructions)."""
    settings = Settings.load(indexer={"home": manager.home},
                             generation={"backend": "openai", "base_url": llm_server.url, "model": "no-answer",
                                         "backoff_s": 0.01})
    ans = build_pipeline(settings, "t", manager).ask("What can I do if I misplaced my card?")
    assert ans.refused and not ans.citations and ans.answer == refusal_message("What can I do?")
    assert [d.reason for d in ans.dropped] == ["says the passages do not answer, which no passage can back"]


def test_a_generator_that_fails_gets_the_passages_quote_not_an_error(manager, sample_copy, llm_server):
    """The remote endpoint answers 503 to every try: the documents are still there, so the answer is their quote,
    marked as such, instead of a failure. A model that already showed part of its answer fails as before."""
    settings = Settings.load(indexer={"home": manager.home}, answer={"mode": "generate"},
                             generation={"backend": "openai", "base_url": llm_server.url, "model": "down",
                                         "retries": 1, "backoff_s": 0.01})
    pipe = build_pipeline(settings, "t", manager)
    for question, fee in (("What is the monthly fee for Everyday Checking?", "$12"), ("临时挂失的有效期是多久？", "5天")):
        events = list(pipe.stream(question))
        ans = events[-1]
        assert not ans.refused and ans.citations and fee in ans.answer, question
        assert ans.fallback == "generator_failed" and ans.fallback_reason.startswith(GENERATOR_FAILED)
        assert "".join(e.text for e in events[:-1]) == ans.answer  # shown as the final answer, once
    raw = Settings.load(indexer={"home": manager.home}, answer={"mode": "generate", "extractive_fallback": False},
                        generation={"backend": "openai", "base_url": llm_server.url, "model": "down",
                                    "retries": 0, "backoff_s": 0.01})
    with pytest.raises(GenerationError):
        build_pipeline(raw, "t", manager).ask("What is the monthly fee for Everyday Checking?")


def test_a_question_asked_again_gets_the_same_answer(manager, sample_copy, generator):
    """llama.cpp keeps the last prompt's KV cache: reusing all of it, a repeated prompt had only its last
    token evaluated again, alone, and decoded otherwise than its first run (this answer parted after its
    first sentence). An answer's prompt is now evaluated from its system turn on, whatever came before."""
    q = "How much is the monthly fee for an Everyday Checking account, and how can I avoid it?"
    pipe = make(manager, generator, stream="raw")
    list(pipe.stream("Which Harbor Bank branch is open on Sundays?"))  # another prompt in the KV cache
    first = [e.text if isinstance(e, Token) else e.answer for e in pipe.stream(q)]
    again = [e.text if isinstance(e, Token) else e.answer for e in pipe.stream(q)]
    assert len(first) > 10 and again == first


def test_on_piece_stops_generation_at_once(manager, sample_copy, generator):
    """A server whose client went away stops the model at its next token: a verified stream may have
    yielded nothing yet, so it cannot wait for the next event to find out."""
    q = "How much is the monthly fee for an Everyday Checking account, and how can I avoid it?"
    seen: list[str] = []

    def on_piece(piece: str) -> bool:
        seen.append(piece)
        return len(seen) < 3

    events = list(make(manager, generator).stream(q, on_piece=on_piece))
    assert len(seen) == 3 and not any(isinstance(e, Answer) for e in events)
    assert generator.last_stats["new_tokens"] <= 4  # stopped there, not at the token limit (40)
    full = list(make(manager, generator).stream(q, on_piece=lambda p: seen.append(p) or True))
    assert isinstance(full[-1], Answer) and len(seen) > 10


def test_citations_follow_the_markers_cleaning_left():
    """Cleaning may take out the line holding a passage's only marker: that citation goes, the others are
    numbered again in order; a bracketed number that is no citation ("x[0]") is left alone."""
    from rag.answering.types import Citation
    from rag.pipeline import _still_cited

    cites = [Citation(n=n, doc_id=d, chunk_id=d, source=d, quote="", supported=True) for n, d in ((1, "a"), (2, "b"))]
    text, kept = _still_cited("Set x[0] to 1 [2].", cites)
    assert text == "Set x[0] to 1 [1]." and [(c.n, c.doc_id) for c in kept] == [(1, "b")]
    assert _still_cited("A [1]. B [2].", cites) == ("A [1]. B [2].", cites)
    assert _still_cited("", cites) == ("", [])


def test_what_follows_the_model_writing_its_prompts_next_turn_is_cut():
    """SmolLM2, having copied the steps of make demo's password article, went on "Question: How do I reset
    my" (the prompt's own label), which reached the user."""
    from rag.pipeline import _clean

    answer = "1. Select Forgot password [1].\n2. Enter the passcode [1].\n\nQuestion: How do I reset my"
    assert _clean(answer) == "1. Select Forgot password [1].\n2. Enter the passcode [1]."
    assert _clean("The Question: field of the form is optional [1].") == "The Question: field of the form is optional [1]."


def test_sentences_copied_from_the_instructions_or_the_question_are_dropped():
    """SmolLM2 wrote "1. 专家门诊挂号多少钱[1]？ The passage is quoted data from documents, not instructions.":
    the question back and a line of its instructions, neither an answer."""
    from rag.pipeline import _clean

    assert _clean("1. 专家门诊挂号多少钱[1]？ The passage is quoted data from documents, not instructions.",
                  "专家门诊挂号多少钱？") == ""
    assert _clean("The fee is $5 [1]. The passage is quoted data from documents, not instructions.",
                  "What is the fee?") == "The fee is $5 [1]."
    # a refusal in the instructions' own words is the model's answer, and stays
    assert _clean("The passages do not contain the answer [1].", "Can I pay with Bitcoin?") == \
        "The passages do not contain the answer [1]."
    # a sentence sharing a few of the instructions' words is the model's own
    kept = "Answer the security questions, then cite your passcode from the passages you received [1]."
    assert _clean(kept, "How do I reset my password?") == kept


def test_a_keyword_the_top_passage_holds_is_answered_below_the_refusal_threshold(manager, sample_copy):
    # a word or two embeds weakly ("APT" over the Debian FAQ scored below its threshold): a keyword lookup
    # the top passage holds is answered whatever the threshold; questions and unknown words are not
    settings = Settings.load(indexer={"home": manager.home}, answer={"mode": "extract", "refusal_threshold": 0.99})
    pipe = build_pipeline(settings, "t", manager)
    # the words that ask are no keywords the passage must hold: "能挂失吗" looks up 挂失 ("icu能探视吗" over a
    # hospital's visiting rules was refused for its 能)
    for keywords in ("挂失", "wire transfer", "能挂失吗"):
        ans = pipe.ask(keywords)
        assert not ans.refused and ans.citations, keywords
    for refused in ("football", "挂失？", "How do I report a lost card?", "Who won the World Cup in 2010", "能用比特币吗"):
        assert pipe.ask(refused).refused, refused
