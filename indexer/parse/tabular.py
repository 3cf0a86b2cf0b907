"""Tables as text: CSV/TSV (stdlib csv), XLSX (openpyxl), and the shared rendering.

A table becomes one or more `table` Elements whose text is the header line followed by
at most MAX_ROWS_PER_TABLE data rows, cells joined by " | ". Long tables are split into
groups that each repeat the header, so every chunk cut from them stays interpretable.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from indexer.parse.cell_format import clean_cell
from indexer.parse.encoding import read_text
from indexer.parse.errors import ParseError
from indexer.parse.extension import file_extension
from indexer.parse.limits import ParseLimits
from indexer.parse.row_names import carry_row_names
from indexer.parse.sheet_blocks import sheet_blocks
from indexer.parse.sheet_view import read_sheet_view
from indexer.parse.xml_dtd import entity_refusal
from indexer.parse.zipcheck import check_zip
from indexer.types import Element

# raise when what this parser gives for a file changes (text, sections, pages, tables): `rag index` then
# reads again the files it read before (indexer.parse.versions; vectors of unchanged chunks are reused)
# per format; table_elements is shared: a change to it raises these and the formats that use it too
# csv 2, xlsx 2 (and every format whose tables come here): a row's blank first cell under a named row carries
# that name (indexer.parse.row_names)
# csv 3, xlsx 3 (and every format whose tables come here): a bare number such as a year names the rows under it
# unless its column numbers the rows; a grand total row under a group is not given the group's name
CSV_PARSER_VERSION = 3  # .csv, .tsv
XLSX_PARSER_VERSION = 3
MAX_ROWS_PER_TABLE = 40
_SNIFF_BYTES = 64 * 1024


def render_table(rows: Sequence[Sequence[str]]) -> str:
    return "\n".join(" | ".join(row) for row in rows)


def table_elements(rows: Iterable[Sequence[object]], section: str = "",
                   page: int | None = None, notes_as_text: bool = False) -> list[Element]:
    """Rows (first non-empty one is the header) -> table Elements of <= 40 data rows each.

    With `notes_as_text` (spreadsheets), a row of a table two or more columns wide that holds one
    non-empty cell (a title, a section line or a note such as "注：以上价格为2025年标准", often merged
    across the row) is a `text` Element where it stands, not a table row padded with empty cells; the
    table goes on after it under the same header."""
    cleaned = [[clean_cell(v) for v in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return []
    width = max(len(row) for row in cleaned)
    while width > 1 and not any(len(row) >= width and row[width - 1] for row in cleaned):
        width -= 1  # spreadsheets and CSV exports often carry empty trailing columns
    cleaned = [row[:width] + [""] * (width - len(row)) for row in cleaned]
    if not notes_as_text or width < 2 or all(sum(map(bool, row)) < 2 for row in cleaned):
        return _tables(cleaned[0], cleaned[1:], section, page)
    # Data rows keep their empty cells up to the table's width: the answer side reads a row's cells
    # by position under the header ("胃镜 | 680 | 08:30 | " has no 备注).
    elements: list[Element] = []
    header: list[str] | None = None
    header_at, shown = 0, False  # where the header stands; whether a table has carried it
    body: list[list[str]] = []
    for row in cleaned:
        filled = [cell for cell in row if cell]
        if len(filled) == 1:
            if header is not None and body:
                elements.extend(_tables(header, body, section, page))
                body, shown = [], True
            elements.append(Element(filled[0], "text", section, page))
        elif header is None:
            header, header_at = row, len(elements)
        else:
            body.append(row)
    if header is not None and body:
        elements.extend(_tables(header, body, section, page))
    elif header is not None and not shown:  # a header with no rows under it
        elements.insert(header_at, Element(render_table([header]), "table", section, page))
    return elements


def _tables(header: list[str], body: list[list[str]], section: str,
            page: int | None) -> list[Element]:
    if not body:
        return [Element(render_table([header]), "table", section, page)]
    body = carry_row_names(body, header)  # a blank first cell under a named row: that name (indexer.parse.row_names)
    return [
        Element(render_table([header, *body[i:i + MAX_ROWS_PER_TABLE]]), "table", section, page)
        for i in range(0, len(body), MAX_ROWS_PER_TABLE)
    ]


def parse_csv(path: Path) -> list[Element]:
    text = read_text(path)
    sample = text[:_SNIFF_BYTES]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t|")
    except csv.Error:  # one column, or too irregular to tell: fall back to the extension
        dialect = csv.excel_tab if file_extension(path) == ".tsv" else csv.excel
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), dialect))
    except csv.Error as exc:
        raise ParseError(f"{path.name} could not be read as CSV ({exc}). Check that it is "
                         "a plain CSV export, or save it again from your spreadsheet "
                         "program.") from exc
    return table_elements(rows, notes_as_text=True)


def shown_cells(rows: list[list[str]], path: Path, sheet: object) -> list[list[str]]:
    """A sheet's rows as it shows them: merged cells in each row they span, hidden rows and columns out
    (indexer.parse.sheet_view)."""
    view = read_sheet_view(path, getattr(sheet, "_worksheet_path", None))
    view.fill_merges(rows)
    kept = [row for number, row in enumerate(rows, 1) if view.row_shown(number)]
    if not view.hidden_columns:
        return kept
    return [[cell for column, cell in enumerate(row, 1) if column not in view.hidden_columns] for row in kept]


def parse_xlsx(path: Path, limits: ParseLimits | None = None) -> list[Element]:
    import openpyxl

    check_zip(path, limits)  # before openpyxl inflates anything
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException, ...
        if (refused := entity_refusal(path, exc)) is not None:  # a DTD, with the zip check off
            raise refused from exc
        raise ParseError(f"{path.name} could not be opened as an Excel workbook: it may be "
                         "damaged, password-protected or an old .xls file. Open it in Excel "
                         "and save it again as .xlsx.") from exc
    try:
        elements: list[Element] = []
        hidden: list[str] = []
        for sheet in workbook.worksheets:
            if sheet.sheet_state != "visible":  # hidden by its author (drafts, lookups): not what a reader sees
                hidden.append(sheet.title)
                continue
            # the sheet's own <dimension> is what the file claims, not what it holds: exporters that
            # write "A1" had every cell but A1 dropped, and cells past a short claim were lost; one
            # claiming A1:XFD1048576 padded each row to 16,384 cells. Rows are read as they are.
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()
            rows = [[clean_cell(cell.value, getattr(cell, "number_format", None)) for cell in row]
                    for row in sheet.iter_rows()]
            for block in sheet_blocks(shown_cells(rows, path, sheet)):  # indexer.parse.sheet_blocks
                elements.extend(table_elements(block, sheet.title, notes_as_text=True))
        if not any(e.text.strip() for e in elements) and hidden:
            raise ParseError(f"{path.name} shows no text: what it holds is on hidden sheets "
                             f"({', '.join(hidden)}), which are not indexed. Unhide the sheets in Excel "
                             "(right-click a sheet tab, Unhide) and upload it again.")
        return elements
    except Exception as exc:  # sheets are parsed as they are read
        if (refused := entity_refusal(path, exc)) is not None:
            raise refused from exc
        raise
    finally:
        workbook.close()
