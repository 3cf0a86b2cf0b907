"""A table's rows named by the row above where their first cell is blank.

A table whose first column names its rows often writes a group's name once, on the group's first row, and leaves
the cell blank under it ("内科 | 挂号费 | ¥5" over " | 诊查费 | ¥11"): in CSV and Markdown, and in Word and Excel
tables typed without merging (cells merged downwards are repeated already: indexer.parse.table_spans,
sheet_view). Such a row named nothing: quoted, it had no name ("——项目：诊查费；价格：¥11"), and a column's quote
left it out ("挂号费多少" got the first row of each group only).

    carry_row_names(body, header) -> body     # the rows under the header, a blank first cell given the name above
    is_row_number("3、") -> True              # written as a row's serial number

A row's number names that row alone, so a blank under it is left blank, as is one with no named row above it in
its table (under the header, or after a note line that splits a sheet's table). A number is a row's when it is
written as one ("2.", "3、", "(4)"), or stands in a column headed as numbers are (序号, 编号, No., #) or counting
1, 2, 3 ...; a bare number in another column names its rows like any word: a year ("2024 | Q1 | $5" over
" | Q2 | $6": Q2 is 2024's).

A grand total row ("Total", "合计", "总计" beside a blank first cell, at the table's foot) is no group's row and
names nothing, though a group stands above it; a total under each group (one with a named row after it) is that
group's, as is a subtotal ("Subtotal", "小计").
"""
from __future__ import annotations

import re
from collections.abc import Sequence

# "12", "3.", "4、", "(5)": a row's serial number's forms
_ROW_NUMBER = re.compile(r"[(（]?\d{1,4}[)）.、]?")
# a serial number written as one, which no name is ("3.", "4、", "(5)"; not "2024")
_WRITTEN_SERIAL = re.compile(r"[(（]\d{1,4}[)）]|\d{1,4}[)）.、]")
# the header of a column of row numbers ("序号 | 项目 | 价格")
SERIAL_HEADER = re.compile(r"序号|序|编号|no\.?|#|s/n", re.IGNORECASE)
# a row totalling the table ("Total", "Grand total", "合计", "总计"); "Subtotal" and "小计" are a group's own
_TOTAL = re.compile(r"(?:grand\s+)?totals?|合\s*计|总\s*计|共\s*计|总合计", re.IGNORECASE)


def carry_row_names(body: Sequence[list[str]], header: Sequence[str] = ()) -> list[list[str]]:
    numbered = numbers_rows(header[0] if header else "", [row[0] for row in body if row and row[0]])
    if numbered:
        return list(body)
    totals = [i for i, row in enumerate(body) if _is_total(row)]
    # a total followed by a named row is its group's: every total of that table is then a group's
    group_totals = any(row and row[0] for row in body[totals[0] + 1:]) if totals else False
    out: list[list[str]] = []
    name = ""
    for i, row in enumerate(body):
        if row and row[0]:
            name = "" if _WRITTEN_SERIAL.fullmatch(row[0].strip()) else row[0]
        elif i in totals and not group_totals:
            name = ""  # the table's total: the group above ends here
        elif name and len(row) > 1 and any(row[1:]):
            row = [name, *row[1:]]
        out.append(row)
    return out


def numbers_rows(header: str, cells: Sequence[str]) -> bool:
    """Does a first column headed `header`, whose filled cells are `cells`, number the rows: headed as numbers are
    (序号, No., #) with each cell a row number, or counting 1, 2, 3 ... down the table?"""
    if not cells or not all(is_row_number(c) for c in cells):
        return False
    if SERIAL_HEADER.fullmatch(header.strip()):
        return True
    values = [int(re.sub(r"\D", "", c)) for c in cells]
    return values[0] <= 1 and all(b == a + 1 for a, b in zip(values, values[1:]))


def is_row_number(cell: str) -> bool:
    """Is `cell` written as a row's serial number ("12", "3.", "4、", "(5)")?"""
    return bool(_ROW_NUMBER.fullmatch(cell.strip()))


def _is_total(row: list[str]) -> bool:
    """A row with a blank first cell whose first filled cell says it totals ("Total", "合计")."""
    filled = [c for c in row[1:] if c.strip()] if row and not row[0] else []
    return bool(filled) and bool(_TOTAL.fullmatch(filled[0].strip().rstrip(":：")))
