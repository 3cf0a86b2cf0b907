"""Word tables for parser and pipeline tests, written with python-docx as a user types them."""
from __future__ import annotations

from collections.abc import Sequence


def add_word_table(document, rows: Sequence[Sequence[str]], merged_down: Sequence[tuple[int, int]] = ()):
    """A table of `rows` added to docx Document `document`, blank cells left untouched; each (first, last) of
    `merged_down`: the first column's cell of row `first` merged down over the rows to `last`. The table."""
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value:
                table.cell(r, c).text = value
    for first, last in merged_down:
        table.cell(first, 0).merge(table.cell(last, 0))
    return table
