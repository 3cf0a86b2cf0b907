"""Tables in a PDF's text layer, found from where the text sits on the page: no model, no rendering.

    find_tables(path, pages) -> {page number: [Table(bbox, rows), ...]}

A PDF holds no tables, only runs of text drawn at places (and lines drawn between them). pypdf gives a
page's text in drawing order, so a table came out one cell per line ("Service\\nPrice\\nGeneral
consultation\\n$30 ...") and no row could be quoted. pdfium (pypdfium2, C) reads the same text layer and
gives it as rectangles, one per run of text on a line (a wide gap starts another run); here:

* lines: rectangles whose baselines lie within half a text height of each other, top to bottom; the
  rectangles of a line closer than ~half an em are one run (a word gap, a change of font);
* a table: two or more consecutive lines of two or more runs (rows) whose runs fall into the same
  columns (the union of the runs' x-extents leaves >= 2 columns and every row spans >= 2 of them);
* a wrapped cell: a line of fewer runs, each inside one column, nearer to a row than rows are to each
  other, joins that row's cells (above or below it: cells aligned at the top, middle or bottom);
* not a table: a list (the first column holds only bullets or item numbers), and prose set in two
  columns or with a wide gap (no column whose cells are on the median narrower than 12 text heights).

Bounded work: pages over MAX_CHARS characters or MAX_RUNS runs are not searched (their text stays as
pypdf gives it); everything else is a few passes over the runs of one page. pdfium is not thread-safe:
one lock for the process. A file pdfium cannot open gives no tables (pypdf's text is kept).
"""
from __future__ import annotations

import bisect
import logging
import re
import statistics
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.script import CJK_CHAR

log = logging.getLogger(__name__)

__all__ = ["MAX_CHARS", "MAX_RUNS", "Table", "find_tables", "tables_in"]

MAX_CHARS = 30_000  # characters of one page searched for tables
MAX_RUNS = 3_000  # text runs (rectangles) of one page searched for tables
_MERGE_GAP = 0.6  # runs closer than this many text heights are one run
_MAX_LINE_GAP = 3.0  # a table's consecutive lines are at most this many text heights apart
_MAX_WRAPPED = 3  # lines of a wrapped cell between two rows
_WRAP_PITCH = 0.8  # a wrapped line is nearer to its row than this share of the row pitch
_WRAP_HEIGHTS = 1.6  # ... or, with no pitch to compare, than this many text heights
_MAX_CUTS = 4  # a block whose lines do not all fit is cut before the first misfit, at most this often
_BUDGET = 200_000  # lines looked at while searching one page, all attempts together
_NARROW = 12.0  # a table has a column whose median cell is narrower than this many text heights
_LIST_MARKER = re.compile(r"[\u2022\u2023\u25aa\u25cf\u25e6\u2043\u2219\u00b7\u25a0\u25a1\u2013\u2014*\-\x7f]"
                          r"|\(?[0-9]{1,3}[.)]|\(?[a-zA-Z][.)]|\(?[ivxIVX]{1,5}[.)]")
_lock = threading.Lock()


@dataclass(frozen=True)
class Table:
    """A table on a page: its bounding box in PDF user space (x0, y0, x1, y1: left, bottom, right, top)
    and its rows of cell texts, the first row first (a header when the table has one)."""

    bbox: tuple[float, float, float, float]
    rows: list[list[str]]


@dataclass
class _Run:
    x0: float
    x1: float
    y0: float  # bottom (about the baseline)
    y1: float  # top
    text: str

    @property
    def height(self) -> float:
        return self.y1 - self.y0


@dataclass
class _Line:
    runs: list[_Run] = field(default_factory=list)

    @property
    def base(self) -> float:
        return self.runs[0].y0

    @property
    def height(self) -> float:
        return max(r.height for r in self.runs)


def find_tables(path: Path, pages: list[int]) -> dict[int, list[Table]]:
    """The tables of the given pages (1-based numbers) of the PDF at `path`; pages without any left out."""
    try:
        import pypdfium2 as pdfium
    except ImportError:  # pragma: no cover - a dependency; without it, PDFs keep pypdf's text only
        log.debug("pypdfium2 is not installed: PDF tables are not detected")
        return {}
    out: dict[int, list[Table]] = {}
    with _lock:
        try:
            document = pdfium.PdfDocument(str(path))
        except MemoryError:
            raise
        except Exception as exc:  # pdfium refuses what pypdf repaired: keep pypdf's text
            log.debug("%s: pdfium cannot open it (%s); no tables detected", path.name, exc)
            return out
        try:
            count = len(document)
            for number in pages:
                if not 1 <= number <= count:
                    continue
                try:
                    runs = _page_runs(document, number - 1)
                except MemoryError:
                    raise
                except Exception as exc:  # one odd page: its text stays as pypdf gives it
                    log.debug("%s page %d: pdfium failed (%s); no tables detected", path.name, number, exc)
                    continue
                if tables := tables_in(runs):
                    out[number] = tables
        finally:
            document.close()
    return out


def _page_runs(document: Any, index: int) -> list[_Run]:
    page = document[index]
    try:
        text = page.get_textpage()
        try:
            if text.count_chars() > MAX_CHARS:
                return []
            count = text.count_rects()
            if count > MAX_RUNS:
                return []
            runs = []
            for i in range(count):
                x0, y0, x1, y1 = text.get_rect(i)
                content = " ".join(text.get_text_bounded(x0, y0, x1, y1).split())
                if content:
                    if y1 - y0 < 1:  # pdfium gives glyphs without a box (CJK fonts it lacks) no height
                        y1 = y0 + 0.8 * max(1.0, (x1 - x0) / len(content))
                    runs.append(_Run(x0, x1, y0, y1, content))
            return runs
        finally:
            text.close()
    finally:
        page.close()


def tables_in(runs: list[_Run]) -> list[Table]:
    """The tables that a page's runs of text form (see the module doc)."""
    lines = _lines(runs)
    tables: list[Table] = []
    i = floor = 0
    budget = [_BUDGET]
    while i < len(lines) and budget[0] > 0:
        if len(lines[i].runs) < 2:
            i += 1
            continue
        table, after = _table(lines, i, _block_end(lines, i), floor, budget)
        if table is not None:
            tables.append(table)
            floor = after
        i = after
    return tables


def _lines(runs: list[_Run]) -> list[_Line]:
    lines: list[_Line] = []
    for run in sorted(runs, key=lambda r: (-r.y0, r.x0)):
        if lines and abs(run.y0 - lines[-1].base) <= 0.5 * min(run.height, lines[-1].height):
            lines[-1].runs.append(run)
        else:
            lines.append(_Line([run]))
    for line in lines:
        merged: list[_Run] = []
        for run in sorted(line.runs, key=lambda r: r.x0):
            last = merged[-1] if merged else None
            if last is not None and run.x0 - last.x1 < _MERGE_GAP * min(run.height, last.height):
                merged[-1] = _Run(last.x0, max(last.x1, run.x1), min(last.y0, run.y0), max(last.y1, run.y1),
                                  join_text(last.text, run.text))
            else:
                merged.append(run)
        line.runs = merged
    return lines


def join_text(a: str, b: str) -> str:
    """Two pieces of one cell or line: a space between them, none between Chinese characters."""
    if not a or not b:
        return a or b
    return a + b if CJK_CHAR.match(a[-1]) and CJK_CHAR.match(b[0]) else f"{a} {b}"


def _near(a: _Line, b: _Line) -> bool:
    return abs(a.base - b.base) <= _MAX_LINE_GAP * max(a.height, b.height)


def _block_end(lines: list[_Line], first: int) -> int:
    """Index after the last row of the block of rows starting at `first`: rows (>= 2 runs) with at most
    _MAX_WRAPPED other lines between two of them, every line near the one before."""
    last_row = first
    k = first + 1
    while k < len(lines) and _near(lines[k - 1], lines[k]) and k - last_row <= _MAX_WRAPPED:
        if len(lines[k].runs) >= 2:
            last_row = k
        k += 1
    return last_row + 1


def _columns(lines: list[_Line]) -> list[tuple[float, float]]:
    """The x-extents of the runs, overlapping ones united: the columns."""
    columns: list[list[float]] = []
    for x0, x1 in sorted((r.x0, r.x1) for line in lines for r in line.runs):
        if columns and x0 <= columns[-1][1]:
            columns[-1][1] = max(columns[-1][1], x1)
        else:
            columns.append([x0, x1])
    return [(a, b) for a, b in columns]


def _column_of(run: _Run, columns: list[tuple[float, float]], slack: float) -> int | None:
    """The column that holds the run, or None when it lies across or outside them."""
    for i, (x0, x1) in enumerate(columns):
        if run.x0 >= x0 - slack and run.x1 <= x1 + slack:
            return i
    return None


def _table(lines: list[_Line], first: int, end: int, floor: int, budget: list[int]) -> tuple[Table | None, int]:
    """The table whose rows are the lines of >= 2 runs in lines[first:end], with the lines of wrapped cells
    among them, before them (down to lines[floor]) and after them; and the index after the last line it
    holds. (None, first + 1) if there is none. A line inside that fits no column ends the table before it."""
    for _ in range(_MAX_CUTS + 1):
        budget[0] -= end - first
        if budget[0] < 0:
            break
        found = _try_table(lines, first, end, floor)
        if not isinstance(found, int):
            return found
        end = found  # cut before that line and try again
    return None, first + 1


def _try_table(lines: list[_Line], first: int, end: int, floor: int) -> tuple[Table | None, int] | int:
    rows = [k for k in range(first, end) if len(lines[k].runs) >= 2]
    if len(rows) < 2:
        return None, first + 1
    columns = _columns([lines[k] for k in rows])
    if len(columns) < 2:
        return None, first + 1
    height = statistics.median(r.height for k in rows for r in lines[k].runs)
    pieces: dict[tuple[int, int], list[tuple[int, str]]] = {}  # (row, column) -> (line, text)
    widths: list[list[float]] = [[] for _ in columns]
    for k in rows:
        filled = set()
        for run in lines[k].runs:
            col = _column_of(run, columns, 0.0)
            assert col is not None  # the columns are the union of these runs
            pieces.setdefault((k, col), []).append((k, run.text))
            widths[col].append(run.x1 - run.x0)
            filled.add(col)
        if len(filled) < 2:  # runs of one column only: the columns do not hold for this line
            return k
    pitches = [lines[b].base - lines[a].base for a, b in zip(rows, rows[1:]) if b == a + 1]
    reach = _WRAP_PITCH * abs(statistics.median(pitches)) if pitches else _WRAP_HEIGHTS * height
    is_row = set(rows)

    def wrapped(k: int) -> bool:
        """Line k holds pieces of the cells of the nearest row: put its runs there."""
        line = lines[k]
        at = bisect.bisect_left(rows, k)
        near = rows[max(0, at - 1):at + 1]
        row = min(near, key=lambda r: (abs(lines[r].base - line.base), r > k))  # nearest, above on a tie
        cols = [_column_of(run, columns, 0.5 * height) for run in line.runs]
        if abs(lines[row].base - line.base) >= reach or None in cols or len(set(cols)) < len(cols):
            return False
        for col, run in zip(cols, line.runs):
            pieces.setdefault((row, col), []).append((k, run.text))  # type: ignore[arg-type]
        return True

    for k in range(first, end):
        if k not in is_row and not wrapped(k):
            return k  # a line inside that is no cell
    begin = first
    while begin > floor and first - begin < _MAX_WRAPPED and wrapped(begin - 1):
        begin -= 1
    stop = end
    while stop < len(lines) and stop - end < _MAX_WRAPPED and wrapped(stop):
        stop += 1
    index = {k: i for i, k in enumerate(rows)}
    cells = [["" for _ in columns] for _ in rows]
    for (row, col), texts in pieces.items():
        for _, text in sorted(texts):
            cells[index[row]][col] = join_text(cells[index[row]][col], text)
    if not _looks_like_table(cells, widths, height):
        return None, first + 1
    box = [r for line in lines[begin:stop] for r in line.runs]
    bbox = (min(r.x0 for r in box), min(r.y0 for r in box), max(r.x1 for r in box), max(r.y1 for r in box))
    return Table(bbox, cells), stop


def _looks_like_table(cells: list[list[str]], widths: list[list[float]], height: float) -> bool:
    first = [row[0] for row in cells if row[0]]
    if first and all(_LIST_MARKER.fullmatch(cell) for cell in first):
        return False  # a bulleted or numbered list
    return any(w and statistics.median(w) < _NARROW * height for w in widths)  # else prose in columns
