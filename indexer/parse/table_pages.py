"""A table continued on the next page of a PDF: the rows there get the header of the page before.

A PDF's table that runs over a page break is two tables on two pages, and most writers repeat no header.
The rows on the second page then reached the chunks without it ("专家门诊 | 50元" where the first page had
"项目 | 价格"), and an answer could not say which column a figure is in.

    carried_header(previous, rows) -> the header row to put above `rows`, or None

`previous` is the table that ends one page (nothing after it but margins), `rows` the one that opens the
next. The header is carried only when the second table plainly continues the first:

* the same number of columns, and its first row is not the header again (then nothing is missing);
* the first table has a header that differs from its data in kind: a column where every data row holds a
  digit (a price, a date, a count) and the header cell holds none ("价格" over "20元", "Fee" over "$30");
* the second table's first row is data in that sense: a digit in each of those columns. A new table with
  its own header ("Account | Daily limit") has none there and keeps its own.

Tables of text only (no column of figures) are never joined: nothing tells a continued row from a header.
"""
from __future__ import annotations

__all__ = ["carried_header"]


def _has_digit(cell: str) -> bool:
    return any(ch.isdigit() for ch in cell)


def carried_header(previous: list[list[str]], rows: list[list[str]]) -> list[str] | None:
    if len(previous) < 2 or not rows:
        return None
    header, data, first = previous[0], previous[1:], rows[0]
    width = len(header)
    if any(len(row) != width for row in (*data, *rows)) or first == header:
        return None
    figures = [c for c in range(width)
               if not _has_digit(header[c]) and all(_has_digit(row[c]) for row in data)]
    if figures and all(_has_digit(first[c]) for c in figures):
        return list(header)
    return None
