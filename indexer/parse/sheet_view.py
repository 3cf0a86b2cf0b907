"""What a worksheet shows besides its cell values: merged cells and hidden rows and columns.

openpyxl's read-only mode (the one that streams big workbooks) reads cell values only, so

* a cell merged down over rows ("内科" over its two items) left every row under the first with an empty
  cell: "| 复诊 | 5元" had lost its department. The value of a merged range now stands in each row it spans
  (in its first column; a range merged across columns, a title over a table, stays one cell), laid out
  on the grid of indexer.parse.table_spans;
* hidden rows and columns were indexed as if shown ("Internal cost", a hidden column of private notes).
  They are left out, as the reader of the sheet does not see them; rows hidden by an AutoFilter are kept,
  since a filter is a view someone left on, not content taken away.

Hidden sheets are left out by indexer.parse.tabular (openpyxl reads their state). This reads the sheet's
XML once more, streaming and keeping only the few elements it needs.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from indexer.parse.table_spans import Span, layout

_REF = re.compile(r"\$?([A-Z]{1,3})\$?(\d{1,7})")
_TRUE = ("1", "true")


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - ord("A") + 1
    return n


def _cell(ref: str) -> tuple[int, int] | None:
    m = _REF.fullmatch(ref.strip().upper())
    return (int(m.group(2)), _column_number(m.group(1))) if m else None


def _range(ref: str) -> tuple[int, int, int, int] | None:
    """"A4:B6" -> (first row, first column, last row, last column), 1-based."""
    first, _, last = ref.partition(":")
    start, end = _cell(first), _cell(last or first)
    if start is None or end is None:
        return None
    return min(start[0], end[0]), min(start[1], end[1]), max(start[0], end[0]), max(start[1], end[1])


@dataclass
class SheetView:
    hidden_rows: set[int] = field(default_factory=set)
    hidden_columns: set[int] = field(default_factory=set)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    filtered: tuple[int, int] | None = None  # the rows an AutoFilter covers, header row excluded

    def row_shown(self, row: int) -> bool:
        if row not in self.hidden_rows:
            return True
        return self.filtered is not None and self.filtered[0] <= row <= self.filtered[1]

    def fill_merges(self, rows: list[list[str]]) -> None:
        """Write each merged range's value (its top-left cell) into the first column of every row it spans."""
        if not self.merges:
            return
        starts: dict[int, list[Span[None]]] = {}  # row -> the ranges whose top-left cell is in it
        for top, left, bottom, _right in self.merges:
            if top > len(rows) or left > len(rows[top - 1]):
                continue
            # its first column only: a range merged across columns (a title over a table) stays one cell;
            # the value is read from its top-left cell when written
            starts.setdefault(top - 1, []).append(Span(None, rowspan=bottom - top + 1, column=left - 1))
        # top to bottom: where ranges overlap (Excel never writes them so), a range starting inside another
        # one carries the value that one filled in
        for r, c, placed in layout([starts.get(r, ()) for r in range(len(rows))]).positions():
            if placed.row == r:
                continue
            row = rows[r]
            if len(row) <= c:
                row.extend([""] * (c + 1 - len(row)))
            if not row[c]:
                row[c] = rows[placed.row][placed.column]


def read_sheet_view(workbook: Path, member: str | None) -> SheetView:
    """The sheet's merges and hidden rows and columns; none known when its XML cannot be read here (then the
    sheet is read as before: every row and column, merged cells in their first row)."""
    if not member:
        return SheetView()
    try:
        return _read(workbook, member.lstrip("/"))
    except Exception:  # lxml and zipfile errors: openpyxl reads (or refuses) the sheet itself
        return SheetView()


def _read(workbook: Path, member: str) -> SheetView:
    from lxml import etree

    view = SheetView()
    with zipfile.ZipFile(workbook) as archive, archive.open(member) as source:
        for _, element in etree.iterparse(source, events=("end",), resolve_entities=False, no_network=True,
                                          tag=("{*}row", "{*}col", "{*}mergeCell", "{*}autoFilter")):
            name = etree.QName(element).localname
            if name == "row":
                if element.get("hidden", "").lower() in _TRUE and (r := element.get("r", "")).isdigit():
                    view.hidden_rows.add(int(r))
            elif name == "col":
                lo, hi = element.get("min", ""), element.get("max", "")
                if element.get("hidden", "").lower() in _TRUE and lo.isdigit() and hi.isdigit():
                    view.hidden_columns.update(range(int(lo), min(int(hi), 16384) + 1))
            elif name == "mergeCell":
                if (span := _range(element.get("ref", ""))) is not None:
                    view.merges.append(span)
            elif name == "autoFilter" and (span := _range(element.get("ref", ""))) is not None:
                view.filtered = (span[0] + 1, span[2])
            element.clear()
    return view
