"""A questions XLSX is read down to its last row holding a value (eval.kb_xlsx): cells formatted far below the
questions are no "too many rows", a question below a formatted gap is kept, and a sheet with a million rows
of questions is refused at once, naming the limit and --max-questions (English and Chinese sheets)."""
from __future__ import annotations

import time
import zipfile
from copy import copy
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import Border, PatternFill, Side

from eval.kb_questions import MAX_QUESTIONS, QuestionsError, load_questions

SHEETS = {
    "en": (["question", "expected"], [["What is the monthly fee?", "$25"], ["How do I report a lost card?", "call"]]),
    "zh": (["问题", "期望答案"], [["手续费是多少？", "10元"], ["临时挂失的有效期是多久？", "5天"]]),
}


def _formatted(path: Path, header: list[str], rows: list[list[str]], down_to: int, late: list[str] | None = None) -> Path:
    """A sheet as staff leave it: the questions, then cells filled and bordered down to row `down_to`, all empty
    (and `late`, a question far below them)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    side = Side(style="thin")
    styled = sheet.cell(row=len(rows) + 2, column=1)
    styled.fill, styled.border = PatternFill("solid", fgColor="FFF2CC"), Border(left=side, right=side, top=side,
                                                                                 bottom=side)
    for r in range(len(rows) + 2, down_to + 1):
        for c in range(1, len(header) + 1):
            sheet.cell(row=r, column=c)._style = copy(styled._style)  # the same style, as a fill-down gives
    if late:
        for c, value in enumerate(late, 1):
            sheet.cell(row=down_to + 1, column=c, value=value)
    book.save(path)
    return path


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_sheet_formatted_far_below_its_questions_is_read_to_its_last_value(tmp_path, lang):
    header, rows = SHEETS[lang]
    path = _formatted(tmp_path / "q.xlsx", header, rows, 12_000)
    with zipfile.ZipFile(path) as z:  # the formatted rows are in the file, as Excel writes them
        assert z.read("xl/worksheets/sheet1.xml").count(b"<row ") == 12_000
    assert openpyxl.load_workbook(path, read_only=True).worksheets[0].max_row == 12_000
    t0 = time.perf_counter()
    qs = load_questions(path)
    took = time.perf_counter() - t0
    assert [(q.row, q.question, q.expected) for q in qs.questions] == [(2, *rows[0]), (3, *rows[1])]
    assert took < 0.5 * _seconds_to_parse(path)  # the formatted rows are not parsed one by one

    later = _formatted(tmp_path / "late.xlsx", header, rows, 4_000, late=[rows[0][0] + " (2)", "x"])
    assert [q.row for q in load_questions(later).questions] == [2, 3, 4_001]  # below the gap: kept


def _seconds_to_parse(path: Path) -> float:
    """What openpyxl takes to go through every row of the first sheet (what the reader skips)."""
    t0 = time.perf_counter()
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    for _ in book.worksheets[0].iter_rows():
        pass
    book.close()
    return time.perf_counter() - t0


def _many_rows(path: Path, header: list[str], question: str, n: int) -> Path:
    """An XLSX whose first sheet holds `n` rows of questions under the header (its XML written directly:
    openpyxl takes minutes to write a million rows)."""
    book = openpyxl.Workbook()
    book.active.append(header)
    book.save(path)
    with zipfile.ZipFile(path) as z:
        members = {i.filename: z.read(i.filename) for i in z.infolist()}
    xml = members["xl/worksheets/sheet1.xml"].decode("utf-8")
    start, end = xml.index("<sheetData>") + len("<sheetData>"), xml.index("</sheetData>")
    head = xml[start:end]
    body = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{question} {r}</t></is></c></row>'
                   for r in range(2, n + 2))
    members["xl/worksheets/sheet1.xml"] = (xml[:start] + head + body + xml[end:]).encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


@pytest.mark.slow  # ~6 s each: the million rows are written and deflated
@pytest.mark.parametrize("lang,question", [("en", "What is the fee for card"), ("zh", "网点营业时间？")])
def test_a_sheet_of_a_million_questions_is_refused_at_once_naming_the_limit_and_the_setting(tmp_path, lang,
                                                                                           question):
    path = _many_rows(tmp_path / "big.xlsx", SHEETS[lang][0], question, 1_000_000)
    t0 = time.perf_counter()
    with pytest.raises(QuestionsError) as refused:
        load_questions(path)
    took = time.perf_counter() - t0
    message = str(refused.value)
    assert f"at most {MAX_QUESTIONS} questions (--max-questions)" in message
    assert "split it into several files, or raise --max-questions" in message
    assert took < 0.25 * _seconds_to_parse_rows(path, 100_000)  # not a tenth of the rows is parsed


def _seconds_to_parse_rows(path: Path, n: int) -> float:
    t0 = time.perf_counter()
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    for _ in book.worksheets[0].iter_rows(max_row=n):
        pass
    book.close()
    return time.perf_counter() - t0


def test_the_scan_finds_shared_strings_numbers_and_prefixed_tags_across_blocks():
    import io

    from eval.kb_xlsx import BLOCK, extent

    filler = "".join(f'<x:row r="{r}" s="1" customFormat="1"><x:c r="A{r}" s="1"/></x:row>' for r in range(3, 40_000))
    xml = ('<x:worksheet xmlns:x="main"><x:sheetData><x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c></x:row>'
           '<x:row r="2"><x:c r="A2"><x:v>25</x:v></x:c><x:c r="B2" t="inlineStr"><x:is><x:t>元</x:t></x:is></x:c>'
           f'</x:row>{filler}<x:row r="40000"><x:c r="C40000" t="s"><x:v>1</x:v></x:c></x:row>'
           '</x:sheetData></x:worksheet>').encode("utf-8")
    assert len(xml) > 2 * BLOCK  # tags cut by the blocks' ends are found whole
    found = extent(io.BytesIO(xml), 10)
    assert (found.valued_rows, found.last_row) == (3, 40_000)
    with pytest.raises(Exception, match="more than 2 rows with a value"):
        extent(io.BytesIO(xml), 2)


def test_the_limit_is_the_max_questions_given(tmp_path):
    header, _ = SHEETS["zh"]
    path = _many_rows(tmp_path / "q.xlsx", header, "营业时间？", 30)
    assert len(load_questions(path, max_questions=30).questions) == 30
    with pytest.raises(QuestionsError, match=r"more than 25 questions, the most a file may have \(--max-questions\)"):
        load_questions(path, max_questions=25)  # counted as questions
    with pytest.raises(QuestionsError, match=r"more than 20 rows holding a value.*at most 10 questions \(--max-q"):
        load_questions(path, max_questions=10)  # refused while the sheet is scanned


def test_rag_eval_kb_takes_max_questions(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from tests.eval.test_eval_kb import _eval_cli

    path = _many_rows(tmp_path / "q.xlsx", ["question"], "What are the opening hours of branch", 30)
    cli = _eval_cli(monkeypatch, tmp_path / "home")
    refused = CliRunner().invoke(cli, ["eval", "kb", "--kb", "t", "--questions", str(path), "--max-questions", "20"])
    assert refused.exit_code == 2 and "at most 20 questions (--max-questions)" in refused.output, refused.output
    passed = CliRunner().invoke(cli, ["eval", "kb", "--kb", "t", "--questions", str(path), "--max-questions", "30"])
    assert "questions file" not in passed.output and "does not exist" in passed.output, passed.output  # KB next


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_value_far_below_the_questions_is_named_not_read_through(tmp_path, lang):
    from eval.kb_questions import HEADER_SEARCH_ROWS
    from eval.kb_xlsx import SPAN_FACTOR

    header, rows = SHEETS[lang]
    limit = SPAN_FACTOR * (MAX_QUESTIONS + HEADER_SEARCH_ROWS)
    book = openpyxl.Workbook()
    for row in [header, *rows]:
        book.active.append(row)
    book.active.cell(row=limit + 1, column=1, value=rows[0][0] + " (2)")
    book.save(tmp_path / "q.xlsx")
    with pytest.raises(QuestionsError, match=f"holds a value in row {limit + 1}, and rows are read down to row "
                                             f"{limit} at most.*delete the empty rows between the questions"):
        load_questions(tmp_path / "q.xlsx")
    assert len(load_questions(tmp_path / "q.xlsx", max_questions=limit).questions) == 3  # as many as asked for
