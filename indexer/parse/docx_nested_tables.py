"""A Word table nested in a table cell, as lines of that cell's text.

unstructured gives a nested table's text to its cell joined by spaces, so a schedule in a cell read
"Monday 18:00-22:00 Tuesday 18:00-21:00": which hours belong to which day could only be guessed. Each
nested table becomes one paragraph in its place, its rows joined by "; " and a row's cells by " "
("Monday 18:00-22:00; Tuesday 18:00-21:00"). Tables nested deeper are read first, so a table inside a
nested table is a part of its row, its rows joined by ", " ("Monday 07:00-09:00, 17:00-21:00; Friday closed").
"""
from __future__ import annotations

import re
from typing import Any

from lxml import etree

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_TAGS = re.compile(rb"<(/?)w:(tc|tbl)[\s>/]")
_ROW_SEPARATOR = "; "
_DEEPER_ROW_SEPARATOR = ", "  # a table in a nested table: its rows are one part of a "; " line


def _q(name: str) -> str:
    return f"{{{W}}}{name}"


def has_nested_table(document: bytes) -> bool:
    """A table opens inside a table cell (one linear scan of the tags, for the byte test before rewriting)."""
    depth = 0  # cells open around this point
    for match in _TAGS.finditer(document):
        closing, tag = match.group(1), match.group(2)
        if tag == b"tc":
            depth += -1 if closing else 1
        elif not closing and depth > 0:
            return True
    return False


def _text(element: Any) -> str:
    paragraphs = ("".join(t.text or "" for t in p.iter(_q("t"))) for p in element.iter(_q("p")))
    return " ".join(" ".join(text.split()) for text in paragraphs if text.strip())


def flatten_nested_tables(body: Any) -> None:
    """Replace each table inside a table cell by one paragraph holding its rows, innermost first."""
    nested = [tbl for tbl in body.iter(_q("tbl")) if any(a.tag == _q("tc") for a in tbl.iterancestors())]
    for table in reversed(nested):  # document order reversed: a table nested in another comes before it
        rows = [" ".join(text for text in (_text(tc) for tc in tr.iter(_q("tc"))) if text)
                for tr in table.findall(_q("tr"))]
        paragraph = etree.Element(_q("p"))
        run = etree.SubElement(paragraph, _q("r"))
        text = etree.SubElement(run, _q("t"))
        cells_around = sum(1 for a in table.iterancestors() if a.tag == _q("tc"))
        separator = _ROW_SEPARATOR if cells_around == 1 else _DEEPER_ROW_SEPARATOR
        text.text = separator.join(row for row in rows if row)
        text.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        table.addprevious(paragraph)
        table.getparent().remove(table)
