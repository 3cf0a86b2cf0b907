"""The cells of an HTML <table> laid out on its grid, merged cells included.

unstructured hands a Word table's merged cells (and an HTML page's) over as one <td> with `rowspan` /
`colspan`. Read cell by cell, a row under a cell merged downwards lost a column: "Medicine" spanning two
rows left the second row as "Follow-up | $5 | ", its item under "Department" and its price under "Item".
Here a cell merged over several rows is repeated in each of them (the value belongs to every row it spans),
and one merged over several columns in each of those columns, unless it spans the whole row (a title or
note line: kept once, the rest empty).
"""
from __future__ import annotations

# The HTML standard's bounds: colspan at most 1000, rowspan at most 65534 and never past the table's last
# row (rowspan="0" runs to it), so a hostile "rowspan=65534" costs no more than the rows that exist.
MAX_COLSPAN = 1000
MAX_ROWSPAN = 65534


def span(value: str | None, default: int, most: int) -> int:
    """A rowspan/colspan attribute as a number between 0 and `most`; `default` where it is not a number."""
    try:
        n = int((value or "").strip())
    except ValueError:
        return default
    return min(max(n, 0), most)


def html_table_rows(html: str) -> list[list[str]]:
    """Cell texts of an HTML <table> (as in unstructured's metadata.text_as_html), by row, on the grid."""
    from lxml import html as lxml_html

    try:
        root = lxml_html.fragment_fromstring(html, create_parent="div")
    except Exception:  # lxml raises several types for broken markup
        return []
    trs = list(root.iter("tr"))
    # per row: column -> (text, the column's own cell starts here); a merged cell fills every position it covers
    grid: list[dict[int, tuple[str, bool]]] = [{} for _ in trs]
    for r, tr in enumerate(trs):
        col = 0
        for cell in tr:
            if cell.tag not in ("td", "th"):
                continue
            while col in grid[r]:
                col += 1
            text = cell.text_content()
            rowspan = span(cell.get("rowspan"), 1, MAX_ROWSPAN) or len(trs) - r
            colspan = max(span(cell.get("colspan"), 1, MAX_COLSPAN), 1)
            for dr in range(min(rowspan, len(trs) - r)):
                for dc in range(colspan):
                    grid[r + dr].setdefault(col + dc, (text, dc == 0))
            col += colspan
    width = max((max(row) + 1 for row in grid if row), default=0)
    rows: list[list[str]] = []
    for row in grid:
        cells = [row.get(c, ("", True)) for c in range(width)]
        if width > 1 and all(not starts for _, starts in cells[1:]) and cells[0][1]:
            rows.append([cells[0][0]] + [""] * (width - 1))  # one cell across the whole row: said once
        else:
            rows.append([text for text, _ in cells])
    return rows
