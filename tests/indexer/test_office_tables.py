"""Merged table cells in Word documents: the value of a cell merged over rows belongs to each row it spans,
and the cells right of it stay under their own column headers (English and Chinese)."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexer.parse.dispatch import parse_file
from indexer.parse.table_spans import html_table_rows
from tests.word_tables import add_word_table


def _docx_with_merged_cells(path: Path, rows: list[list[str]]) -> Path:
    import docx

    document = docx.Document()
    document.add_paragraph("Fees / 收费")
    add_word_table(document, rows, merged_down=[(1, 2)])  # the department, merged down over its two items
    document.save(path)
    return path


@pytest.mark.parametrize(("rows", "expected"), [
    ([["Department", "Item", "Price"], ["Medicine", "Registration", "$10"], ["", "Follow-up", "$5"]],
     "Department | Item | Price\nMedicine | Registration | $10\nMedicine | Follow-up | $5"),
    ([["科室", "项目", "价格"], ["内科", "挂号", "10元"], ["", "复诊", "5元"]],
     "科室 | 项目 | 价格\n内科 | 挂号 | 10元\n内科 | 复诊 | 5元"),
])
def test_docx_cell_merged_over_rows_is_in_each_row(tmp_path: Path, rows: list[list[str]], expected: str) -> None:
    elements = parse_file(_docx_with_merged_cells(tmp_path / "fees.docx", rows))
    assert [e.text for e in elements if e.kind == "table"] == [expected]


def test_table_spans_on_the_grid() -> None:
    html = ("<table><tr><td colspan='3'>2026 fees</td></tr>"
            "<tr><th>Ward</th><th colspan='2'>Hours</th></tr>"
            "<tr><td rowspan='2'>Maternity</td><td>Mon</td><td>10-12</td></tr>"
            "<tr><td>Tue</td><td>16-18</td></tr>"
            "<tr><td rowspan='65534'>ICU</td><td>Wed</td><td>closed</td></tr></table>")
    assert html_table_rows(html) == [
        ["2026 fees", "", ""],  # across the whole row: a title, said once
        ["Ward", "Hours", "Hours"],  # over two columns: heads each
        ["Maternity", "Mon", "10-12"],
        ["Maternity", "Tue", "16-18"],
        ["ICU", "Wed", "closed"],  # a rowspan past the table's end stops at its last row
    ]
