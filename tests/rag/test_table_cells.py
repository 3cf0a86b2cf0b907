"""A table line's blank first cell keeps its column (rag.answering.table_rows._cells): the parsers write a blank
first cell as a line opening with its pipe (" | 诊查费 | ¥11", a header's empty corner " | 普通号 | 专家号"), and
the pipe was stripped as Markdown's, so every cell of the line moved one column left ("外科——专家号：¥12；¥35" for
the row whose 普通号 fee is ¥12). A column of row numbers ("序号", "No.") does not name the rows: the next does."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.answering.table_rows import row_quote, row_sentences
from tests.rag.quoting_kb import written_pipeline


@pytest.mark.parametrize("passage, expected", [
    ("序号 | 项目 | 价格\n1 | 挂号费 | ¥5\n | 诊查费 | ¥11", ["挂号费——序号：1；价格：¥5。", "诊查费——价格：¥11。"]),
    ("No. | Item | Price\n1 | Registration | $5\n | Visit | $11", ["Registration - No.: 1; Price: $5.", "Visit - Price: $11."]),
    (" | 普通号 | 专家号\n内科 | ¥10 | ¥30\n外科 | ¥12 | ¥35", ["内科——普通号：¥10；专家号：¥30。", "外科——普通号：¥12；专家号：¥35。"]),
    (" | First visit | Follow-up\nMedicine | $40 | $25\nSurgery | $60 | $35",
     ["Medicine - First visit: $40; Follow-up: $25.", "Surgery - First visit: $60; Follow-up: $35."]),
    ("项目 | 单位 | 价格\n | 次 | ¥11\n挂号费 | 次 | ¥5", ["挂号费——单位：次；价格：¥5。", "单位：次；价格：¥11。"]),
    ("Item | Unit | Price\n | visit | $11\nRegistration | visit | $5 | ",
     ["Registration - Unit: visit; Price: $5.", "Unit: visit; Price: $11."]),
    ("| 项目 | 单位 | 价格 |\n|---|---|---|\n| 挂号费 | 次 | ¥5 |\n| | 次 | ¥11 |", ["挂号费——单位：次；价格：¥5。", "单位：次；价格：¥11。"]),
    ("Service | Fee | Notes\nStop payment | $30.00 | \nWire | $25 | online",
     ["Stop payment - Fee: $30.00.", "Wire - Fee: $25; Notes: online."]),
], ids=["zh-numbered", "en-numbered", "zh-corner", "en-corner", "zh-blank-under-header", "en-blank-under-header",
        "zh-markdown", "en-blank-last"])
def test_a_blank_cell_keeps_every_cell_under_its_column(passage, expected):
    assert row_sentences(passage) == expected


@pytest.mark.parametrize("passage, question, expected", [
    (" | 普通号 | 专家号\n内科 | ¥10 | ¥30\n外科 | ¥12 | ¥35", "外科专家号多少钱？", "外科——普通号：¥12；专家号：¥35。"),
    (" | First visit | Follow-up\nMedicine | $40 | $25\nSurgery | $60 | $35", "What is the Surgery follow-up fee?",
     "Surgery - First visit: $60; Follow-up: $35."),
    ("序号 | 项目 | 价格\n1 | 病历本 | ¥1\n | 诊查费 | ¥11\n2 | 床位费 | ¥45", "床位费多少钱？", "床位费——序号：2；价格：¥45。"),
    ("No. | Item | Price\n1 | Records book | $1\n | Visit | $11\n2 | Bed | $45", "How much is the bed?",
     "Bed - No.: 2; Price: $45."),
], ids=["zh-corner", "en-corner", "zh-numbered", "en-numbered"])
def test_the_row_a_question_names_is_quoted_with_its_cells_under_their_headers(passage, question, expected):
    assert row_quote(passage, question) == expected


@pytest.fixture(scope="module")
def cells_kb(tmp_path_factory, ens):
    """CSV price tables as the parser writes them: a header with an empty corner cell (Chinese, English) and a
    numbered list whose unnumbered row has a blank first cell (Chinese, English)."""
    return written_pipeline(tmp_path_factory.mktemp("cells"), "cells", {
        "门诊挂号费.csv": ",普通号,专家号\n内科,¥10,¥30\n外科,¥12,¥35\n儿科,¥8,¥25\n",
        "visit-fees.csv": ",First visit,Follow-up\nMedicine,$40,$25\nSurgery,$60,$35\n"
                          "Paediatrics,$30,$20\n",
        "住院收费.csv": "序号,项目,价格\n1,病历本,¥1\n,诊查费,¥11\n2,床位费,¥45\n3,护理费,¥20\n",
        "ward-charges.csv": "No.,Item,Price\n1,Records book,$1\n,Ward visit,$11\n2,Bed,$45\n"
                            "3,Nursing care,$20\n",
    }, ens)


@pytest.mark.parametrize("question, source, expected", [
    ("外科专家号多少钱？", "门诊挂号费.csv", "外科——普通号：¥12；专家号：¥35。"),
    ("What is the Surgery follow-up fee?", "visit-fees.csv", "Surgery - First visit: $60; Follow-up: $35."),
    ("诊查费多少钱？", "住院收费.csv", "诊查费——价格：¥11。"),
    ("How much is a ward visit?", "ward-charges.csv", "Ward visit - Price: $11."),
], ids=["corner-zh", "corner-en", "numbered-zh", "numbered-en"])
def test_the_pipeline_quotes_a_row_with_its_cells_under_their_headers(cells_kb, question, source, expected):
    ans = cells_kb.ask(question)
    assert re.sub(r"\s*\[\d+\]", "", ans.answer) == expected
    assert {Path(c.source).name for c in ans.citations} == {source}
