"""A workbook is indexed as Excel shows it (indexer.parse.sheet_view): a cell merged down over rows stands in
each of them, hidden sheets, rows and columns are left out, rows hidden by an AutoFilter are kept, and a
workbook whose text is all on hidden sheets says so. Written with openpyxl; English and Chinese."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexer.parse.dispatch import ParseError, parse_file

EN = {"sheet": "Fees", "title": "Outpatient fees 2026", "header": ["Department", "Item", "Price", "Note"],
      "rows": [["Medicine", "Registration", 10, "desk 1"], [None, "Follow-up", 5, "desk 2"]],
      "secret_row": ["Internal cost", "-", 3, ""], "hidden_sheet": "Draft", "draft": "Old price 99",
      "filtered": ["Surgery", "Dressing", 20, "desk 3"]}
ZH = {"sheet": "收费", "title": "2026年门诊收费", "header": ["科室", "项目", "价格", "备注"],
      "rows": [["内科", "挂号", 10, "一号窗口"], [None, "复诊", 5, "二号窗口"]],
      "secret_row": ["内部成本", "-", 3, ""], "hidden_sheet": "草稿", "draft": "旧价格99元",
      "filtered": ["外科", "换药", 20, "三号窗口"]}


def _workbook(path: Path, t: dict[str, object]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = t["sheet"]
    sheet.append([t["title"]])
    sheet.merge_cells("A1:D1")  # a title across the table: stays one line
    sheet.append(t["header"])
    for row in t["rows"]:
        sheet.append(row)
    sheet.merge_cells("A3:A4")  # the department, merged down over its two items
    sheet.append(t["secret_row"])
    sheet.row_dimensions[5].hidden = True
    sheet.column_dimensions["D"].hidden = True
    filtered = book.create_sheet("Filter")
    filtered.append(t["header"][:3])
    filtered.append(t["filtered"][:3])
    filtered.auto_filter.ref = "A1:C2"
    filtered.row_dimensions[2].hidden = True  # hidden by the filter someone left on
    draft = book.create_sheet(t["hidden_sheet"])
    draft.append([t["draft"]])
    draft.sheet_state = "hidden"
    book.save(path)
    return path


@pytest.mark.parametrize("t", [EN, ZH], ids=["en", "zh"])
def test_workbook_as_excel_shows_it(tmp_path: Path, t: dict[str, object]) -> None:
    elements = parse_file(_workbook(tmp_path / "fees.xlsx", t))
    header, (first, second) = t["header"], t["rows"]
    assert [(e.kind, e.section, e.text) for e in elements] == [
        ("text", t["sheet"], t["title"]),
        ("table", t["sheet"], "\n".join([" | ".join(header[:3]),
                                         f"{first[0]} | {first[1]} | {first[2]}",
                                         f"{first[0]} | {second[1]} | {second[2]}"])),  # merged: in each row
        ("table", "Filter", " | ".join(header[:3]) + "\n" + " | ".join(str(v) for v in t["filtered"][:3])),
    ]
    joined = "\n".join(e.text for e in elements)
    assert t["secret_row"][0] not in joined and first[3] not in joined and t["draft"] not in joined


def test_text_only_on_hidden_sheets_is_explained(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "封面"
    hidden = book.create_sheet("价格")
    hidden.append(["挂号", 10])
    hidden.sheet_state = "hidden"
    book.save(tmp_path / "prices.xlsx")
    with pytest.raises(ParseError, match=r"prices\.xlsx shows no text: what it holds is on hidden sheets \(价格\)"):
        parse_file(tmp_path / "prices.xlsx")
