"""HTML tables as a browser lays them out: merged cells (rowspan/colspan) in every row and column they cover."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from indexer.parse.dispatch import parse_file


def _tables(tmp_path: Path, body: str, name: str = "page.html") -> list[str]:
    path = tmp_path / name
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{body}</body></html>",
                    encoding="utf-8")
    return [e.text for e in parse_file(path) if e.kind == "table"]


@pytest.mark.parametrize(("body", "expected"), [
    ("<h1>Visiting hours</h1><table border=1><tr><th>Ward</th><th>Hours</th></tr>"
     "<tr><td rowspan=2>Maternity</td><td>10:00-12:00</td></tr><tr><td>16:00-18:00</td></tr></table>",
     "Ward | Hours\nMaternity | 10:00-12:00\nMaternity | 16:00-18:00"),
    ("<h1>探视时间</h1><table border=1><tr><th>病区</th><th>时间</th></tr>"
     "<tr><td rowspan='2'>产科</td><td>10:00-12:00</td></tr><tr><td>16:00-18:00</td></tr></table>",
     "病区 | 时间\n产科 | 10:00-12:00\n产科 | 16:00-18:00"),
    # merged across columns: in each; rowspan=0 runs to the table's end
    ("<table><tr><th>科室</th><th>上午</th><th>下午</th></tr><tr><td rowspan=0>内科</td>"
     "<td colspan=2>8:00-17:00</td></tr><tr><td>8:00-12:00</td><td>停诊</td></tr></table>",
     "科室 | 上午 | 下午\n内科 | 8:00-17:00 | 8:00-17:00\n内科 | 8:00-12:00 | 停诊"),
])
def test_merged_cells_are_in_every_row_and_column(tmp_path: Path, body: str, expected: str) -> None:
    assert _tables(tmp_path, body) == [expected]


def test_a_cell_across_the_whole_row_is_said_once(tmp_path: Path) -> None:
    body = ("<table><tr><th>Item</th><th>Price</th></tr><tr><td colspan=2>Outpatient</td></tr>"
            "<tr><td>Registration</td><td>$5</td></tr></table>")
    text = _tables(tmp_path, body)[0]
    assert text.count("Outpatient") == 1
    assert "Registration | $5" in text


def test_a_nested_table_keeps_its_own_rows(tmp_path: Path) -> None:
    body = ("<table><tr><th>Ward</th><th>Hours</th></tr><tr><td rowspan=2>ICU</td><td>"
            "<table><tr><td>A</td><td>B</td></tr></table></td></tr><tr><td>16:00</td></tr></table>")
    assert "ICU | 16:00" in "\n".join(_tables(tmp_path, body))


def test_hostile_spans_are_bounded(tmp_path: Path) -> None:
    rows = "".join(f"<tr><td>r{i}</td></tr>" for i in range(200))
    body = f"<table><tr><td rowspan=65534 colspan=100000>x</td></tr>{rows}</table>" * 3
    start = time.monotonic()
    tables = _tables(tmp_path, body)
    assert time.monotonic() - start < 20
    assert tables  # parsed, not exploded: past the budget a table is read as before
    assert sum(map(len, tables)) < 100_000  # spread, these would be 600,000 cells


def _elements(tmp_path: Path, body: str, name: str = "page.html") -> list[tuple[str, str, str]]:
    path = tmp_path / name
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{body}</body></html>",
                    encoding="utf-8")
    return [(e.kind, e.section, e.text) for e in parse_file(path)]


@pytest.mark.parametrize(("body", "expected"), [
    ("<h1>Visiting hours</h1><table width='100%'><tr><td width='200'><h2>Parking</h2>"
     "<p>Parking costs $2 per hour.</p></td><td><h2>Cafeteria</h2><p>The cafeteria opens at 7:00.</p>"
     "</td></tr></table>",
     [("title", "Visiting hours > Parking", "Parking"),
      ("text", "Visiting hours > Parking", "Parking costs $2 per hour."),
      ("text", "Visiting hours > Cafeteria", "The cafeteria opens at 7:00.")]),
    # a data table inside the layout table stays a table, under the layout table's heading
    ("<table role='presentation'><tr><td><h1>门诊指南</h1><p>门诊时间为周一至周五8:00-17:00。</p>"
     "<table border=1><tr><th>科室</th><th>楼层</th></tr><tr><td>内科</td><td>2楼</td></tr></table>"
     "</td></tr></table>",
     [("title", "门诊指南", "门诊指南"), ("text", "门诊指南", "门诊时间为周一至周五8:00-17:00。"),
      ("table", "门诊指南", "科室 | 楼层\n内科 | 2楼")]),
], ids=["en", "zh-data-table-inside"])
def test_a_layout_table_reads_as_its_headings_and_paragraphs(tmp_path: Path, body: str,
                                                             expected: list[tuple[str, str, str]]) -> None:
    elements = _elements(tmp_path, body)
    assert [e for e in expected if e not in elements] == [], elements
    # the layout table itself is no table: only the data tables expected
    assert [e for e in elements if e[0] == "table"] == [e for e in expected if e[0] == "table"], elements


def test_a_single_column_text_box_is_unwrapped(tmp_path: Path) -> None:
    long = "本院实行预约挂号制度，患者可通过微信公众号、自助机或人工窗口预约，" * 8  # over 200 characters
    body = f"<table><tr><td><p>{long}</p></td></tr><tr><td><p>咨询电话：010-1234</p></td></tr></table>"
    assert [k for k, _, _ in _elements(tmp_path, body)] == ["text", "text"]


@pytest.mark.parametrize("body", [
    # data tables, with <p> in every cell as Word writes them, a header row, or values only
    "<table><tr><td><p>Item</p></td><td><p>Price</p></td></tr><tr><td><p>X-ray</p></td><td><p>$40</p></td></tr></table>",
    "<table><tr><th><h3>科室</h3></th><th>楼层</th></tr><tr><td>内科</td><td>2楼</td></tr></table>",
    "<table><tr><td>Registration</td><td>$5</td><td>Mon-Fri</td></tr></table>",
])
def test_data_tables_stay_tables(tmp_path: Path, body: str) -> None:
    assert [k for k, _, _ in _elements(tmp_path, body)] == ["table"]
