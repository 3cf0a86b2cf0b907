"""A KB's own synonyms (rag.synonyms) on the hospital's patient information (data/eval/domains/hospital):
patients say "挂号费" and "A&E" where the documents say "诊查费" and "Emergency Department". Without the
KB's synonyms these questions are refused; with them they are searched and quoted in the documents'
words. The same KB answers with and without them, so each assertion is checked both ways."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.rag.quoting_kb import synonyms


@pytest.fixture
def pipeline(hospital_kb):
    return hospital_kb  # tests/rag/conftest.py: the hospital KB, indexed once per session


@pytest.mark.parametrize("question, rules, source, words", [
    ("挂号费多少", "挂号费, 诊查费", "yuyue-guahao.md", ("诊查费",)),
    ("挂号费多少", "掛號費, 診查費", "yuyue-guahao.md", ("诊查费",)),  # a rule in traditional characters
    ("掛號費多少", "掛號費, 診查費", "yuyue-guahao.md", ("诊查费",)),
    ("where do I go for A&E", "A&E, ER => emergency department", "emergency-department.html", ("Emergency Department",)),
])
def test_the_kbs_synonyms_answer_what_the_readers_words_missed(pipeline, question, rules, source, words):
    plain = pipeline.ask(question)
    assert plain.refused, (question, plain.answer)  # the readers' word alone: not in the documents
    with synonyms(pipeline, rules):
        hits = pipeline.retriever.run(question, 5)
        assert Path(hits[0].source).name == source, [h.source for h in hits]
        ans = pipeline.ask(question)
    assert not ans.refused and Path(ans.citations[0].source).name == source, (question, ans.answer)
    assert all(w in ans.answer for w in words), ans.answer
    assert pipeline.ask(question).refused  # and the rules are gone with the synonyms


def test_synonyms_leave_other_questions_alone(pipeline):
    question = "剖腹产一般要住院几天？"
    before = pipeline.ask(question).answer
    with synonyms(pipeline, "挂号费, 诊查费\nA&E => emergency department"):
        assert pipeline.ask(question).answer == before


def test_a_synonym_names_the_table_row_the_reader_means(pipeline):
    question = "visiting hours normal ward"  # the table's row: "General adult wards (Wards 3A to 6C)"
    assert "2:00 pm to 8:00 pm" not in pipeline.ask(question).answer
    with synonyms(pipeline, "normal ward, general adult ward"):
        ans = pipeline.ask(question)
    assert ans.answer.startswith("General adult wards") and "2:00 pm to 8:00 pm" in ans.answer, ans.answer


@pytest.mark.parametrize("question, rules, rows", [
    ("挂号费多少", "挂号费, 诊查费", ("普通门诊——诊查费：10元", "主任医师——诊查费：30元", "知名专家——诊查费：50元")),
    ("What are the visiting times?", "visiting times => visiting hours",
     ("General adult wards (Wards 3A to 6C) - Visiting hours: 2:00 pm to 8:00 pm",
      "Intensive Care Unit (Level 2) - Visiting hours: 11:00 am to 1:00 pm")),
])
def test_a_table_column_the_reader_names_through_a_synonym_is_quoted(pipeline, question, rules, rows):
    """A table's column headers were not matched through the KB's synonyms: "挂号费多少" under "挂号费, 诊查费"
    found the section "号别与诊查费" but quoted the sentence under its table, not the 诊查费 of each 号别. The
    column a question names through a rule is quoted, each row's name with its cell; a question naming it in
    the documents' own words is answered as without the rules."""
    plain = pipeline.ask(question).answer
    with synonyms(pipeline, rules):
        ans = pipeline.ask(question)
        own_words = pipeline.ask("诊查费多少").answer
    assert not ans.refused and all(r in ans.answer for r in rows), ans.answer
    assert not any(r in plain for r in rows)
    assert own_words == pipeline.ask("诊查费多少").answer


@pytest.mark.parametrize("question, rules", [
    ("Where is the emergency department?", "A&E, emergency department"),
    ("探视时间", "探视时间, 探望时间, 看望病人时间"),
])
def test_a_rule_adding_the_readers_word_leaves_a_question_in_the_documents_words_as_it_was(pipeline, question, rules):
    # the readers' words the KB lacks had lowered BM25's say (the share of the query's words the KB holds),
    # and quotes had been matched as "A&E": the answer changed. The words the rule adds may still move lower
    # hits (看望 and 病人 are in other passages), not the top ones
    before = ([h.chunk_id for h in pipeline.retriever.run(question, 5)][:3], pipeline.ask(question).answer)
    with synonyms(pipeline, rules):
        after = ([h.chunk_id for h in pipeline.retriever.run(question, 5)][:3], pipeline.ask(question).answer)
    assert after == before


class _Counting:
    """The KB's own encoder, counting the questions it encodes."""

    def __init__(self, encoder):
        self.encoder, self.encoded = encoder, []

    def encode_queries(self, texts):
        self.encoded += texts
        return self.encoder.encode_queries(texts)

    def __getattr__(self, name):
        return getattr(self.encoder, name)


@pytest.mark.parametrize("question, rules, section", [
    ("陪床的人能住吗", "陪床, 陪护", "三、陪护管理"),
    ("How much is the fine if I don't turn up?", "don't turn up, no-show => missed appointment", "Cancelling"),
])
def test_the_dense_side_also_searches_the_question_in_the_documents_words(pipeline, question, rules, section):
    """The dense retriever encoded the question as asked: the encoder does not know the KB's words for the
    readers' ("陪床" is the hospital's "陪护"), and ranked the section answering it below others. A question a
    rule rewrites is also encoded in the documents' words, each chunk keeping the better score; one more
    encode, for such questions only."""
    retriever = pipeline.retriever
    counting = _Counting(retriever.encoder)
    retriever.encoder = counting
    try:
        before = retriever.run(question, 5, mode="dense")
        assert section not in before[0].title and len(counting.encoded) == 1
        with synonyms(pipeline, rules):
            counting.encoded.clear()
            dense = retriever.run(question, 5, mode="dense")
            assert len(counting.encoded) == 2 and counting.encoded[0] == question, counting.encoded
            counting.encoded.clear()
            hybrid = retriever.run(question, 5)
            retriever.run("剖腹产一般要住院几天？", 5)  # no term of the rules: encoded once, as asked
            assert len(counting.encoded) == 3
        assert section in dense[0].title, [h.title for h in dense]
        assert section in hybrid[0].title, [h.title for h in hybrid]
        assert dense[0].scores["dense"] > max(h.scores["dense"] for h in before if section in h.title)
        assert [h.chunk_id for h in retriever.run(question, 5, mode="dense")] == [h.chunk_id for h in before]
    finally:
        retriever.encoder = counting.encoder


@pytest.mark.parametrize("question, rules, row", [
    ("visiting hours ward 3A", "ward 3A, general adult ward", "General adult wards"),
    ("老专家多少钱", "老专家, 知名专家", "知名专家——诊查费：50元"),
])
def test_a_generated_answer_finds_the_table_row_through_the_kbs_synonyms(pipeline, llm_server, question, rules, row):
    """In answer mode generate the table row a question names was looked for without the KB's rules (they
    were in force for the quote only): a model saying the passages do not answer got the refusal where the
    row the question names through a rule ("ward 3A" for "General adult wards") answers it."""
    from rag.config import Settings
    from rag.generation.factory import make_generator
    from rag.pipeline import Pipeline

    settings = Settings.load(indexer={"home": pipeline.settings.indexer.home}, answer={"mode": "generate"},
                             generation={"backend": "openai", "base_url": llm_server.url, "model": "no-answer",
                                         "backoff_s": 0.01})
    generate = Pipeline(pipeline.retriever, make_generator(settings.generation), settings, None)
    generate.load_thresholds()
    assert row not in generate.ask(question).answer
    with synonyms(pipeline, rules):
        ans = generate.ask(question)
    assert not ans.refused and ans.fallback == "extractive" and ans.answer.startswith(row), ans.answer
    assert llm_server.counts["no-answer"] == 2  # the model was asked both times


def test_an_answer_is_made_under_the_rules_read_when_it_began(pipeline, llm_server):
    """The pipeline is shared by a service's requests: rules another request's refresh brings while an answer
    is being written (here: removed) are not half applied to it. The answer read the KB's rules when it began
    and is searched, quoted and checked under those."""
    from rag.config import Settings
    from rag.generation.factory import make_generator
    from rag.pipeline import Pipeline, Token
    from rag.synonyms.kb import store_synonyms
    from rag.synonyms.rules import parse

    settings = Settings.load(indexer={"home": pipeline.settings.indexer.home},
                             answer={"mode": "generate", "stream": "raw"},
                             generation={"backend": "openai", "base_url": llm_server.url, "model": "no-answer",
                                         "backoff_s": 0.01})
    generate = Pipeline(pipeline.retriever, make_generator(settings.generation), settings, None)
    generate.load_thresholds()
    with synonyms(pipeline, "ward 3A, general adult ward"):
        events = generate.stream("visiting hours ward 3A")
        assert isinstance(next(events), Token)  # the model has begun
        store_synonyms(pipeline.store, parse(""))
        pipeline.refresh()  # another request: the KB's rules are gone
        assert not generate.synonyms
        ans = list(events)[-1]
    assert ans.answer.startswith("General adult wards") and "2:00 pm to 8:00 pm" in ans.answer, ans.answer
