"""The questions file of `rag eval kb`: every problem named in one run, and where the questions are when the
first row does not name them (a title row above the header, the questions on another sheet)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

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
