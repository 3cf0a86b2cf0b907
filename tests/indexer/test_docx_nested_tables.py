"""A Word table nested in a table cell: its rows are lines of the cell, not one run of words."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from docx import Document

from indexer.parse.dispatch import parse_file
from indexer.parse.docx_nested_tables import has_nested_table

_CASES = {
    "en": (["Service", "Hours"], "Library", [("Monday", "18:00-22:00"), ("Tuesday", "18:00-21:00")],
           "Service | Hours\nLibrary | Monday 18:00-22:00; Tuesday 18:00-21:00"),
    "zh": (["服务", "开放时间"], "图书馆", [("周一", "18:00-22:00"), ("周二", "18:00-21:00")],
           "服务 | 开放时间\n图书馆 | 周一 18:00-22:00; 周二 18:00-21:00"),
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_nested_table_rows_are_lines_of_the_cell(tmp_path: Path, lang: str) -> None:
    header, name, schedule, expected = _CASES[lang]
    doc = Document()
    table = doc.add_table(rows=2, cols=2)
    for column, text in enumerate(header):
        table.cell(0, column).text = text
    table.cell(1, 0).text = name
    inner = table.cell(1, 1).add_table(rows=len(schedule), cols=2)
    for row, (day, hours) in enumerate(schedule):
        inner.cell(row, 0).text, inner.cell(row, 1).text = day, hours
    doc.save(str(tmp_path / "hours.docx"))
    assert [(e.kind, e.text) for e in parse_file(tmp_path / "hours.docx")] == [("table", expected)]


def test_table_nested_two_deep_is_part_of_its_row(tmp_path: Path) -> None:
    doc = Document()
    table = doc.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Gym"
    middle = table.cell(0, 1).add_table(rows=2, cols=2)
    middle.cell(0, 0).text, middle.cell(1, 0).text, middle.cell(1, 1).text = "Monday", "Friday", "closed"
    deepest = middle.cell(0, 1).add_table(rows=2, cols=1)
    deepest.cell(0, 0).text, deepest.cell(1, 0).text = "07:00-09:00", "17:00-21:00"
    doc.save(str(tmp_path / "gym.docx"))
    assert [e.text for e in parse_file(tmp_path / "gym.docx")] == [
        "Gym | Monday 07:00-09:00, 17:00-21:00; Friday closed"]


def test_tables_side_by_side_are_not_nested(tmp_path: Path) -> None:
    doc = Document()
    for text in ("A", "B"):
        doc.add_table(rows=1, cols=2).cell(0, 0).text = text
    doc.save(str(tmp_path / "two.docx"))
    with zipfile.ZipFile(tmp_path / "two.docx") as archive:
        assert not has_nested_table(archive.read("word/document.xml"))
