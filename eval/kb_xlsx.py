"""The first sheet of a questions XLSX (eval.kb_questions): its rows that hold a value, read no further than
the last of them.

A sheet formatted far below its questions (cells styled down to row 12,000, all empty) is ordinary: openpyxl
counts such rows in `max_row`, and its read-only mode parses every one of them (~60 µs a formatted row).
So the sheet's XML is first scanned as bytes (`extent`): the rows holding a value (a cell with `<v>` or
an inline string `<is>`) and the last of them. A sheet with more such rows than a file may have questions is
refused there, before openpyxl parses any row; otherwise openpyxl reads the rows up to the last one holding a
value, and only those holding one are kept. The scan reads the whole sheet when it must (to find its last
value), which check_zip bounds (zip_member_mb) before anything is read.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

BLOCK = 1 << 20
# a sheet's rows read to its last value may exceed its valued rows this many times over (blank rows between
# questions); past that, a formatted-but-empty stretch would cost openpyxl minutes, so the file is refused
SPAN_FACTOR = 20

_TAG = re.compile(rb"<(?:[\w.-]+:)?(row|v|is)(?=[\s/>])([^>]*)>")
_ROW_NUMBER = re.compile(rb"""(?:^|\s)r\s*=\s*["'](\d+)["']""")


class SheetTooLarge(ValueError):
    """The sheet holds more rows with a value than the caller allows."""

    def __init__(self, rows: int, limit: int):
        super().__init__(f"more than {limit} rows with a value")
        self.rows, self.limit = rows, limit


class SheetTooLong(ValueError):
    """The sheet's last value lies further down than its rows are read."""

    def __init__(self, last_row: int, limit: int):
        super().__init__(f"its last value is in row {last_row}, below row {limit}")
        self.last_row, self.limit = last_row, limit


@dataclass(frozen=True)
class Extent:
    valued_rows: int  # rows with at least one cell holding a value (whitespace counts: it is stored)
    last_row: int     # the number of the last of them; 0 when the sheet holds no value


def extent(source, max_valued_rows: int) -> Extent:
    """Scan a worksheet's XML (a binary file object) for its rows holding a value; SheetTooLarge as soon as
    there are more than `max_valued_rows` of them."""
    row = valued = last = 0
    marked = False  # the current row is counted already
    carry = b""
    while block := source.read(BLOCK):
        buf = carry + block
        cut = buf.rfind(b"<")  # a tag may be cut by the block's end: it is scanned with the next block
        if cut < 0:
            cut = len(buf)
        for m in _TAG.finditer(buf, 0, cut):
            if m.group(1) == b"row":
                number = _ROW_NUMBER.search(m.group(2))
                row = int(number.group(1)) if number else row + 1
                marked = False
            elif not marked and row:
                marked = True
                valued += 1
                last = row
                if valued > max_valued_rows:
                    raise SheetTooLarge(valued, max_valued_rows)
        carry = buf[cut:]
    return Extent(valued, last)


def valued_rows(book_path: Path, sheet, max_valued_rows: int) -> list[tuple[int, list[str]]]:
    """The rows of `sheet` (an openpyxl read-only worksheet of the workbook at `book_path`) holding a value,
    as (row number, cells shown as the sheet shows them); SheetTooLarge past `max_valued_rows`, SheetTooLong
    when the last of them lies more than SPAN_FACTOR times that far down."""
    from indexer.parse.cell_format import clean_cell

    member = getattr(sheet, "_worksheet_path", None)  # openpyxl's name of the sheet's XML in the zip
    last = None
    if member:
        with zipfile.ZipFile(book_path) as z, z.open(member) as source:
            last = extent(source, max_valued_rows).last_row
        if last == 0:
            return []
        if last > SPAN_FACTOR * max_valued_rows:
            raise SheetTooLong(last, SPAN_FACTOR * max_valued_rows)
    if hasattr(sheet, "reset_dimensions"):  # rows as they are, not as the sheet's <dimension> claims
        sheet.reset_dimensions()
    rows: list[tuple[int, list[str]]] = []
    for n, cells in enumerate(sheet.iter_rows(max_row=last), 1):
        values = [clean_cell(c.value, getattr(c, "number_format", None)) for c in cells]
        if any(v.strip() for v in values):
            rows.append((n, values))
            if len(rows) > max_valued_rows:  # without the scan (a workbook openpyxl names no sheet file of)
                raise SheetTooLarge(len(rows), max_valued_rows)
    return rows
