"""Pages of lines -> Elements, for the parsers that read a page's lines themselves (indexer.parse.pdf: a text
layer or a scan; indexer.parse.images: a scan). A paragraph each (its lines kept apart by line breaks; a blank
line ends it), a table its rows (indexer.parse.tabular), and a heading a title whose text is the last part of
the section path of what follows it, down to the next heading of its level or above, on any later page."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from indexer.parse.ocr_headings import opened, section
from indexer.parse.tabular import table_elements
from indexer.types import Element


@dataclass(frozen=True)
class PageLine:
    """A line of a page: its text ("" for a paragraph break), its heading level (0: body text; 1: a title), or a
    table's rows standing for the lines it replaced."""

    text: str
    heading: int = 0
    table: list[list[str]] | None = None


def page_elements(pages: Iterable[tuple[int | None, Iterable[PageLine]]], ocr: bool = False) -> list[Element]:
    """`pages`: (page number, or None for a file of one image; its lines). `ocr`: the text was read by OCR."""
    elements: list[Element] = []
    path: list[tuple[int, str]] = []
    for page, lines in pages:
        paragraph: list[str] = []

        def flush() -> None:
            if text := "\n".join(paragraph).strip():
                elements.append(Element(text, "text", section(path), page, ocr=ocr))
            paragraph.clear()

        for line in lines:
            text = line.text.strip()
            if line.table is not None:
                flush()
                elements.extend(table_elements(line.table, section(path), page))
            elif text and line.heading:
                flush()
                path = opened(path, line.heading, text)
                elements.append(Element(text, "title", section(path), page, ocr=ocr))
            elif text:
                paragraph.append(text)
            else:
                flush()
        flush()
    return elements
