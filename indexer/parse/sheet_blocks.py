"""A worksheet's blocks: tables and lines set apart by blank rows.

A sheet often holds more than one table: a price list, a blank row, then "Effective | 2026-03-01" or a
second table with its own header. Read as one table, the second block sat under the first table's header
("Department | Item | Unit price ..." over "Effective | 2026-03-01 | Insurance share | 70%"). The rows are
split at each run of fully blank rows where the rows after the gap do not fit the table above it:

* their first row of two or more filled cells fills a column the table does not, or another number of
  columns than any row of the table (a key-value line, a narrower or wider table), or
* that row looks like a header: text in a column whose data cells above are numbers ("Drug | Price |
  Stock" after "Registration | 10 | 100"), or it repeats the table's header.

A spacer row inside one table (the same columns, data rows on both sides) keeps the table whole.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

# a number as a sheet shows it: "10", "$5,200.00", "-3.5", "70%", "5000元", a date "2026-03-01", a time "08:30"
_NUMBER = re.compile(r"[\s$¥€£+\-−]*\d[\d.,:/\-\s]*(%|元|万元|万|円)?")


def sheet_blocks(rows: Sequence[Sequence[str]]) -> list[list[list[str]]]:
    """Rows of one sheet -> blocks of rows, each read as a table (or lines) of its own."""
    segments: list[list[list[str]]] = []
    current: list[list[str]] = []
    for row in rows:
        if any(cell for cell in row):
            current.append(list(row))
        elif current:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    blocks: list[list[list[str]]] = []
    for segment in segments:
        if blocks and _fits(blocks[-1], segment):
            blocks[-1].extend(segment)
        else:
            blocks.append(segment)
    return blocks


def _filled(row: Sequence[str]) -> frozenset[int]:
    return frozenset(i for i, cell in enumerate(row) if cell)


def _is_number(cell: str) -> bool:
    return _NUMBER.fullmatch(cell) is not None


def _fits(block: list[list[str]], after: list[list[str]]) -> bool:
    table = [row for row in block if len(_filled(row)) >= 2]
    first = next((row for row in after if len(_filled(row)) >= 2), None)
    if not table or first is None:
        return True  # a title over a table, a note under it: lines where they stand (indexer.parse.tabular)
    columns = frozenset().union(*map(_filled, table))
    if not _filled(first) <= columns or len(_filled(first)) not in {len(_filled(row)) for row in table}:
        return False
    header, data = table[0], table[1:]
    if [c for c in first if c] == [c for c in header if c]:
        return False  # the header again: a table of its own
    for column in _filled(first):
        cells = [row[column] for row in data if column < len(row) and row[column]]
        numeric = sum(map(_is_number, cells))
        if cells and numeric * 2 > len(cells) and not _is_number(first[column]):
            return False  # text where the table holds numbers: a header
    return True
