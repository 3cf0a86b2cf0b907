"""The questions file of `rag eval kb`: every problem named in one run, and where the questions are when the
first row does not name them (a title row above the header, the questions on another sheet)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest

from eval.kb_questions import QuestionsError, load_questions


def _csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


@pytest.mark.parametrize("header,bad,encoding", [
    (["问题", "可回答"], "可能", "gbk"),
    (["question", "answerable"], "maybe", "utf-8"),
])
def test_a_repeated_question_is_named_with_the_bad_value_of_the_row_it_repeats(tmp_path, header, bad, encoding):
    question = "个人每年的购汇额度是多少？" if encoding == "gbk" else "What is the yearly FX quota?"
    path = _csv(tmp_path / "q.csv", [header, [question, bad], [question, "yes"]], encoding)
    with pytest.raises(QuestionsError) as raised:
        load_questions(path)
    message = str(raised.value)
    assert "2 problem(s)" in message
    assert f"row 2, column '{header[1]}': '{bad}' is not one of" in message
    assert "row 3: the same question as row 2" in message


@pytest.mark.parametrize("title,header,encoding", [
    ("仁和医院住院问题测试清单（2026年12月）", ["编号", "问题", "关键要点"], "gbk"),
    ("Harbor Bank staff questions, December 2026", ["id", "Question", "facts"], "utf-8-sig"),
])
def test_a_title_row_above_the_header_is_named_with_the_row_that_names_the_columns(tmp_path, title, header,
                                                                                    encoding):
    rows = [[title], [], header, ["1", "住院押金是多少？", "5000元"]]
    with pytest.raises(QuestionsError, match="row 3 names the columns: delete the row\\(s\\) above it"):
        load_questions(_csv(tmp_path / "q.csv", rows, encoding))
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(tmp_path / "q.xlsx")
    with pytest.raises(QuestionsError, match="row 3 names the columns: delete the row\\(s\\) above it"):
        load_questions(tmp_path / "q.xlsx")
    _csv(tmp_path / "fixed.csv", rows[2:], encoding)  # as the message says: the rows above the header deleted
    assert [q.question for q in load_questions(tmp_path / "fixed.csv").questions] == ["住院押金是多少？"]


@pytest.mark.parametrize("notes,sheet,header", [
    ("说明", "问题", ["问题", "关键要点"]),
    ("Instructions", "Questions", ["question", "facts"]),
])
def test_questions_on_another_sheet_are_named_with_that_sheet(tmp_path, notes, sheet, header):
    book = openpyxl.Workbook()
    book.active.title = notes
    book.active.append(["Fill in the questions on the next sheet / 请在下一个工作表填写问题"])
    book.create_sheet(sheet).append(header)
    book[sheet].append(["What is the overdraft fee?", "$35"])
    book.save(tmp_path / "q.xlsx")
    with pytest.raises(QuestionsError, match=f"the first sheet, '{notes}', has no question column .*the sheet "
                                             f"'{sheet}' has one: only the first sheet is read, so move '{sheet}'"):
        load_questions(tmp_path / "q.xlsx")
    book.move_sheet(sheet, offset=-1)  # as the message says
    book.save(tmp_path / "q.xlsx")
    assert [q.question for q in load_questions(tmp_path / "q.xlsx").questions] == ["What is the overdraft fee?"]


def _peak_mb(load) -> tuple[object, float]:
    """What `load()` returns (or raises) and the most memory it held at once, in MB (Python objects)."""
    import tracemalloc

    tracemalloc.start()
    try:
        try:
            got = load()
        except QuestionsError as e:
            got = e
        return got, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("header,rows,encoding", [
    (["问题", "期望答案", "类别"], [["手续费是多少？", "10元", "收费"], ["临时挂失有效期多久？", "5天", "挂失"]], "gbk"),
    (["question", "expected", "category"], [["What is the fee?", "$10", "fees"], ["Lost card?", "call", "cards"]],
     "utf-8-sig"),
])
def test_a_csv_saved_from_a_sheet_formatted_far_down_keeps_its_questions_in_little_memory(tmp_path, header, rows,
                                                                                          encoding):
    # Excel saves the formatted-but-empty rows of a sheet as lines of delimiters: 300,000 of them here, between
    # the questions and after them; each was kept as a list of cells (~60 MB), the file is ~1 MB
    gap = [["", "", ""]] * 150_000
    path = _csv(tmp_path / "q.csv", [header, rows[0], *gap, rows[1], *gap], encoding)
    qs, peak = _peak_mb(lambda: load_questions(path))
    assert [(q.row, q.question, q.category) for q in qs.questions] == [(2, rows[0][0], rows[0][2]),
                                                                       (150_003, rows[1][0], rows[1][2])]
    assert peak < 20, peak  # ~6 MB; every row kept: ~60 MB


def test_a_csv_of_many_questions_is_refused_without_keeping_them_all(tmp_path):
    path = _csv(tmp_path / "q.csv", [["问题", "答案"], *([f"第{i}个问题？", "是"] for i in range(300_000))], "gbk")
    refused, peak = _peak_mb(lambda: load_questions(path, max_questions=1000))
    assert isinstance(refused, QuestionsError), refused
    assert "more than 1000 questions, the most a file may have (--max-questions)" in str(refused)
    assert peak < 50, peak  # the file's text (~26 MB in all its forms), not 300,000 rows (~114 MB)


@pytest.mark.parametrize("question", ["个人购汇额度是多少？\u2028（每年）", "What is the yearly quota?\u2028(per person)"])
def test_a_jsonl_question_with_a_line_separator_in_a_string_is_one_line(tmp_path, question):
    # json.dumps(ensure_ascii=False) writes U+2028 as it is; str.splitlines cut the line there ("not JSON")
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps({"question": q, "answerable": "yes"}, ensure_ascii=False)
                              for q in (question, "第二个问题？")) + "\n", encoding="utf-8")
    assert [(q.row, q.question) for q in load_questions(path).questions] == [(1, question), (2, "第二个问题？")]


def test_a_jsonl_of_bad_lines_is_reported_by_its_first_problems_in_little_memory(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "手续费？"}\n' + "[1]\n" * 1_000_000, encoding="utf-8")
    refused, peak = _peak_mb(lambda: load_questions(path))
    message = str(refused)
    assert "20 problem(s) (and maybe more after these)" in message and "line 21: a JSON object" in message
    assert "line 22:" not in message and len(message) < 5000
    assert peak < 60, peak  # the file's text (~23 MB in all its forms), not a million problems (~257 MB)
