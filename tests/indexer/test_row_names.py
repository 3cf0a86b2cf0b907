"""A table row whose first cell is blank under a named row carries that name (indexer.parse.row_names), in every
format whose tables go through indexer.parse.tabular.table_elements. A group written once ("内科" over its two
fees, typed without merging in Word or a worksheet, or left blank in CSV and Markdown) had left its other rows
nameless: " | 诊查费 | ¥11", quoted as "——项目：诊查费；价格：¥11" or dropped from a column's quote. Cells merged
downwards were already repeated (indexer.parse.table_spans); they give the same table."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexer.parse.dispatch import parse_file
from tests.word_tables import add_word_table

ZH = [["科室", "项目", "价格"], ["内科", "挂号费", "¥5"], ["", "诊查费", "¥11"], ["外科", "挂号费", "¥6"], ["", "诊查费", "¥12"]]
ZH_TABLE = "科室 | 项目 | 价格\n内科 | 挂号费 | ¥5\n内科 | 诊查费 | ¥11\n外科 | 挂号费 | ¥6\n外科 | 诊查费 | ¥12"
EN = [["Department", "Visit", "Fee"], ["Medicine", "First visit", "$40"], ["", "Follow-up", "$25"],
      ["Surgery", "First visit", "$60"], ["", "Follow-up", "$35"]]
EN_TABLE = ("Department | Visit | Fee\nMedicine | First visit | $40\nMedicine | Follow-up | $25\n"
            "Surgery | First visit | $60\nSurgery | Follow-up | $35")


def _csv(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _markdown(path: Path, rows: list[list[str]]) -> Path:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    path.write_text("# Fees\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _html(path: Path, rows: list[list[str]]) -> Path:
    cells = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    path.write_text(f"<html><body><h1>Fees</h1><table>{cells}</table></body></html>", encoding="utf-8")
    return path


def _docx(path: Path, rows: list[list[str]], merged: bool = False) -> Path:
    import docx

    document = docx.Document()
    document.add_paragraph("Fees / 收费")
    add_word_table(document, rows, merged_down=[(1, 2), (3, 4)] if merged else [])  # each group's name over its rows
    document.save(path)
    return path


def _merged_docx(path: Path, rows: list[list[str]]) -> Path:
    return _docx(path, rows, merged=True)


def _xlsx(path: Path, rows: list[list[str]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


def _tables(path: Path) -> list[str]:
    return [e.text for e in parse_file(path) if e.kind == "table"]


@pytest.mark.parametrize("make, name, rows, expected", [
    (_csv, "收费.csv", ZH, ZH_TABLE),
    (_markdown, "fees.md", EN, EN_TABLE),
    (_docx, "收费.docx", ZH, ZH_TABLE),  # typed without merging: the cells left blank
    (_xlsx, "fees.xlsx", EN, EN_TABLE),
    (_html, "收费.html", ZH, ZH_TABLE),
    (_merged_docx, "merged.docx", EN, EN_TABLE),  # merged down: the same table, as before
], ids=["csv-zh", "markdown-en", "docx-zh", "xlsx-en", "html-zh", "docx-merged-en"])
def test_a_blank_first_cell_under_a_named_row_carries_its_name(tmp_path: Path, make, name, rows, expected) -> None:
    assert _tables(make(tmp_path / name, rows)) == [expected]


def test_a_group_cut_by_the_table_split_names_the_rows_of_the_next_part(tmp_path: Path) -> None:
    """A table is cut into parts of 40 rows; the rows of a group that run into the next part keep its name."""
    rows = [["Department", "Visit", "Fee"]] + [[f"Clinic {i}", "First visit", f"${i}"] for i in range(1, 39)]
    rows += [["Surgery", "First visit", "$60"], ["", "Follow-up", "$35"], ["", "Dressing", "$15"]]
    parts = _tables(_csv(tmp_path / "fees.csv", rows))
    assert len(parts) == 2 and parts[0].endswith("Surgery | First visit | $60\nSurgery | Follow-up | $35")
    assert parts[1] == "Department | Visit | Fee\nSurgery | Dressing | $15"


@pytest.mark.parametrize("rows, expected", [
    # a row's number names that row alone
    ([["序号", "项目", "价格"], ["1", "挂号费", "¥5"], ["", "诊查费", "¥11"]], "序号 | 项目 | 价格\n1 | 挂号费 | ¥5\n | 诊查费 | ¥11"),
    ([["No.", "Item", "Price"], ["1.", "Registration", "$5"], ["", "Consultation", "$11"]],
     "No. | Item | Price\n1. | Registration | $5\n | Consultation | $11"),
    # no named row above: right under the header
    ([["Department", "Visit", "Fee"], ["", "First visit", "$40"], ["Surgery", "Follow-up", "$35"]],
     "Department | Visit | Fee\n | First visit | $40\nSurgery | Follow-up | $35"),
], ids=["zh-row-numbers", "en-row-numbers", "en-blank-under-the-header"])
def test_a_blank_first_cell_with_no_name_above_stays_blank(tmp_path: Path, rows, expected) -> None:
    assert _tables(_csv(tmp_path / "rows.csv", rows)) == [expected]


def test_a_note_line_ends_the_group_above_it(tmp_path: Path) -> None:
    """A sheet's note or section line splits its table: the rows after it are not the group's above it."""
    rows = [["科室", "项目", "价格"], ["内科", "挂号费", "¥5"], ["以下为夜间门诊", "", ""], ["", "诊查费", "¥15"]]
    elements = parse_file(_csv(tmp_path / "收费.csv", rows))
    assert [(e.kind, e.text) for e in elements] == [
        ("table", "科室 | 项目 | 价格\n内科 | 挂号费 | ¥5"), ("text", "以下为夜间门诊"), ("table", "科室 | 项目 | 价格\n | 诊查费 | ¥15")]


# A year in the first column names the rows under it as a word would; a number is a row's only in a column headed
# as numbers are (序号, No.) or counting 1, 2, 3, or written as one ("2."). A grand total under the last group is no
# group's row; a total under each group, with named rows after it, is that group's.
YEARS_EN = [["Year", "Quarter", "Revenue"], ["2024", "Q1", "$5"], ["", "Q2", "$6"], ["2025", "Q1", "$7"], ["", "Q2", "$8"]]
YEARS_ZH = [["年度", "季度", "收入"], ["2024", "一季度", "¥5万"], ["", "二季度", "¥6万"]]
TOTAL_ZH = [["科室", "项目", "价格"], ["内科", "挂号费", "¥5"], ["", "诊查费", "¥11"], ["外科", "挂号费", "¥6"],
            ["", "诊查费", "¥12"], ["", "合计", "¥34"]]
TOTAL_EN = [["Department", "Visit", "Fee"], ["Medicine", "First visit", "$40"], ["", "Follow-up", "$25"],
            ["", "Grand total", "$65"]]
SUBTOTALS_ZH = [["科室", "项目", "价格"], ["内科", "挂号费", "¥5"], ["", "小计", "¥5"], ["外科", "挂号费", "¥6"],
                ["", "小计", "¥6"], ["", "总计", "¥11"]]
GROUP_TOTALS_EN = [["Department", "Visit", "Fee"], ["Medicine", "First visit", "$40"], ["", "Total", "$40"],
                   ["Surgery", "First visit", "$60"], ["", "Total", "$60"]]


@pytest.mark.parametrize("make, name, rows, expected", [
    (_csv, "revenue.csv", YEARS_EN, "Year | Quarter | Revenue\n2024 | Q1 | $5\n2024 | Q2 | $6\n2025 | Q1 | $7\n2025 | Q2 | $8"),
    (_markdown, "revenue.md", YEARS_EN,
     "Year | Quarter | Revenue\n2024 | Q1 | $5\n2024 | Q2 | $6\n2025 | Q1 | $7\n2025 | Q2 | $8"),
    (_csv, "收入.csv", YEARS_ZH, "年度 | 季度 | 收入\n2024 | 一季度 | ¥5万\n2024 | 二季度 | ¥6万"),
    (_markdown, "收入.md", YEARS_ZH, "年度 | 季度 | 收入\n2024 | 一季度 | ¥5万\n2024 | 二季度 | ¥6万"),
    # a ward's number, not counting the rows
    (_csv, "病区.csv", [["病区", "项目", "价格"], ["12", "床位费", "¥45"], ["", "护理费", "¥20"], ["15", "床位费", "¥50"]],
     "病区 | 项目 | 价格\n12 | 床位费 | ¥45\n12 | 护理费 | ¥20\n15 | 床位费 | ¥50"),
], ids=["csv-en-years", "markdown-en-years", "csv-zh-years", "markdown-zh-years", "csv-zh-ward-numbers"])
def test_a_bare_number_names_the_rows_under_it(tmp_path: Path, make, name, rows, expected) -> None:
    assert _tables(make(tmp_path / name, rows)) == [expected]


@pytest.mark.parametrize("make, name, rows, expected", [
    # counting 1, 2 with no header saying so; headed 序号; written "2."
    (_csv, "items.csv", [["", "Item", "Price"], ["1", "Registration", "$5"], ["", "Consultation", "$11"],
                         ["2", "Bed", "$45"]], " | Item | Price\n1 | Registration | $5\n | Consultation | $11\n2 | Bed | $45"),
    (_markdown, "项目.md", [["序号", "项目", "价格"], ["3", "挂号费", "¥5"], ["", "诊查费", "¥11"], ["7", "床位费", "¥45"]],
     "序号 | 项目 | 价格\n3 | 挂号费 | ¥5\n | 诊查费 | ¥11\n7 | 床位费 | ¥45"),
    (_markdown, "items.md", [["Ward", "Item", "Price"], ["2.", "Bed", "$45"], ["", "Nursing", "$20"]],
     "Ward | Item | Price\n2. | Bed | $45\n | Nursing | $20"),
], ids=["csv-en-counting", "markdown-zh-serial-header", "markdown-en-written-serial"])
def test_a_row_number_names_its_row_alone(tmp_path: Path, make, name, rows, expected) -> None:
    assert _tables(make(tmp_path / name, rows)) == [expected]


@pytest.mark.parametrize("make, name, rows, expected", [
    (_csv, "收费.csv", TOTAL_ZH, ZH_TABLE + "\n | 合计 | ¥34"),
    (_markdown, "收费.md", TOTAL_ZH, ZH_TABLE + "\n | 合计 | ¥34"),
    (_csv, "fees.csv", TOTAL_EN, "Department | Visit | Fee\nMedicine | First visit | $40\nMedicine | Follow-up | $25\n"
                                 " | Grand total | $65"),
    (_markdown, "fees.md", TOTAL_EN, "Department | Visit | Fee\nMedicine | First visit | $40\n"
                                     "Medicine | Follow-up | $25\n | Grand total | $65"),
    # a subtotal, and a total under each group, is the group's
    (_csv, "小计.csv", SUBTOTALS_ZH,
     "科室 | 项目 | 价格\n内科 | 挂号费 | ¥5\n内科 | 小计 | ¥5\n外科 | 挂号费 | ¥6\n外科 | 小计 | ¥6\n | 总计 | ¥11"),
    (_markdown, "totals.md", GROUP_TOTALS_EN, "Department | Visit | Fee\nMedicine | First visit | $40\n"
                                              "Medicine | Total | $40\nSurgery | First visit | $60\nSurgery | Total | $60"),
], ids=["csv-zh-total", "markdown-zh-total", "csv-en-grand-total", "markdown-en-grand-total", "csv-zh-subtotals",
        "markdown-en-group-totals"])
def test_a_grand_total_takes_no_group_name(tmp_path: Path, make, name, rows, expected) -> None:
    assert _tables(make(tmp_path / name, rows)) == [expected]
