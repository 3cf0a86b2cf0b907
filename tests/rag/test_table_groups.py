"""A table whose first column names groups of rows (a department over its kinds of doctor), asked about one row
of a group: the row the question names by its group and its other cells is quoted, not the group's first row;
a question naming the group alone gets the group's rows (rag.answering.table_rows)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.answering.table_rows import row_quote, tied_rows_quote
from tests.rag.quoting_kb import synonyms, written_pipeline

ZH = ("科室 | 号别 | 诊查费\n心内科 | 普通门诊 | ¥10\n心内科 | 主任医师 | ¥30\n"
      "消化内科 | 普通门诊 | ¥11\n消化内科 | 主任医师 | ¥33")
EN = ("Department | Doctor | Visit fee\nCardiology | General clinic | $10\nCardiology | Senior consultant | $30\n"
      "Gastroenterology | General clinic | $11\nGastroenterology | Senior consultant | $33")


@pytest.mark.parametrize("passage, question, expected", [
    (ZH, "消化内科主任医师的诊查费是多少？", "消化内科——号别：主任医师；诊查费：¥33。"),
    (ZH, "心内科主任医师挂号多少钱？", "心内科——号别：主任医师；诊查费：¥30。"),
    (ZH, "心内科普通门诊的诊查费是多少？", "心内科——号别：普通门诊；诊查费：¥10。"),
    (EN, "What is the Cardiology senior consultant fee?", "Cardiology - Doctor: Senior consultant; Visit fee: $30."),
    (EN, "How much is a Gastroenterology senior consultant visit?",
     "Gastroenterology - Doctor: Senior consultant; Visit fee: $33."),
    (EN, "What is the Gastroenterology general clinic fee?", "Gastroenterology - Doctor: General clinic; Visit fee: $11."),
])
def test_a_question_naming_a_group_and_one_of_its_rows_gets_that_row(passage, question, expected):
    assert row_quote(passage, question) == expected


@pytest.mark.parametrize("passage, question, expected", [
    (ZH, "消化内科的诊查费是多少？", "消化内科——号别：普通门诊；诊查费：¥11。消化内科——号别：主任医师；诊查费：¥33。"),
    (EN, "What is the Cardiology visit fee?",
     "Cardiology - Doctor: General clinic; Visit fee: $10. Cardiology - Doctor: Senior consultant; Visit fee: $30."),
], ids=["zh", "en"])
def test_a_question_naming_a_group_alone_gets_its_rows_not_its_first(passage, question, expected):
    assert row_quote(passage, question) is None
    assert tied_rows_quote(passage, question)[1] == expected


@pytest.fixture(scope="module")
def clinic_kb(tmp_path_factory, ens):
    """Two clinic fee tables whose department is written once over its kinds of doctor: a CSV (Chinese) and a
    Markdown table (English); the parser carries the department down (indexer.parse.row_names)."""
    return written_pipeline(tmp_path_factory.mktemp("groups"), "groups", {
        "门诊号别.csv": "科室,号别,诊查费\n心内科,普通门诊,¥10\n,主任医师,¥30\n消化内科,普通门诊,¥11\n"
                    ",主任医师,¥33\n",
        "clinic-fees.md": "# Clinic fees by doctor\n\nEach clinic visit is charged by department and kind of doctor.\n\n"
                          "| Department | Doctor | Visit fee |\n|---|---|---|\n| Cardiology | General clinic | $10 |\n"
                          "| | Senior consultant | $30 |\n| Gastroenterology | General clinic | $11 |\n"
                          "| | Senior consultant | $33 |\n",
    }, ens)


@pytest.mark.parametrize("question, source, expected", [
    ("消化内科主任医师的诊查费是多少？", "门诊号别.csv", "消化内科——号别：主任医师；诊查费：¥33。"),
    ("What is the Gastroenterology senior consultant visit fee?", "clinic-fees.md",
     "Gastroenterology - Doctor: Senior consultant; Visit fee: $33."),
    ("消化内科的诊查费是多少？", "门诊号别.csv", "消化内科——号别：普通门诊；诊查费：¥11。消化内科——号别：主任医师；诊查费：¥33。"),
    ("What is the Gastroenterology visit fee?", "clinic-fees.md",
     "Gastroenterology - Doctor: General clinic; Visit fee: $11. Gastroenterology - Doctor: Senior consultant; "
     "Visit fee: $33."),
], ids=["row-zh", "row-en", "group-zh", "group-en"])
def test_the_pipeline_quotes_the_row_of_the_group_the_question_names(clinic_kb, question, source, expected):
    ans = clinic_kb.ask(question)
    assert re.sub(r"\s*\[\d+\]", "", ans.answer) == expected
    assert {Path(c.source).name for c in ans.citations} == {source}


@pytest.mark.parametrize("question, rules, expected", [
    ("挂号费多少", "挂号费, 诊查费", "心内科——诊查费：¥10[1]。心内科——诊查费：¥30[1]。消化内科——诊查费：¥11[1]。消化内科——诊查费：¥33[1]。"),
    ("How much is the consultation fee?", "consultation fee => visit fee",
     "Cardiology - Visit fee: $10 [1]. Cardiology - Visit fee: $30 [1]. Gastroenterology - Visit fee: $11 [1]. "
     "Gastroenterology - Visit fee: $33 [1]."),
], ids=["zh", "en"])
def test_a_column_quote_cites_each_row_as_its_language_writes_a_marker(clinic_kb, question, rules, expected):
    """Chinese takes no space before a citation marker: each row but the last had one ("¥10 [1]。")."""
    with synonyms(clinic_kb, rules):
        assert clinic_kb.ask(question).answer == expected
