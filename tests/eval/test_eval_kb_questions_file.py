"""The questions file of `rag eval kb`: every problem named in one run, and where the questions are when the
first row does not name them (a title row above the header, the questions on another sheet)."""
from __future__ import annotations

import csv
import io
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
