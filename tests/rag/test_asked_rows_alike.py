"""Rows named alike outside their brackets, which a question asking for a number names equally, are quoted together
(rag.answering.table_rows.alike_rows_quote,
quoted in rank order as a row found by the kind of number alone is): "how long does the bank take to respond to a complaint" asks for a duration
that both "Final response (most complaints)" and "Final response (complex complaints)" give; a tie was no row, and
the answer was a lower sentence's "provisional credit within 10 business days". Rows are matched with the question
as quotes are (rag.answering.equivalents: a question's "respond" is a row's "response")."""
from __future__ import annotations

import pytest

from rag.answering.table_rows import alike_rows_quote, row_quote
from tests.rag.quoting_kb import written_pipeline

# the bank sample's timescales (data/sample/en/complaints_procedure.html) as the parser writes the table into a chunk
EN_TABLE = ("Stage | Our target\nAcknowledgement | Within 2 business days\n"
            "Final response (most complaints) | Within 15 business days\n"
            "Final response (complex complaints) | Within 35 business days, with a written update by day 15\n"
            "Customer Advocate review | Within 30 calendar days of your request\n"
            "Complaints about unauthorized card transactions or electronic transfer errors are handled under our card "
            "dispute process, which has its own timelines; in most cases we give you a provisional credit within 10 "
            "business days.")
ZH_TABLE = ("阶段 | 处理时限\n受理确认 | 2个工作日内\n最终答复（一般投诉） | 15个工作日内\n"
            "最终答复（复杂投诉） | 35个工作日内，第15日书面告知进展\n申诉复核 | 申请之日起30日内\n"
            "银行卡盗刷和转账差错的投诉按争议交易流程处理，一般在10个工作日内先行垫付。")
EN_BOTH = ("Final response (most complaints) - Our target: Within 15 business days. "
           "Final response (complex complaints) - Our target: Within 35 business days, with a written update by day 15.")
ZH_BOTH = "最终答复（一般投诉）——处理时限：15个工作日内。最终答复（复杂投诉）——处理时限：35个工作日内，第15日书面告知进展。"


@pytest.mark.parametrize("passage, question, expected", [
    (EN_TABLE, "how long does the bank take to respond to a complaint", EN_BOTH),
    (ZH_TABLE, "投诉要几个工作日才有结果", ZH_BOTH),
], ids=["en", "zh"])
def test_rows_named_alike_are_quoted_together(passage, question, expected):
    assert row_quote(passage, question) is None  # no single row
    assert alike_rows_quote(passage, question) == expected


@pytest.mark.parametrize("passage, question, expected", [
    (EN_TABLE, "how long does the bank take to respond to a complex complaint",
     "Final response (complex complaints) - Our target: Within 35 business days, with a written update by day 15."),
    (ZH_TABLE, "复杂投诉多久能给答复", "最终答复（复杂投诉）——处理时限：35个工作日内，第15日书面告知进展。"),
], ids=["en", "zh"])
def test_the_row_the_question_says_is_quoted_alone(passage, question, expected):
    assert row_quote(passage, question) == expected
    assert alike_rows_quote(passage, question) is None


@pytest.mark.parametrize("passage, question", [
    ("Stage | Our target\nAcknowledgement of a complaint | Within 2 business days\n"
     "Review of a complaint | Within 30 calendar days", "how long does the bank take to respond to a complaint"),
    ("阶段 | 处理时限\n投诉受理 | 2个工作日内\n投诉复核 | 30日内", "投诉多久能给答复"),
], ids=["en", "zh"])
def test_rows_tied_under_other_names_are_still_no_answer(passage, question):
    assert row_quote(passage, question) is None and alike_rows_quote(passage, question) is None


def test_the_pipeline_quotes_both_final_response_rows(tmp_path, ens):
    pipe = written_pipeline(tmp_path, "complaints", {
        "complaints.md": "# Complaints\n\n## Timescales\n\n| Stage | Our target |\n|---|---|\n"
                         "| Acknowledgement | Within 2 business days |\n"
                         "| Final response (most complaints) | Within 15 business days |\n"
                         "| Final response (complex complaints) | Within 35 business days, with a written update by day 15 |\n"
                         "| Customer Advocate review | Within 30 calendar days of your request |\n\n"
                         "Complaints about unauthorized card transactions are handled under our card dispute process; "
                         "in most cases we give you a provisional credit within 10 business days.\n",
        "投诉处理.md": "# 投诉处理\n\n## 处理时限\n\n| 阶段 | 处理时限 |\n|---|---|\n| 受理确认 | 2个工作日内 |\n"
                      "| 最终答复（一般投诉） | 15个工作日内 |\n| 最终答复（复杂投诉） | 35个工作日内，第15日书面告知进展 |\n"
                      "| 申诉复核 | 申请之日起30日内 |\n\n银行卡盗刷的投诉按争议交易流程处理，一般在10个工作日内先行垫付。\n",
    }, ens)
    en = pipe.ask("how long does the bank take to respond to a complaint").answer
    assert "Within 15 business days" in en and "Within 35 business days" in en, en
    zh = pipe.ask("投诉要几个工作日才有结果").answer
    assert "15个工作日内" in zh and "35个工作日内" in zh, zh
