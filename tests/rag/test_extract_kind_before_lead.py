"""Of sentences sharing as many of the question's words, one stating the kind of number asked for is quoted before
one that wins only by its line's first sentence: "what time do i have to leave on discharge day" got "After you
leave, a nurse will phone you within 2 business days ... Your discharge summary is sent ... within 3 business days"
(the second sentence holds discharge and day, its line's first holds leave), not "Please plan to leave your room by
11:00 am on the day you go home"; "中药代煎多少钱" the delivery sentence (代煎, 中药) and after it "外地患者暂不提供中药配送" (中药, its line's
first holding 代煎), not the fee sentence "每剂收取代煎费2元" (中药, and the amount asked for)."""
from __future__ import annotations

import pytest

from rag.answering.extract import extractive_answer

EN = ("Please plan to leave your room by 11:00 am on the day you go home.\n"
      "If you have had a general anesthetic, you must not drive for 24 hours. You cannot go home alone in a taxi.\n"
      "After you leave, a nurse will phone you within 2 business days to see how you are. Your discharge summary is "
      "sent to your primary care provider within 3 business days.")
ZH = ("中药可以由我院代为煎煮，每剂收取代煎费2元。上午11:00前缴费的，当天16:00以后可取； 11:00以后缴费的，次日取药。\n"
      "代煎中药可快递到家，本市市区运费10元，3日内送达；外地患者暂不提供中药配送。")


@pytest.mark.parametrize("text, question, wanted", [
    (EN, "what time do i have to leave on discharge day", "by 11:00 am"),
    (ZH, "中药代煎多少钱", "每剂收取代煎费2元")])
def test_a_sentence_giving_the_kind_asked_for_beats_one_won_by_its_lines_first(text, question, wanted):
    answer = extractive_answer(question, text, 1)
    assert answer.startswith(text.split("\n")[0].split("。")[0].rstrip(".")) and wanted in answer


def test_without_a_kind_asked_the_lines_first_sentence_still_decides():
    # "Who is the discharge summary sent to after I leave?" asks for no number: the summary's line answers it
    answer = extractive_answer("Who is the discharge summary sent to after I leave?", EN, 1)
    assert "primary care provider" in answer and "11:00" not in answer
