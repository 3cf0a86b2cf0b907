"""A table's rows under a group written once (indexer.parse.row_names), asked through the quoting pipeline: a
column the question names through the KB's synonyms is quoted row by row, each row with its name. A CSV or Markdown
table with the group's name left blank under its first row lost those rows from the quote ("挂号费多少" got the
two 普通号 fees, not the two 专家号 ones: the parsed row " | ¥30 | 专家号" had no name); a Word table merged
down and an HTML rowspan gave every row (indexer.parse.table_spans), and still do."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.rag.quoting_kb import synonyms, written_pipeline
from tests.word_tables import add_word_table


def _merged_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("住院床位收费标准", 1)
    document.add_paragraph("住院病房的床位费按病区和房型每天收取，医保患者按三人间标准报销。")
    rows = [("病区", "床位费", "房型"), ("内科病区", "¥45", "三人间"), ("", "¥260", "单人间"),
            ("外科病区", "¥50", "三人间"), ("", "¥280", "单人间")]
    add_word_table(document, rows, merged_down=[(1, 2), (3, 4)])
    document.save(path)


@pytest.fixture(scope="module")
def grouped_kb(tmp_path_factory, ens):
    """Four price tables whose first column names groups of two rows: blank under each name (CSV, Chinese;
    Markdown, English) or merged down (Word, Chinese; an HTML rowspan, English)."""
    return written_pipeline(tmp_path_factory.mktemp("grouped"), "grouped", {
        "门诊诊查费.csv": "科室,诊查费,号别\n内科,¥10,普通号\n,¥30,专家号\n外科,¥12,普通号\n,¥35,专家号\n",
        "床位费.docx": _merged_docx,
        "visit-fees.md": "# Clinic visit fees\n\nEach clinic visit is charged by department and kind of visit.\n\n"
                         "| Department | Consultation fee | Visit |\n|---|---|---|\n| Medicine | $40 | First visit |\n"
                         "| | $25 | Follow-up |\n| Surgery | $60 | First visit |\n| | $35 | Follow-up |\n",
        "ward-rates.html": "<html><body><h1>Inpatient ward rates</h1><p>Each night in a ward is charged by ward and kind of room.</p>"
                           "<table><tr><th>Ward</th><th>Daily rate</th><th>Room</th></tr>"
                           "<tr><td rowspan='2'>Medical ward</td><td>$300</td><td>Shared room</td></tr>"
                           "<tr><td>$550</td><td>Private room</td></tr>"
                           "<tr><td rowspan='2'>Surgical ward</td><td>$320</td><td>Shared room</td></tr>"
                           "<tr><td>$600</td><td>Private room</td></tr></table></body></html>",
    }, ens)


@pytest.mark.parametrize("question, rules, source, expected", [
    ("挂号费多少", "挂号费, 诊查费", "门诊诊查费.csv",
     "内科——诊查费：¥10。内科——诊查费：¥30。外科——诊查费：¥12。外科——诊查费：¥35。"),
    ("How much is the visit fee?", "visit fee => consultation fee", "visit-fees.md",
     "Medicine - Consultation fee: $40. Medicine - Consultation fee: $25. Surgery - Consultation fee: $60. "
     "Surgery - Consultation fee: $35."),
    ("住院费多少", "住院费, 床位费", "床位费.docx",
     "内科病区——床位费：¥45。内科病区——床位费：¥260。外科病区——床位费：¥50。外科病区——床位费：¥280。"),
    ("How much is the room charge?", "room charge => daily rate", "ward-rates.html",
     "Medical ward - Daily rate: $300. Medical ward - Daily rate: $550. Surgical ward - Daily rate: $320. "
     "Surgical ward - Daily rate: $600."),
], ids=["csv-blank-zh", "markdown-blank-en", "docx-merged-zh", "html-rowspan-en"])
def test_every_row_of_a_group_is_quoted_with_its_name(grouped_kb, question, rules, source, expected):
    with synonyms(grouped_kb, rules):
        ans = grouped_kb.ask(question)
    assert re.sub(r"\s*\[\d+\]", "", ans.answer) == expected
    assert {Path(c.source).name for c in ans.citations} == {source}
