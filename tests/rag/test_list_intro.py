"""A line of a "name: value" list is matched with the sentence introducing the list, its header: "Routine blood and
urine tests: usually within 3 days." under "Most test results appear in the patient portal once they are ready:"
answers "how long do blood test results take", but it was weighed on its own words (blood, test) against the
passage's sentences, and "staff cannot give test results over the phone" (test, results) kept it out."""
from __future__ import annotations

import pytest

from rag.answering.extract import fallback_answer
from rag.answering.table_rows import row_quote
from rag.types import Hit

EN = ("Most test results appear in the MyRiverbend patient portal once they are ready:\n"
      "Routine blood and urine tests: usually within 3 days.\n"
      "X-ray, ultrasound, CT and MRI reports: within 5 business days.\n"
      "Biopsy (pathology) results: 7 to 10 business days.\n"
      "For your safety, staff cannot give test results over the phone. The only exception is INR (blood-thinner) "
      "results for patients registered with the Anticoagulation Clinic.")
ZH = ("检查结果一般在以下时间内可在APP查看：\n血常规：通常3天内。\nCT、核磁共振报告：5个工作日内。\n病理：7至10个工作日。\n"
      "出于安全考虑，工作人员不能通过电话告知检查结果。唯一例外是抗凝门诊登记患者的INR结果。")


@pytest.mark.parametrize("text, question, line", [
    (EN, "how long do blood test results take", "Routine blood and urine tests: usually within 3 days."),
    (ZH, "血常规检查结果多久出来", "血常规：通常3天内。")])
def test_a_list_line_holds_the_words_of_the_sentence_introducing_its_list(text, question, line):
    assert row_quote(text, question, named=True) == line
    hits = [Hit(chunk_id="c1", doc_id="d", text=text, score=1.0, source="results.md", title="Test results")]
    assert line.rstrip(".。") in fallback_answer(question, hits)


HOURS_EN = ("Unless a branch listing below says otherwise, our branches are open:\nMonday to Friday: 9:00 a.m. to "
            "5:00 p.m.\nSaturday: 9:00 a.m. to 1:00 p.m.\nSunday: closed\nQuayside Main Branch - 200 Quayside Avenue. "
            "Extended hours: open from 9:00 a.m. to 3:00 p.m. on Saturdays.")
HOURS_ZH = ("除下列网点另有说明外，各网点营业时间为：\n周一至周五：9:00—17:00\n周六：9:00—13:00\n周日：休息\n"
            "滨江支行位于滨江大道200号。延长营业：周六9:00—15:00营业。")


@pytest.mark.parametrize("text, question, wanted", [
    (HOURS_EN, "Is the Quayside branch open on Saturday?", "3:00 p.m. on Saturdays"),
    (HOURS_EN, "What time does the Quayside branch open on Saturday?", "3:00 p.m. on Saturdays"),
    (HOURS_ZH, "滨江支行周六营业吗", "周六9:00—15:00")])
def test_a_sentence_read_with_its_lines_first_still_outweighs_the_list(text, question, wanted):
    # the intro's words (branch, open) are the list line's, and the branch's own line (its first sentence names the
    # branch) holds more of the question: the standard Saturday hours are not the branch's
    assert row_quote(text, question, named=True) is None
    hits = [Hit(chunk_id="h", doc_id="b", text=text, score=1.0, source="branches.txt", title="")]
    assert wanted in fallback_answer(question, hits)
