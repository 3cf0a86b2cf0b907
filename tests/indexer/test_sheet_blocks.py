"""A worksheet holding more than one block, set apart by blank rows: each block with its own header."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from indexer.parse.dispatch import parse_file

_SHEETS = {
    "en": {
        "prices": [["Item", "Price", "Stock"], ["Registration", 10, 100], ["Follow-up", 5, 80]],
        "effective": ["Effective", "2026-03-01"],
        "drugs": [["Drug", "Unit price", "Packs"], ["Aspirin", 12.5, 40]],
        "more": [["Blood test", 30, 20], ["X-ray", 120, 5]],
    },
    "zh": {
        "prices": [["项目", "单价", "库存"], ["挂号", 10, 100], ["复诊", 5, 80]],
        "effective": ["生效日期", "2026-03-01"],
        "drugs": [["药品", "单价（元）", "库存（盒）"], ["阿司匹林", 12.5, 40]],
        "more": [["血常规", 30, 20], ["X光", 120, 5]],
    },
}


def _sheet(path: Path, rows: list[list[object] | None]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Fees"
    for row in rows:
        sheet.append(row or [])
    workbook.save(path)
    return path


def _line(row: list[object]) -> str:
    return " | ".join(str(v) for v in row)


def _table(rows: list[list[object]]) -> str:
    return "\n".join(_line(row) for row in rows)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_key_value_line_after_a_blank_row_is_not_under_the_table(tmp_path: Path, lang: str) -> None:
    data = _SHEETS[lang]
    path = _sheet(tmp_path / "fees.xlsx", [*data["prices"], None, data["effective"]])
    assert [e.text for e in parse_file(path)] == [_table(data["prices"]), _line(data["effective"])]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_second_table_after_blank_rows_keeps_its_own_header(tmp_path: Path, lang: str) -> None:
    data = _SHEETS[lang]
    path = _sheet(tmp_path / "fees.xlsx", [*data["prices"], None, None, *data["drugs"]])
    elements = parse_file(path)
    assert [(e.kind, e.text) for e in elements] == [("table", _table(data["prices"])),
                                                   ("table", _table(data["drugs"]))]
    assert {e.section for e in elements} == {"Fees"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_spacer_row_inside_a_table_keeps_it_whole(tmp_path: Path, lang: str) -> None:
    data = _SHEETS[lang]
    title = "2026 price list" if lang == "en" else "2026年价目表"
    path = _sheet(tmp_path / "fees.xlsx", [[title], None, *data["prices"], None, *data["more"]])
    assert [(e.kind, e.text) for e in parse_file(path)] == [
        ("text", title), ("table", _table(data["prices"] + data["more"]))]
