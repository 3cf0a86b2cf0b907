"""A table's rows named by the row above where their first cell is blank.

A table whose first column names its rows often writes a group's name once, on the group's first row, and leaves
the cell blank under it ("内科 | 挂号费 | ¥5" over " | 诊查费 | ¥11"): in CSV and Markdown, and in Word and Excel
tables typed without merging (cells merged downwards are repeated already: indexer.parse.table_spans,
sheet_view). Such a row named nothing: quoted, it had no name ("——项目：诊查费；价格：¥11"), and a column's quote
left it out ("挂号费多少" got the first row of each group only).

    carry_row_names(body) -> body     # the rows under the header, a blank first cell given the name above
    is_row_number("3、") -> True     # a row's serial number, which names that row alone

A row's number ("1", "2.", "3、") names that row alone, so a blank under it is left blank, as is one with no
named row above it in its table (under the header, or after a note line that splits a sheet's table).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

# "12", "3.", "4、", "(5)": a row's serial number, not a name its next rows share
_ROW_NUMBER = re.compile(r"[(（]?\d{1,4}[)）.、]?")


def carry_row_names(body: Sequence[list[str]]) -> list[list[str]]:
    out: list[list[str]] = []
    name = ""
    for row in body:
        if row and row[0]:
            name = "" if is_row_number(row[0]) else row[0]
        elif name and len(row) > 1 and any(row[1:]):
            row = [name, *row[1:]]
        out.append(row)
    return out


def is_row_number(cell: str) -> bool:
    """Is `cell` a row's serial number ("12", "3.", "4、", "(5)")?"""
    return bool(_ROW_NUMBER.fullmatch(cell.strip()))
