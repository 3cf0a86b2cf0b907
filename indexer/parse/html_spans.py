"""An HTML page's merged table cells (`rowspan` / `colspan`) spread over the cells they cover, in the page.

unstructured's HTML reader keeps a table's cells but not their `rowspan` / `colspan`, so a row under a
cell merged downwards lost a column: `<td rowspan=2>Maternity</td>` over two rows of hours became
"Maternity | 10:00-12:00" and "16:00-18:00 | ", the second time under "Ward". Before the page is
partitioned, each merged cell is repeated in every row and column it covers (the value belongs to all of
them), laid out by indexer.parse.table_spans as Word tables are; a cell spanning the whole row (a title or
note line) stays one cell with empty ones after it, so its text is said once.

Bounds, as HTML bounds spans: colspan at most 1000, rowspan at most 65534 and never past the table's last
row (rowspan="0" runs to it). A page may gain at most MAX_ADDED_CELLS cells in all; a table that would pass
that is left as it was (its cells shifted, as before, rather than a hostile page costing millions of cells).
"""
from __future__ import annotations

import copy
from typing import Any

from indexer.parse.table_spans import HTML_CELLS, Grid, html_spans, layout

MAX_ADDED_CELLS = 50_000


def spread_spans(root: Any) -> bool:
    """Spread the merged cells of every table under `root` (an lxml tree), in place; True if any changed."""
    budget = MAX_ADDED_CELLS
    changed = False
    for table in list(root.iter("table")):
        rows = [tr for tr in table.iter("tr") if owner_table(tr) is table]
        if not any(cell.get("rowspan") is not None or cell.get("colspan") is not None
                   for tr in rows for cell in tr if cell.tag in HTML_CELLS):
            continue
        grid = layout(html_spans(rows))
        added = len(grid) - sum(1 for tr in rows for cell in tr if cell.tag in HTML_CELLS)
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


def _rewrite(rows: list[Any], grid: Grid[Any]) -> None:
    columns = grid.width()
    for r, tr in enumerate(rows):
        for cell in [c for c in tr if c.tag in HTML_CELLS]:
            tr.remove(cell)
        here = grid.row(r)
        cells = [here.get(c) for c in range(columns)]
        first = cells[0] if cells else None
        if (columns > 1 and first is not None and first.starts(r, 0)
                and all(c is not None and c.cell is first.cell for c in cells[1:])):
            # one cell across the whole row: said once, the other columns empty
            cells = [first] + [None] * (columns - 1)
        last = max((c for c in range(columns) if cells[c] is not None), default=-1)
        for c in range(last + 1):
            placed = cells[c]
            if placed is None:
                new = tr.makeelement("td", {})
            elif placed.starts(r, c):
                new = placed.cell
            else:
                new = copy.deepcopy(placed.cell)
                new.tail = None
            for name in ("rowspan", "colspan"):
                new.attrib.pop(name, None)
            tr.append(new)
