"""An HTML page's merged table cells (`rowspan` / `colspan`) spread over the cells they cover, in the page.

unstructured's HTML reader keeps a table's cells but not their `rowspan` / `colspan`, so a row under a
cell merged downwards lost a column: `<td rowspan=2>Maternity</td>` over two rows of hours became
"Maternity | 10:00-12:00" and "16:00-18:00 | ", the second time under "Ward". Before the page is
partitioned, each merged cell is repeated in every row and column it covers (the value belongs to all of
them), as indexer.parse.table_spans lays Word tables out; a cell spanning the whole row (a title or note
line) stays one cell with empty ones after it, so its text is said once.

Bounds, as HTML bounds spans: colspan at most 1000, rowspan at most 65534 and never past the table's last
row (rowspan="0" runs to it). A page may gain at most MAX_ADDED_CELLS cells in all; a table that would pass
that is left as it was (its cells shifted, as before, rather than a hostile page costing millions of cells).
"""
from __future__ import annotations

import copy
from typing import Any

from indexer.parse.table_spans import MAX_COLSPAN, MAX_ROWSPAN, span

MAX_ADDED_CELLS = 50_000
_CELLS = ("td", "th")


def spread_spans(root: Any) -> bool:
    """Spread the merged cells of every table under `root` (an lxml tree), in place; True if any changed."""
    budget = MAX_ADDED_CELLS
    changed = False
    for table in list(root.iter("table")):
        rows = [tr for tr in table.iter("tr") if owner_table(tr) is table]
        if not any(cell.get("rowspan") is not None or cell.get("colspan") is not None
                   for tr in rows for cell in tr if cell.tag in _CELLS):
            continue
        grid = _layout(rows)
        added = sum(len(row) for row in grid) - sum(1 for tr in rows for cell in tr if cell.tag in _CELLS)
        if added > budget:
            continue
        budget -= max(added, 0)
        _rewrite(rows, grid)
        changed = True
    return changed


def owner_table(el: Any, stop: Any = None) -> Any:
    """The table `el` belongs to (the nearest one above it: rows of nested tables are theirs); None when
    there is none below `stop`."""
    parent = el.getparent()
    while parent is not None and parent is not stop and parent.tag != "table":
        parent = parent.getparent()
    return None if parent is stop else parent


# per row: column -> (the cell, whether it starts at this row and column)
_Grid = list[dict[int, tuple[Any, bool]]]


def _layout(rows: list[Any]) -> _Grid:
    grid: _Grid = [{} for _ in rows]
    for r, tr in enumerate(rows):
        col = 0
        for cell in tr:
            if cell.tag not in _CELLS:
                continue
            while col in grid[r]:
                col += 1
            rowspan = span(cell.get("rowspan"), 1, MAX_ROWSPAN) or len(rows) - r
            colspan = max(span(cell.get("colspan"), 1, MAX_COLSPAN), 1)
            for dr in range(min(rowspan, len(rows) - r)):
                for dc in range(colspan):
                    grid[r + dr].setdefault(col + dc, (cell, dr == 0 and dc == 0))
            col += colspan
    return grid


def _rewrite(rows: list[Any], grid: _Grid) -> None:
    width = max((max(row) + 1 for row in grid if row), default=0)
    for tr, row in zip(rows, grid):
        for cell in [c for c in tr if c.tag in _CELLS]:
            tr.remove(cell)
        cells = [row.get(c) for c in range(width)]
        if width > 1 and cells[0] is not None and cells[0][1] and all(c is not None and c[0] is cells[0][0]
                                                                     for c in cells[1:]):
            # one cell across the whole row: said once, the other columns empty
            cells = [cells[0]] + [None] * (width - 1)
        last = max((c for c in range(width) if cells[c] is not None), default=-1)
        for c in range(last + 1):
            entry = cells[c]
            if entry is None:
                new = tr.makeelement("td", {})
            elif entry[1]:
                new = entry[0]
            else:
                new = copy.deepcopy(entry[0])
                new.tail = None
            for name in ("rowspan", "colspan"):
                new.attrib.pop(name, None)
            tr.append(new)
