"""Quoted answers on a knowledge base of another domain than the bundled bank: the hospital's patient
information in data/eval/domains/hospital (English and Chinese documents), indexed with the default
encoders and the refusal threshold `rag index` calibrates. Its questions are asked in the patients' own
words; some are about the hospital and not in its documents (bench/bench_domain_answers.py measures
them all)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "data" / "eval" / "domains" / "hospital" / "docs"


@pytest.fixture
def pipeline(hospital_kb):
    return hospital_kb  # tests/rag/conftest.py: indexed once per session


@pytest.mark.parametrize("question, words", [
    ("What day is the mole check clinic and where is it?", ("Friday", "Clinic 5")),
    ("Can I pay to have a room to myself, and how much is it?", ("$150 per night",)),
    ("剖腹产一般要住院几天？", ("剖宫产一般住院 4—5 天",)),
    ("我退休了，是职工医保，住院起付线多少？能报多少？", ("800元", "90%")),
    ("住单人病房一天多少钱？医保能报多少？", ("价格（元）：260",)),     # a price list's header names the currency
])
def test_questions_in_other_words_get_the_sentence_that_answers(pipeline, question, words):
    ans = pipeline.ask(question)
    assert not ans.refused and ans.citations, (question, ans.answer)
    assert all(w in ans.answer for w in words), (question, ans.answer)
    assert all(Path(c.source).is_relative_to(DOCS) for c in ans.citations)


@pytest.mark.parametrize("question, opening", [
    ("Is there a free shuttle bus from the train station on Saturdays?", "A free shuttle runs between"),
    ("Does the hospital take Northstar insurance?", "We are out-of-network for Northstar"),
])
def test_a_plain_text_heading_does_not_run_into_the_quote(pipeline, question, opening):
    # the .txt files put a heading on the line above its text ("Free hospital shuttle", "Insurance"): the
    # quote had opened "Free hospital shuttle A free shuttle runs ..." (indexer.parse.line_breaks)
    ans = pipeline.ask(question)
    assert ans.answer.startswith(opening), (question, ans.answer)


@pytest.mark.parametrize("question", [
    "Is there a gift shop, and what time does it open?",           # had: the lost property office's number
    "医院附近有没有给家属住的便宜宾馆？",                               # had: one relative may wait with the patient
    "住院病房有Wi-Fi吗？密码是多少？",                                  # had: the discharge payment windows
])
def test_about_the_hospital_but_not_in_its_documents_is_the_refusal(pipeline, question):
    ans = pipeline.ask(question)
    assert ans.refused and not ans.citations, (question, ans.answer)
    assert ans.fallback_reason


def test_a_phone_number_asked_for_and_not_given_is_the_refusal(pipeline):
    # had: "Patients having chemotherapy or radiotherapy at the Cancer Center ... can park free", which clears
    # the quote check by 0.001 once its heading no longer runs into it, and gives no number
    ans = pipeline.ask("What's the direct phone number for the Cancer Center?")
    assert ans.refused and not ans.citations, ans.answer
    # once "(503) 555-0210" reads as a phone number, the Outpatient Booking Center's line was quoted: a quote
    # must name whose number is asked for
    assert ans.fallback_reason == "the quoted passage does not mention what the question asks about"
    from rag.answering.asks import phone_subject

    assert phone_subject("What's the direct phone number for the Cancer Center?") == "Cancer Center"
    assert phone_subject("德育处的电话是多少?") == "德育处" and phone_subject("电话是多少？") is None


def test_an_amount_asked_for_and_not_given_is_the_refusal(pipeline):
    # had: the car park's size and opening hours, which say nothing of an ambulance or a price
    ans = pipeline.ask("叫你们医院的救护车出车一次收多少钱？")
    assert ans.refused and not ans.citations, ans.answer
    assert ans.fallback_reason == "the passages give no amount for it"
