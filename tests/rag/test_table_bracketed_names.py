"""A row's first cell qualified in brackets ("General adult wards (Wards 3A to 6C)") is named in part by half of the
words outside its brackets: the ward codes in them had counted among the cell's words, so "visiting hours general
ward" (general, ward: two of five) named no row and got a sentence about children's visits instead of the hours."""
from __future__ import annotations

import pytest

from rag.answering.extract import fallback_answer
from rag.answering.table_rows import row_quote
from rag.types import Hit

EN = ("Area | Visiting hours | Visitors at the bedside\n"
      "General adult wards (Wards 3A to 6C) | 2:00 pm to 8:00 pm, every day | At most 2 at a time\n"
      "Intensive Care Unit (Level 2) | 11:00 am to 1:00 pm and 4:00 pm to 8:00 pm | At most 2, close family only\n"
      "Children's Ward (Ward 4B) | Parents and carers: 24 hours. Others: 3:00 pm to 7:00 pm | 2 plus parents\n"
      "Maternity Ward (Ward 5A) | 3:00 pm to 5:00 pm | At most 2")
ZH = ("区域 | 探视时间 | 床旁人数\n普通成人病房（3A至6C病区） | 每天14:00—20:00 | 最多2人\n"
      "重症监护室（2楼） | 11:00—13:00，16:00—20:00 | 最多2人，仅限直系亲属\n"
      "儿童病房（4B病区） | 家长：24小时；其他：15:00—19:00 | 2人及家长\n产科病房（5A病区） | 15:00—17:00 | 最多2人")
GENERAL_EN = ("General adult wards (Wards 3A to 6C) - Visiting hours: 2:00 pm to 8:00 pm, every day; "
              "Visitors at the bedside: At most 2 at a time.")
GENERAL_ZH = "普通成人病房（3A至6C病区）——探视时间：每天14:00—20:00；床旁人数：最多2人。"


@pytest.mark.parametrize("table, question, row", [
    (EN, "visiting hours general ward", GENERAL_EN), (EN, "general ward visiting times?", GENERAL_EN),
    (ZH, "普通病房探视时间", GENERAL_ZH), (ZH, "普通病房几点能探视", GENERAL_ZH)])
def test_a_row_is_named_by_half_the_words_outside_its_brackets(table, question, row):
    assert row_quote(table, question, named=True) == row


@pytest.mark.parametrize("table, question", [(EN, "visiting hours for wards"), (ZH, "病房探视时间")])
def test_one_word_outside_the_brackets_names_no_row(table, question):
    # "ward" / 病房 stands in every row's name: no row is named
    assert row_quote(table, question, named=True) is None


def test_the_named_row_is_quoted_before_a_higher_passages_sentence():
    children = ("Children under 12 may visit general wards only when an adult other than the patient looks after "
                "them for the whole visit. Children are not allowed in the Intensive Care Unit unless the nurse in "
                "charge agrees in advance.")
    hits = [Hit(chunk_id="c1", doc_id="v", text=children, score=0.9, source="visiting.md",
                title="Visiting Hours and Rules > Children who visit"),
            Hit(chunk_id="c2", doc_id="v", text=EN, score=0.8, source="visiting.md",
                title="Visiting Hours and Rules > Visiting times by area")]
    assert fallback_answer("visiting hours general ward", hits) == GENERAL_EN[:-1] + " [2]."
    zh_children = "12岁以下儿童探视普通病房须由患者以外的成人全程陪同。儿童不得进入重症监护室，除非护士长事先同意。"
    hits = [Hit(chunk_id="z1", doc_id="vz", text=zh_children, score=0.9, source="探视.md", title="探视须知 > 儿童探视"),
            Hit(chunk_id="z2", doc_id="vz", text=ZH, score=0.8, source="探视.md", title="探视须知 > 各区域探视时间")]
    assert fallback_answer("普通病房探视时间", hits) == GENERAL_ZH[:-1] + "[2]。"
