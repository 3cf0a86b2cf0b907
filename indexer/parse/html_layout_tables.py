"""Tables that lay a page out (not data) read as the blocks they hold.

Old CMS templates and pages saved from Word place the content in a table: one row, a cell per column,
headings and paragraphs in the cells. unstructured reads every table as data, one row a line, so the
headings were flattened into the text ("Parking Parking costs $2 per hour. | Cafeteria The cafeteria
opens at 7:00.") and no section began at them. Such a table is replaced by its cells' content, cell after
cell, each in a <div>, before the page is partitioned. A table is taken for layout only where that is
safe to tell:

- it says so: role="presentation" or role="none";
- or, with no header cell (<th>) and no <caption>, a cell of its own holds a heading (<h1>-<h6>), which a
  data table's cells do not;
- or it is a single row or a single column and a cell of its own holds long text (LONG_CELL_CHARS) or
  several blocks (<p>, <ul>, <ol>, <div>, <table>, <blockquote>): a text box, not a row of values.

Any other table is left as it is; a table inside a layout table is judged on its own.
"""
from __future__ import annotations

from typing import Any

from indexer.parse.html_spans import owner_table

LONG_CELL_CHARS = 200  # a data cell is a value or a phrase; a paragraph is longer
_CELLS = ("td", "th")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCKS = ("p", "ul", "ol", "div", "table", "blockquote")


def unwrap_layout_tables(root: Any) -> bool:
    """Replace the layout tables under `root` (an lxml HTML tree) by their cells' content; True if any."""
    changed = False
    for table in list(root.iter("table")):
        rows = [tr for tr in table.iter("tr") if owner_table(tr) is table]
        cells = [[c for c in tr if c.tag in _CELLS] for tr in rows]
        if _is_layout(table, cells):
            _unwrap(table, [c for row in cells for c in row])
            changed = True
    return changed


def _own(cell: Any, tags: tuple[str, ...]) -> list[Any]:
    """Elements named `tags` inside `cell` and not inside a table within it."""
    return [el for el in cell.iter(*tags) if el is not cell and owner_table(el, cell) is None]


def _is_layout(table: Any, cells: list[list[Any]]) -> bool:
    if (table.get("role") or "").strip().lower() in ("presentation", "none"):
        return True
    flat = [c for row in cells for c in row]
    if not flat or any(c.tag == "th" for c in flat) or table.find("caption") is not None:
        return False
    if any(_own(c, _HEADINGS) for c in flat):
        return True
    single = len(cells) == 1 or all(len(row) <= 1 for row in cells)
    return single and any(len("".join(c.text_content().split())) >= LONG_CELL_CHARS or len(_own(c, _BLOCKS)) >= 2
                          for c in flat)


def _unwrap(table: Any, cells: list[Any]) -> None:
    box = table.makeelement("div", {})
    for cell in cells:
        block = table.makeelement("div", {})
        block.text = cell.text
        for child in list(cell):
            block.append(child)  # moved, with its tail
        box.append(block)
    box.tail = table.tail
    table.getparent().replace(table, box)
