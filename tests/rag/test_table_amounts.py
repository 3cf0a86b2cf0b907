"""A column of amounts never names a table's rows (rag.answering.amounts, table_rows._key_column): under a first
column of groups ("内科" over its kinds of visit), a second column of prices written with their unit ("10元",
"$300 per night") had been taken for the rows' names, as all different words, so no question naming a department
named a row and a column's quote through the KB's synonyms was refused ("¥10" was read as no word, and worked)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.answering.amounts import is_amount
from rag.answering.table_rows import row_quote, row_sentences
from tests.rag.quoting_kb import synonyms, written_pipeline

ZH = "科室 | 诊查费 | 号别\n内科 | 10元 | 普通号\n内科 | 30元 | 专家号\n外科 | 12元 | 普通号\n外科 | 35元 | 专家号"
ZH_PER_DAY = "病区 | 床位费 | 房型\n内科病区 | 45元/天 | 三人间\n内科病区 | 260元/天 | 单人间\n外科病区 | 50元/天 | 三人间"
EN = ("Ward | Daily rate | Room\nMedical ward | $300 per night | Shared room\nMedical ward | $550 per night | "
      "Private room\nSurgical ward | $320 per night | Shared room\nSurgical ward | $600 per night | Private room")


@pytest.mark.parametrize("cell", ["10元", "45元/天", "¥10", "1.5万元/年", "二十元", "10块", "5角", "3天", "2次", "5%",
                                  "10万", "$5", "$300 per night", "USD 5", "RMB 20", "10 yuan", "3 days", "2 times"])
def test_a_number_with_its_currency_or_unit_is_an_amount(cell):
    assert is_amount(cell)


@pytest.mark.parametrize("cell", ["普通号", "专家号", "免费", "1万元以下", "1万元至10万元（含）", "3个月", "1年",
                                  "7天通知存款", "Private room", "Grades 6-8", "Senior consultant", "VIP 2"])
def test_a_name_a_tier_or_a_term_is_no_amount(cell):
    assert not is_amount(cell)


@pytest.mark.parametrize("passage, expected", [
    (ZH, ["内科——诊查费：10元；号别：普通号。", "内科——诊查费：30元；号别：专家号。", "外科——诊查费：12元；号别：普通号。",
          "外科——诊查费：35元；号别：专家号。"]),
    (ZH_PER_DAY, ["内科病区——床位费：45元/天；房型：三人间。", "内科病区——床位费：260元/天；房型：单人间。",
                  "外科病区——床位费：50元/天；房型：三人间。"]),
    (EN, ["Medical ward - Daily rate: $300 per night; Room: Shared room.",
          "Medical ward - Daily rate: $550 per night; Room: Private room.",
          "Surgical ward - Daily rate: $320 per night; Room: Shared room.",
          "Surgical ward - Daily rate: $600 per night; Room: Private room."]),
], ids=["zh-yuan", "zh-per-day", "en-per-night"])
def test_rows_are_named_by_their_group_not_by_their_amount(passage, expected):
    assert row_sentences(passage) == expected


@pytest.mark.parametrize("passage, question, expected", [
    (ZH, "外科专家号的诊查费是多少？", "外科——诊查费：35元；号别：专家号。"),
    (EN, "What is the daily rate of a private room in the surgical ward?",
     "Surgical ward - Daily rate: $600 per night; Room: Private room."),
], ids=["zh", "en"])
def test_a_question_naming_a_group_and_a_row_gets_it_under_a_column_of_amounts(passage, question, expected):
    assert row_quote(passage, question) == expected


@pytest.fixture(scope="module")
def priced_kb(tmp_path_factory, ens):
    """Two price tables whose group is written once and whose second column holds the amounts with their unit:
    a clinic's fees (CSV, Chinese) and a hospital's ward rates (CSV, English)."""
    return written_pipeline(tmp_path_factory.mktemp("amounts"), "amounts", {
        "门诊诊查费.csv": "科室,诊查费,号别\n内科,10元,普通号\n,30元,专家号\n外科,12元,普通号\n,35元,专家号\n",
        "ward-rates.csv": "Ward,Daily rate,Room\nMedical ward,$300 per night,Shared room\n,$550 per night,Private room\n"
                          "Surgical ward,$320 per night,Shared room\n,$600 per night,Private room\n",
    }, ens)


@pytest.mark.parametrize("question, rules, source, expected", [
    ("挂号费多少", "挂号费, 诊查费", "门诊诊查费.csv", "内科——诊查费：10元。内科——诊查费：30元。外科——诊查费：12元。外科——诊查费：35元。"),
    ("外科专家号挂号费多少", "挂号费, 诊查费", "门诊诊查费.csv", "外科——诊查费：35元。"),
    ("外科专家号的诊查费是多少？", "", "门诊诊查费.csv", "外科——诊查费：35元；号别：专家号。"),
    ("How much is the room charge?", "room charge => daily rate", "ward-rates.csv",
     "Medical ward - Daily rate: $300 per night. Medical ward - Daily rate: $550 per night. "
     "Surgical ward - Daily rate: $320 per night. Surgical ward - Daily rate: $600 per night."),
    ("What is the daily rate of a private room in the surgical ward?", "", "ward-rates.csv",
     "Surgical ward - Daily rate: $600 per night; Room: Private room."),
], ids=["column-zh", "column-row-zh", "row-zh", "column-en", "row-en"])
def test_the_pipeline_quotes_a_column_of_amounts_by_the_rows_groups(priced_kb, question, rules, source, expected):
    with synonyms(priced_kb, rules):
        ans = priced_kb.ask(question)
    assert re.sub(r"\s*\[\d+\]", "", ans.answer) == expected
    assert {Path(c.source).name for c in ans.citations} == {source}
