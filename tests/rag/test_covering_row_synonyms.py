"""The row a generated answer falls back on when the model finds nothing (rag.pipeline's answering row: a table
row holding every word of the question) reads the question through the KB's synonyms, as quotes do. Without
that, "visiting hours normal ward" under the rule "normal ward, general adult ward" was quoted in extract mode
and refused when the model wrote the answer: "normal" is in no row."""
from __future__ import annotations

import pytest

from rag.answering.equivalents import kb_synonyms
from rag.answering.extract import row_answer
from tests.rag.quoting_kb import synonyms


@pytest.fixture
def pipeline(hospital_kb):
    return hospital_kb  # tests/rag/conftest.py: the hospital KB, indexed once per session


def _covering_row(pipeline, question: str) -> str | None:
    hits = pipeline.retriever.run(question, 4, synonyms=pipeline.synonyms)
    with kb_synonyms(pipeline.synonyms):
        return row_answer(question, hits, covering=True)


@pytest.mark.parametrize("question, rules, row, value", [
    ("visiting hours normal ward", "normal ward, general adult ward", "General adult wards", "2:00 pm to 8:00 pm"),
    ("主任医师挂号费", "挂号费, 诊查费", "主任医师", "30元"),
])
def test_a_row_holds_every_word_of_the_question_through_the_kbs_synonyms(pipeline, question, rules, row, value):
    assert _covering_row(pipeline, question) is None  # without the rule, a word of the question is in no row
    with synonyms(pipeline, rules):
        found = _covering_row(pipeline, question)
    assert found is not None and found.startswith(row) and value in found, found
    assert _covering_row(pipeline, question) is None  # and the rule is gone with the synonyms
