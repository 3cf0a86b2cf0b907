"""Tables as text: CSV/TSV (stdlib csv), XLSX (openpyxl), and the shared rendering.

A table becomes one or more `table` Elements whose text is the header line followed by
at most MAX_ROWS_PER_TABLE data rows, cells joined by " | ". Long tables are split into
groups that each repeat the header, so every chunk cut from them stays interpretable.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from indexer.parse.encoding import read_text
from indexer.parse.errors import ParseError
from indexer.parse.limits import ParseLimits
from indexer.parse.zipcheck import check_zip
from indexer.types import Element

MAX_ROWS_PER_TABLE = 40
_SPACE = re.compile(r"\s+")
_SNIFF_BYTES = 64 * 1024


def clean_cell(value: object) -> str:
    """One table cell as a single line of text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return _SPACE.sub(" ", str(value)).strip()


def render_table(rows: Sequence[Sequence[str]]) -> str:
    return "\n".join(" | ".join(row) for row in rows)


def table_elements(rows: Iterable[Sequence[object]], section: str = "",
                   page: int | None = None) -> list[Element]:
    """Rows (first non-empty one is the header) -> table Elements of <= 40 data rows each."""
    cleaned = [[clean_cell(v) for v in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return []
    width = max(len(row) for row in cleaned)
    while width > 1 and not any(len(row) >= width and row[width - 1] for row in cleaned):
        width -= 1  # spreadsheets and CSV exports often carry empty trailing columns
    cleaned = [row[:width] + [""] * (width - len(row)) for row in cleaned]
    header, body = cleaned[0], cleaned[1:]
    if not body:
        return [Element(render_table([header]), "table", section, page)]
    return [
        Element(render_table([header, *body[i:i + MAX_ROWS_PER_TABLE]]), "table", section, page)
        for i in range(0, len(body), MAX_ROWS_PER_TABLE)
    ]


def html_table_rows(html: str) -> list[list[str]]:
    """Cell texts of an HTML <table> (as in unstructured's metadata.text_as_html), by row."""
    from lxml import html as lxml_html

    try:
        root = lxml_html.fragment_fromstring(html, create_parent="div")
    except Exception:  # lxml raises several types for broken markup
        return []
    return [
        [cell.text_content() for cell in tr if cell.tag in ("td", "th")]
        for tr in root.iter("tr")
    ]


def parse_csv(path: Path) -> list[Element]:
    text = read_text(path)
    sample = text[:_SNIFF_BYTES]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t|")
    except csv.Error:  # one column, or too irregular to tell: fall back to the extension
        dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
    except csv.Error as exc:
        raise ParseError(f"{path.name} could not be read as CSV ({exc}). Check that it is "
                         "a plain CSV export, or save it again from your spreadsheet "
                         "program.") from exc
    return table_elements(rows)


def parse_xlsx(path: Path, limits: ParseLimits | None = None) -> list[Element]:
    import openpyxl

    check_zip(path, limits)  # before openpyxl inflates anything
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException, ...
        raise ParseError(f"{path.name} could not be opened as an Excel workbook: it may be "
                         "damaged, password-protected or an old .xls file. Open it in Excel "
                         "and save it again as .xlsx.") from exc
    try:
        elements: list[Element] = []
        for sheet in workbook.worksheets:
            elements.extend(table_elements(sheet.iter_rows(values_only=True), sheet.title))
        return elements
    finally:
        workbook.close()
