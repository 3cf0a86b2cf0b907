"""A question asking for a kind of number is no keyword lookup (rag.answering.refusal.keyword_found): "能提前几天挂号"
has the keywords 提前 and 挂号 once its asking words are left out, and the hospital's passage on the day of the visit
("按预约时段提前30分钟到达诊区候诊") holds both, so it passed as a keyword the top passage holds; that skipped the
check that a quote matches the question, and the 30 minutes were quoted for the days one may book ahead (the
passage saying 7 days was not retrieved). A lookup of the words alone ("挂号 提前") still is one."""
from __future__ import annotations

import pytest

from rag.answering.refusal import keyword_found
from rag.types import Hit

ARRIVAL_ZH = "门诊预约挂号指南 > 就诊当天流程\n1. 到门诊楼自助机或分诊台签到。2. 按预约时段提前30分钟到达诊区候诊，留意叫号屏。"
REFILL_EN = ("Outpatient Pharmacy and Prescription Refills\n1. Call the automated refill line, (503) 555-0177, available "
             "24 hours a day. 2. Or, in the MyRiverbend app, go to Pharmacy and choose Request refill. 3. Come early "
             "in the day: the queue is shortest before 10:00 am.")


def _hit(text: str) -> Hit:
    return Hit(doc_id="d", chunk_id="c", source="guide.md", text=text, score=1.0)


@pytest.mark.parametrize("question, passage", [
    ("能提前几天挂号", ARRIVAL_ZH), ("挂号提前多久", ARRIVAL_ZH),
    ("how early request refill", REFILL_EN), ("refill how long", REFILL_EN + " Refills take a long time."),
], ids=["zh-days", "zh-how-long", "en-how-early", "en-how-long"])
def test_a_question_asking_for_a_number_is_no_keyword_lookup(question, passage):
    assert not keyword_found(question, [_hit(passage)])


@pytest.mark.parametrize("question, passage", [
    ("挂号 提前", ARRIVAL_ZH), ("能挂号吗", ARRIVAL_ZH), ("request refill", REFILL_EN),
], ids=["zh-words", "zh-whether", "en-words"])
def test_the_words_alone_are_still_a_keyword_lookup(question, passage):
    assert keyword_found(question, [_hit(passage)])
