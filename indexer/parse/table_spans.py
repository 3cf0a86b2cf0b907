"""Merged table cells laid out on their table's grid, and the cells of an HTML <table> read that way.

unstructured hands a Word table's merged cells (and an HTML page's) over as one <td> with `rowspan` /
`colspan`. Read cell by cell, a row under a cell merged downwards lost a column: "Medicine" spanning two
rows left the second row as "Follow-up | $5 | ", its item under "Department" and its price under "Item".
Here a cell merged over several rows is repeated in each of them (the value belongs to every row it spans),
and one merged over several columns in each of those columns, unless it spans the whole row (a title or
note line: kept once, the rest empty).

`layout` is the one grid for every source of merged cells: HTML tables read here, HTML pages rewritten by
indexer.parse.html_spans, and a worksheet's merge ranges (indexer.parse.sheet_view).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Generic, NamedTuple, TypeVar

# The HTML standard's bounds: colspan at most 1000, rowspan at most 65534 and never past the table's last
# row (rowspan="0" runs to it), so a hostile "rowspan=65534" costs no more than the rows that exist.
MAX_COLSPAN = 1000
MAX_ROWSPAN = 65534
HTML_CELLS = ("td", "th")

T = TypeVar("T")


@dataclass(frozen=True)
class Span(Generic[T]):
    """One cell as its source gives it, and how many rows and columns it covers from where it starts."""

    cell: T
    rowspan: int = 1  # 0: down to the table's last row (HTML's rowspan="0")
    colspan: int = 1
    # where it starts when the source says so (a worksheet's merge range); None: the next column of its row
    # that no cell above covers, as a browser places HTML cells
    column: int | None = None


class Placed(NamedTuple, Generic[T]):
    """A cell on the grid, and the row and column where it starts (its top-left position).

    One for each cell, shared by every position the cell covers: a hostile table covers hundreds of
    thousands of positions (MAX_ROWSPAN by MAX_COLSPAN, bounded by the rows that exist)."""

    cell: T
    row: int
    column: int

    def starts(self, row: int, column: int) -> bool:
        """Whether (row, column) is the cell's own top-left position rather than one it is merged over."""
        return row == self.row and column == self.column


_NOTHING: Mapping[int, Any] = MappingProxyType({})


@dataclass
class Grid(Generic[T]):
    """Which cell covers each (row, column), by row; positions no cell covers are absent."""

    rows: dict[int, dict[int, Placed[T]]] = field(default_factory=dict)

    def row(self, r: int) -> Mapping[int, Placed[T]]:
        """Column -> the cell covering it, in row `r`."""
        return self.rows.get(r, _NOTHING)

    def width(self) -> int:
        """How many columns the cells reach."""
        return max((max(row) + 1 for row in self.rows.values() if row), default=0)

    def __len__(self) -> int:
        """How many positions are covered."""
        return sum(map(len, self.rows.values()))

    def positions(self) -> Iterator[tuple[int, int, Placed[T]]]:
        """(row, column, cell) for each covered position, top to bottom and left to right."""
        for r in sorted(self.rows):
            for c, placed in sorted(self.rows[r].items()):
                yield r, c, placed


def layout(rows: Sequence[Sequence[Span[T]]]) -> Grid[T]:
    """Each row's cells placed on the grid, each covering its rows and columns (never past the last row).

    Where two cells claim a position, the one placed first keeps it: rows are placed top to bottom, and a
    row's cells left to right."""
    grid: Grid[T] = Grid()
    height = len(rows)
    for r, row in enumerate(rows):
        if not row:
            continue
        here = grid.rows.setdefault(r, {})
        col = 0
        for cell in row:
            if cell.column is not None:
                col = cell.column
            else:
                while col in here:
                    col += 1
            placed = Placed(cell.cell, r, col)
            for covered in range(r, r + min(cell.rowspan or height - r, height - r)):
                columns = grid.rows.setdefault(covered, {})
                for c in range(col, col + cell.colspan):
                    columns.setdefault(c, placed)
            col += cell.colspan
    return grid


def span(value: str | None, default: int, most: int) -> int:
    """A rowspan/colspan attribute as a number between 0 and `most`; `default` where it is not a number."""
    try:
        n = int((value or "").strip())
    except ValueError:
        return default
    return min(max(n, 0), most)


def html_spans(trs: Sequence[Any]) -> list[list[Span[Any]]]:
    """The <td>/<th> cells of some <tr> elements (lxml), with their rowspan and colspan as HTML bounds them."""
    return [[Span(cell, rowspan=span(cell.get("rowspan"), 1, MAX_ROWSPAN),
                  colspan=max(span(cell.get("colspan"), 1, MAX_COLSPAN), 1))
             for cell in tr if cell.tag in HTML_CELLS] for tr in trs]


def html_table_rows(html: str) -> list[list[str]]:
    """Cell texts of an HTML <table> (as in unstructured's metadata.text_as_html), by row, on the grid."""
    from lxml import html as lxml_html

    try:
        root = lxml_html.fragment_fromstring(html, create_parent="div")
    except Exception:  # lxml raises several types for broken markup
        return []
    trs = list(root.iter("tr"))
    grid = layout([[replace(s, cell=s.cell.text_content()) for s in row] for row in html_spans(trs)])
    columns = grid.width()
    rows: list[list[str]] = []
    for r in range(len(trs)):
        here = grid.row(r)
        # each column's text, and whether its cell starts in that column (a position no cell covers does)
        cells = [(p.cell, p.column == c) if (p := here.get(c)) else ("", True) for c in range(columns)]
        if columns > 1 and all(not starts for _, starts in cells[1:]) and cells[0][1]:
            rows.append([cells[0][0]] + [""] * (columns - 1))  # one cell across the whole row: said once
        else:
            rows.append([text for text, _ in cells])
    return rows
