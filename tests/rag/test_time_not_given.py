"""A question asking for a time of day ("几点到校", "what time ...") gets no quote stating no number at all: the
school's "几点到校" had been answered with "家长到校须提前与老师预约,到校时凭身份证在门卫室登记" (parents' visits;
the sentence giving 7:20 was ranked eighth, below the passages quoted). A time, a number of any kind ("open 24
hours") or the place being shut ("closed on Sundays", "周日休息") is an answer (rag.pipeline._not_given)."""
from __future__ import annotations

import pytest

from rag.pipeline import _not_given
from tests.rag.quoting_kb import written_pipeline

VISITS_ZH = ("家长来访须知\n\n家长到校须提前与老师预约，到校时凭身份证在门卫室登记。家长不得进入教学区，接送学生请在校门外等候。"
             "\n\n图书馆\n\n图书馆周一至周五开放，周日休息。")
VISITS_EN = ("Visitors\n\nParents who wish to visit the school must make an appointment with the teacher and sign in at "
             "the front office when they arrive. Parents may not enter the classroom wing.\n\nLibrary\n\n"
             "The library is open on weekdays and is closed on Sundays.")


@pytest.mark.parametrize("question, quote", [
    ("几点到校", "家长到校须提前与老师预约，到校时凭身份证在门卫室登记[1]。"),
    ("what time should parents arrive", "Parents who wish to visit the school must make an appointment with the "
                                        "teacher and sign in at the front office when they arrive [1]."),
], ids=["zh", "en"])
def test_a_quote_stating_no_number_gives_no_time(question, quote):
    assert _not_given(question, quote) == "time"


@pytest.mark.parametrize("question, quote", [
    ("几点到校", "学生须在早上7:20前到校[1]。"), ("药房几点开门", "药房24小时开放[1]。"), ("图书馆周日几点开门", "周日休息[1]。"),
    ("what time does school start", "Classes begin at 8:15 a.m. [1]"),
    ("what time does the library open on sundays", "The library is closed on Sundays [1]."),
    ("pharmacy hours", "The pharmacy is open 24 hours a day [1]."),
], ids=["zh-time", "zh-hours", "zh-closed", "en-time", "en-closed", "en-hours"])
def test_a_time_a_number_or_being_shut_is_an_answer(question, quote):
    assert _not_given(question, quote) is None


@pytest.fixture(scope="module")
def school_kb(tmp_path_factory, ens):
    return written_pipeline(tmp_path_factory.mktemp("time"), "time", {"家长须知.md": VISITS_ZH, "visitors.md": VISITS_EN}, ens)


@pytest.mark.slow
@pytest.mark.parametrize("question", ["家长几点到校", "what time should parents arrive at the school"], ids=["zh", "en"])
def test_a_time_asked_of_passages_stating_none_is_the_refusal(school_kb, question):
    ans = school_kb.ask(question)
    assert ans.refused and not ans.citations, ans.answer
    assert ans.fallback_reason == "the passages give no time for it"
