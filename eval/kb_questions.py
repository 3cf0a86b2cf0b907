"""A customer's own test questions for `rag eval kb`: CSV, XLSX (first sheet) or JSONL, English or Chinese columns.

Columns (case and spaces ignored; others are ignored and named in `QuestionSet.ignored`):
question/问题 (required), expected/期望答案/答案, facts/关键要点 (separated by ; or ；, or a JSON list),
source/来源文件, answerable/可回答 (yes/no/是/否/1/0/true/false; empty = yes), category/类别, id/编号.
A question is known across runs (the baseline comparison) by its id when the file has an id column, else by
its text, so rows may be reordered or inserted between runs.

At most `max_questions` questions a file (`rag eval kb --max-questions`, default MAX_QUESTIONS); an XLSX is
read only down to its last row holding a value (eval.kb_xlsx), so cells formatted far below the questions
cost nothing, and one with more rows holding a value than that is refused before they are parsed.

Every problem is reported with its row and column, all of them at once (up to MAX_ERRORS), before any
question runs. CSV bytes are decoded as indexing decodes text files (BOM, UTF-8, GBK/GB18030, ...:
indexer.parse.encoding); an XLSX is checked for ZIP bombs first (indexer.parse.zipcheck).
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_BYTES = 20 * 1024 * 1024  # a 200-question sheet is ~50 KB; 20 MB is thousands of long rows
MAX_QUESTIONS = 5000         # at ~1 s a question on a 2-core machine, over an hour: split larger sets
MAX_QUESTION_CHARS = 2000
MAX_ERRORS = 20
HEADER_SEARCH_ROWS = 10  # a title or notes above the header: looked for this far down, to say where it is

COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "qid", "编号", "序号"),
    "question": ("question", "问题"),
    "expected": ("expected", "expected answer", "expected_answer", "answer", "期望答案", "答案", "参考答案"),
    "facts": ("facts", "key facts", "key_facts", "关键要点", "要点"),
    "source": ("source", "source file", "source_file", "来源文件", "来源"),
    "answerable": ("answerable", "可回答", "是否可回答"),
    "category": ("category", "类别", "分类"),
}
_ALIAS = {re.sub(r"\s+", " ", a.lower()): name for name, aliases in COLUMNS.items() for a in aliases}
YES = {"yes", "y", "true", "1", "是", "能", "可以", "可"}
NO = {"no", "n", "false", "0", "否", "不能", "不可以", "不可"}
FACT_SEPARATORS = re.compile(r"[;；]")


class QuestionsError(ValueError):
    """The questions file cannot be used as it is: the message names every row and column to fix."""


@dataclass(frozen=True)
class KBQuestion:
    row: int            # the row in the file (the header is row 1; in JSONL, the line number)
    key: str            # the id when the file has an id column, else the question
    question: str
    expected: str = ""
    facts: tuple[str, ...] = ()
    source: str = ""
    answerable: bool = True
    category: str = ""


@dataclass
class QuestionSet:
    path: Path
    questions: list[KBQuestion]
    ignored: list[str] = field(default_factory=list)  # columns that are none of COLUMNS


def load_questions(path: str | Path, max_questions: int = MAX_QUESTIONS) -> QuestionSet:
    """`max_questions`: `rag eval kb --max-questions` (a file with more is refused before any is read further)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise QuestionsError(f"questions file {path}: no such file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise QuestionsError(f"questions file {path}: {size / 1024 / 1024:.1f} MB is over the {MAX_BYTES // 1024 // 1024}"
                             f" MB limit; split it into several files")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        header, rows = _csv_rows(path, max_questions)
    elif suffix == ".xlsx":
        header, rows = _xlsx_rows(path, max_questions)
    elif suffix in (".jsonl", ".json"):
        return _jsonl(path, max_questions)
    else:
        raise QuestionsError(f"questions file {path}: {suffix or 'no extension'} is not a questions format; "
                             f"use .csv, .xlsx or .jsonl")
    return _from_table(path, header, rows, max_questions)


# ---------------------------------------------------------------------------- readers
def _csv_rows(path: Path, max_questions: int) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the rows holding a value (a CSV saved from a sheet formatted far down is mostly ",,,"
    lines: they are not kept, and rows are read no further than the questions a file may have)."""
    from indexer.parse.encoding import TextDecodeError, decode_bytes

    try:
        text = decode_bytes(path.read_bytes())
    except TextDecodeError as e:
        raise QuestionsError(f"questions file {path}: not text ({e}); save it as CSV (UTF-8 or GBK)") from e
    first = text.split("\n", 1)[0]  # the header names the delimiter (csv.Sniffer guesses from the questions too)
    delimiter = max(",\t;", key=first.count) if first.count(",") == 0 else ","
    text = text.rstrip(f" \t\r\n{delimiter}")  # the empty rows after the last value, at C speed
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        for n, record in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), 1):
            if header is None:
                header = record
            elif any(cell.strip() for cell in record):
                rows.append((n, record))
                if len(rows) > max_questions + HEADER_SEARCH_ROWS:  # the questions, maybe a title and header
                    raise _too_many(path, max_questions)
    except csv.Error as e:
        raise QuestionsError(f"questions file {path}: not readable as CSV ({e})") from e
    if header is None:
        raise QuestionsError(f"questions file {path} is empty")
    return header, rows


def _xlsx_rows(path: Path, max_questions: int) -> tuple[list[str], list[tuple[int, list[str]]]]:
    import openpyxl

    from eval.kb_xlsx import SPAN_FACTOR, SheetTooLarge, SheetTooLong, valued_rows
    from indexer.parse.errors import ParseError
    from indexer.parse.zipcheck import check_zip

    try:
        check_zip(path)  # before openpyxl inflates anything
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except ParseError as e:
        raise QuestionsError(f"questions file {path}: {e}") from e
    except Exception as e:  # zipfile.BadZipFile, InvalidFileException, ...
        raise QuestionsError(f"questions file {path} could not be opened as an Excel workbook ({e}); save it again "
                             f"as .xlsx") from e
    try:
        sheet = book.worksheets[0]
        elsewhere = [other.title for other in book.worksheets[1:] if _header_row(_first_rows(other)) is not None]
        try:
            rows = valued_rows(path, sheet, max_questions + HEADER_SEARCH_ROWS)  # the header, maybe a title above
        except SheetTooLarge as e:
            raise QuestionsError(f"questions file {path}: its first sheet has more than {e.limit} rows holding a "
                                 f"value, and a file may have at most {max_questions} questions (--max-questions): "
                                 f"split it into several files, or raise --max-questions") from e
        except SheetTooLong as e:
            raise QuestionsError(f"questions file {path}: its first sheet holds a value in row {e.last_row}, and "
                                 f"rows are read down to row {e.limit} at most ({SPAN_FACTOR} times the rows a file may hold); delete "
                                 f"the empty rows between the questions") from e
    finally:
        book.close()
    if not rows and not elsewhere:
        raise QuestionsError(f"questions file {path}: its first sheet is empty")
    if elsewhere and _header_row([values for _, values in rows[:HEADER_SEARCH_ROWS]]) is None:
        raise QuestionsError(f"questions file {path}: the first sheet, {sheet.title!r}, has no question column "
                             f"(question or 问题), but the sheet {elsewhere[0]!r} has one: only the first sheet is "
                             f"read, so move {elsewhere[0]!r} to be the first sheet (or save it as its own file)")
    header = rows[0][1] if rows and rows[0][0] == 1 else []
    return header, [(n, values) for n, values in rows if n > 1]


def _first_rows(sheet) -> list[list[str]]:
    return [[str(v) if v is not None else "" for v in row]
            for row in sheet.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True)]


def _header_row(rows: list[list[str]]) -> int | None:
    """The index of the first of `rows` naming a question column, None when none does."""
    for i, row in enumerate(rows):
        if any(_ALIAS.get(_title(v).lower()) == "question" for v in row):
            return i
    return None


def _title(raw: object) -> str:
    return re.sub(r"\s+", " ", str(raw or "").replace("\ufeff", "")).strip()


def _jsonl(path: Path, max_questions: int) -> QuestionSet:
    from indexer.parse.encoding import TextDecodeError, decode_bytes

    try:
        text = decode_bytes(path.read_bytes())
    except TextDecodeError as e:
        raise QuestionsError(f"questions file {path}: not text ({e})") from e
    errors: list[str] = []
    header: dict[str, None] = {}  # the keys in order of appearance
    objs: list[tuple[int, dict]] = []
    # lines as JSON sees them: \u2028 inside a string does not end one (str.splitlines would cut there)
    for n, line in enumerate(io.StringIO(text, newline=None), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: not JSON ({e.msg})")
        else:
            if not isinstance(obj, dict):
                errors.append(f"line {n}: a JSON object {{\"question\": ...}} is expected, not {type(obj).__name__}")
            else:
                header.update(dict.fromkeys(obj))
                objs.append((n, obj))
                if len(objs) > max_questions:
                    raise _too_many(path, max_questions)
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise _errors(path, errors)
    table = [(n, [_json_cell(obj.get(k)) for k in header]) for n, obj in objs]
    return _from_table(path, list(header), table, max_questions, where="line")


def _json_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "；".join(str(v) for v in value)
    return str(value)


# ---------------------------------------------------------------------------- validation
def _from_table(path: Path, header: list[str], rows: list[tuple[int, list[str]]], max_questions: int,
                where: str = "row") -> QuestionSet:
    columns: dict[str, int] = {}
    named: dict[str, str] = {}
    ignored: list[str] = []
    for i, raw in enumerate(header):
        title = _title(raw)
        name = _ALIAS.get(title.lower())
        if name is None:
            if title:
                ignored.append(title)
            continue
        if name in columns:
            raise QuestionsError(f"questions file {path}: columns {named[name]!r} and {title!r} both give the "
                                 f"{name}; keep one")
        columns[name], named[name] = i, title
    if "question" not in columns:
        found = ", ".join(repr(str(h)) for h in header if str(h or "").strip()) or "none"
        below = _header_row([values for _, values in rows[:HEADER_SEARCH_ROWS - 1]]) if where == "row" else None
        hint = (f"; row {rows[below][0]} names the columns: delete the row(s) above it (a title or notes), so that "
                f"the first row names the columns" if below is not None else "")
        raise QuestionsError(f"questions file {path}: no question column (question or 问题) in the first "
                             f"{'line' if where == 'line' else 'row'}; columns found: {found}{hint}")

    def cell(values: list[str], name: str) -> str:
        i = columns.get(name)
        return str(values[i]).strip() if i is not None and i < len(values) and values[i] is not None else ""

    errors: list[str] = []
    questions: list[KBQuestion] = []
    seen: dict[str, int] = {}
    for n, values in rows:
        if not any(str(v or "").strip() for v in values):
            continue  # a blank row
        q = cell(values, "question")
        col = lambda name: f"{where} {n}, column {named[name]!r}"  # noqa: E731
        if not q:
            errors.append(f"{col('question')}: the question is empty")
            continue
        if len(q) > MAX_QUESTION_CHARS:
            errors.append(f"{col('question')}: {len(q)} characters, over the {MAX_QUESTION_CHARS} a question "
                          f"may have")
            continue
        # the key is recorded before the row's other checks, so that a later row repeating a row with a bad
        # value is reported in the same run, not only once that value is fixed
        key = cell(values, "id") or q
        if key in seen:
            what = f"id {key!r}" if cell(values, "id") else "question"
            errors.append(f"{where} {n}: the same {what} as {where} {seen[key]}; each question is compared with "
                          f"the baseline by it, so make it unique")
            continue
        seen[key] = n
        answerable = True
        if value := cell(values, "answerable"):
            if value.lower() in YES:
                answerable = True
            elif value.lower() in NO:
                answerable = False
            else:
                errors.append(f"{col('answerable')}: {value!r} is not one of yes, no, 是, 否, 1, 0 (empty = yes)")
                continue
        facts = tuple(f.strip() for f in FACT_SEPARATORS.split(cell(values, "facts")) if f.strip())
        questions.append(KBQuestion(n, key, q, cell(values, "expected"), facts, cell(values, "source"), answerable,
                                    cell(values, "category")))
        if len(questions) > max_questions:
            raise _too_many(path, max_questions)
        if len(errors) >= MAX_ERRORS:
            break
    if errors:
        raise _errors(path, errors)
    if not questions:
        raise QuestionsError(f"questions file {path}: no questions under the header")
    return QuestionSet(path, questions, ignored)


def _too_many(path: Path, max_questions: int) -> QuestionsError:
    return QuestionsError(f"questions file {path}: more than {max_questions} questions, the most a file may have "
                          f"(--max-questions): split it into several files, or raise --max-questions")


def _errors(path: Path, errors: list[str]) -> QuestionsError:
    more = " (and maybe more after these)" if len(errors) >= MAX_ERRORS else ""
    return QuestionsError(f"questions file {path}: {len(errors)} problem(s){more}; fix them and run again:\n  "
                          + "\n  ".join(errors))
