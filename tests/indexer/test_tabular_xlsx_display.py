"""Spreadsheet cells as the sheet shows them, and note rows as text (indexer.parse.tabular)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl

from indexer.parse.cell_format import clean_cell
from indexer.parse.tabular import parse_csv, parse_xlsx


def _clinic_xlsx(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "价目表"
    ws.append(["项目", "价格（元）", "开放时间", "备注"])
    ws.append(["胃镜（无痛）", 680.0, dt.time(8, 30), "需空腹"])
    ws["C2"].number_format = "hh:mm"
    ws.append(["流感疫苗", 128, dt.time(9, 0), None])
    ws["C3"].number_format = "h:mm"
    ws.append(["HPV疫苗", 0.1 + 0.2, dt.datetime(2025, 9, 1), None])
    ws["C4"].number_format = "yyyy年m月d日"
    ws.append(["自费比例", 0.05, dt.datetime(2025, 9, 1, 14, 5), "说明"])
    ws["B5"].number_format = "0%"
    ws.append(["注：以上价格为2025年标准", None, None, None])
    ws.merge_cells("A6:D6")
    wb.save(path)
    return path


def test_xlsx_cells_read_as_the_sheet_shows_them(tmp_path: Path) -> None:
    elements = parse_xlsx(_clinic_xlsx(tmp_path / "检查与疫苗.xlsx"))
    assert [e.kind for e in elements] == ["table", "text"]
    lines = elements[0].text.splitlines()
    assert lines[0] == "项目 | 价格（元） | 开放时间 | 备注"
    assert lines[1] == "胃镜（无痛） | 680 | 08:30 | 需空腹"
    assert lines[2] == "流感疫苗 | 128 | 9:00 | "  # keeps its place under 备注
    assert lines[3] == "HPV疫苗 | 0.3 | 2025年9月1日 | "
    assert lines[4] == "自费比例 | 5% | 2025-09-01 14:05 | 说明"
    assert len(lines) == 5
    assert elements[1].text == "注：以上价格为2025年标准"
    assert elements[1].section == "价目表"


def test_section_lines_split_the_table_under_the_same_header(tmp_path: Path) -> None:
    path = tmp_path / "sections.csv"
    path.write_text("价目表（2025）,,\n项目,价格（元）,时间\n检查类,,\n胃镜,680,08:30\n"
                    "疫苗类,,\n流感疫苗,128,09:00\n", encoding="utf-8")
    elements = parse_csv(path)
    assert [(e.kind, e.text) for e in elements] == [
        ("text", "价目表（2025）"),
        ("text", "检查类"),
        ("table", "项目 | 价格（元） | 时间\n胃镜 | 680 | 08:30"),
        ("text", "疫苗类"),
        ("table", "项目 | 价格（元） | 时间\n流感疫苗 | 128 | 09:00"),
    ]


def test_one_column_csv_stays_a_table(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("名称\n甲\n乙\n", encoding="utf-8")
    assert [(e.kind, e.text) for e in parse_csv(path)] == [("table", "名称\n甲\n乙")]


def test_clean_cell_defaults_and_formats() -> None:
    assert clean_cell(dt.time(8, 30)) == "08:30"
    assert clean_cell(dt.time(8, 30, 15)) == "08:30:15"
    assert clean_cell(dt.datetime(2025, 9, 1)) == "2025-09-01"
    assert clean_cell(dt.datetime(2025, 9, 1, 8, 30)) == "2025-09-01 08:30"
    assert clean_cell(dt.datetime(2025, 9, 1), "yyyy-mm-dd") == "2025-09-01"
    assert clean_cell(dt.datetime(2025, 9, 1, 14, 5), "m/d/yy h:mm AM/PM") == "9/1/25 2:05 PM"
    assert clean_cell(680.0) == "680"
    assert clean_cell(0.1 + 0.2) == "0.3"
    assert clean_cell(0.125, "0.0%") == "12.5%"
    assert clean_cell(1234567.5, "#,##0.00") == "1,234,567.50"
    assert clean_cell(12, '0"元"') == "12元"
    assert clean_cell(680.0, "General") == "680"


def _with_dimension(src: Path, dst: Path, ref: str) -> Path:
    """`src` with its first sheet's <dimension ref> replaced by `ref` (what some exporters write)."""
    import re
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb'<dimension ref="[^"]*"/>', f'<dimension ref="{ref}"/>'.encode(), data)
            zout.writestr(info.filename, data)
    return dst


def test_xlsx_cells_outside_the_declared_dimension_are_read(tmp_path: Path) -> None:
    """Exporters that write <dimension ref="A1"/> (or a range too small) had every other cell dropped in
    silence; one claiming the whole sheet (A1:XFD1048576) must not pad the rows to 16,384 cells."""
    wb = openpyxl.Workbook()
    wb.active.append(["Service", "Fee"])
    wb.active.append(["Wire transfer", "$25"])
    wb.active.append(["退款手续费", "5元"])
    wb.save(tmp_path / "fees.xlsx")
    want = "Service | Fee\nWire transfer | $25\n退款手续费 | 5元"
    for ref in ("A1", "A1:B2", "A1:XFD1048576"):
        book = _with_dimension(tmp_path / "fees.xlsx", tmp_path / f"fees-{ref.replace(':', '-')}.xlsx", ref)
        assert [e.text for e in parse_xlsx(book)] == [want], ref
