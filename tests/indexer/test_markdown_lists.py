"""Markdown nested lists (indexer.parse.markdown_lists): each item is one list element holding its
sub-items, "- " (or the sub-item's number) and two spaces a level deeper, so no chunk holds a sub-item
without the item it belongs to. Tight and loose lists, ordered and unordered, two and three levels,
English and Chinese."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexer.chunk import chunk_elements
from indexer.config import ChunkSettings
from indexer.parse.dispatch import parse_file
from indexer.parse.markdown_source import nest_lists
from indexer.types import Element


def _parse(tmp_path: Path, source: str) -> list[Element]:
    path = tmp_path / "guide.md"
    path.write_text(source, encoding="utf-8")
    return parse_file(path)


@pytest.mark.parametrize(("source", "expected"), [
    ("# 入院须知\n\n1. 办理入院手续\n   - 需携带身份证\n   - 需携带医保卡\n     1. 异地医保需先备案\n     2. 备案后三个工作日生效\n"
     "2. 缴纳押金\n   - 押金可用微信支付\n\n住院期间请保持手机畅通。\n",
     ["1. 办理入院手续\n- 需携带身份证\n- 需携带医保卡\n  1. 异地医保需先备案\n  2. 备案后三个工作日生效",
      "2. 缴纳押金\n- 押金可用微信支付", "住院期间请保持手机畅通。"]),
    ("# Admission\n\n* Documents\n    * ID card\n    * Insurance card\n        - Out-of-area cards need a referral\n"
     "* Clothes\n    1. Slippers\n    2. Pyjamas\n",
     ["Documents\n- ID card\n- Insurance card\n  - Out-of-area cards need a referral",
      "Clothes\n1. Slippers\n2. Pyjamas"]),
], ids=["zh-ordered-3-levels", "en-unordered-4-space"])
def test_sub_items_stay_under_their_item(tmp_path: Path, source: str, expected: list[str]) -> None:
    elements = _parse(tmp_path, source)
    assert [e.text for e in elements[1:]] == expected
    assert [e.kind for e in elements[1:len(expected)]] == ["list"] * (len(expected) - 1)


def test_a_loose_item_keeps_its_paragraphs_and_sub_items_together(tmp_path: Path) -> None:
    source = ("# Steps\n\n1. Register at the front desk.\n\n   Bring your referral letter.\n\n   - ID card\n"
              "   - Insurance card\n\n   Staff will give you a wristband.\n\n2. 缴纳押金。\n\n   - 微信支付\n   - 银行卡\n")
    texts = [e.text for e in _parse(tmp_path, source)]
    assert texts[1:] == ["1. Register at the front desk. Bring your referral letter.\n- ID card\n- Insurance card",
                         "Staff will give you a wristband.", "2. 缴纳押金。\n- 微信支付\n- 银行卡"]


def test_no_chunk_holds_a_sub_item_without_its_item(tmp_path: Path) -> None:
    # twelve items of six sub-items (~100 tokens an item): chunks of 200 are cut between items, not inside
    # one, where the 30-token overlap would not have carried the item's line into the next chunk
    # (sub-items start at their item's text: three spaces in under "9. ", four under "10. ")
    lines = ("需携带本人身份证原件及复印件", "需携带第{n}号业务申请表一份", "需携带户口簿原件及复印件",
             "委托他人办理的需携带委托书", "办理时间为工作日上午八点至十二点", "咨询电话为总服务台分机{n}号")
    items = "".join(f"{n}. 第{n}号窗口办理第{n}类业务\n" + "".join(
        " " * len(f"{n}. ") + "- " + line.format(n=n) + "\n" for line in lines) for n in range(1, 13))
    elements = _parse(tmp_path, "# 办事指南\n\n" + items)
    chunks = chunk_elements("d", elements, ChunkSettings())
    assert len(chunks) > 4
    for chunk in chunks:
        for n in range(1, 13):
            if f"分机{n}号" in chunk.text or f"第{n}号业务申请表" in chunk.text:
                assert f"{n}. 第{n}号窗口办理第{n}类业务" in chunk.text, chunk.text


@pytest.mark.parametrize(("source", "expected"), [
    ("# 入院须知\n\n> 1. 办理入院手续\n>    - 需携带身份证\n>    - 需携带医保卡\n>      1. 异地医保需先备案\n> 2. 缴纳押金\n\n"
     "住院期间请保持手机畅通。\n",
     ["1. 办理入院手续\n- 需携带身份证\n- 需携带医保卡\n  1. 异地医保需先备案", "2. 缴纳押金", "住院期间请保持手机畅通。"]),
    ("# Admission\n\n> Before you come:\n>\n> - Documents\n>   - ID card\n>   - Insurance card\n>\n"
     "> > - Clothes\n> >   - Slippers\n",
     ["Before you come:", "Documents\n- ID card\n- Insurance card", "Clothes\n- Slippers"]),
], ids=["zh-ordered-in-quote", "en-in-quote-and-quote-in-quote"])
def test_sub_items_in_a_block_quote_stay_under_their_item(tmp_path: Path, source: str, expected: list[str]) -> None:
    # before, a quote's two-space sub-items were items of its list ("2. 需携带身份证", "3. 需携带医保卡")
    assert [e.text for e in _parse(tmp_path, source)[1:]] == expected


def test_quote_lines_in_fenced_code_are_left_as_written(tmp_path: Path) -> None:
    source = "# Mail\n\n```\n> - quoted in a reply\n>   - not a list\n```\n"
    assert "\n".join(e.text for e in _parse(tmp_path, source)[1:]) == "> - quoted in a reply\n> - not a list"


def test_quotes_deeper_than_people_write_are_left_as_written() -> None:
    # each quote level is nested by a call for the level inside it: 5000 levels had no end but Python's stack
    source = ">" * 5000 + " - a\n" + ">" * 5000 + "   - b"
    assert nest_lists(source) == source
    assert nest_lists("> > - a\n> >   - b") == "> > - a\n> >     - b"


@pytest.mark.parametrize(("source", "expected"), [
    ("# Opening an account\n\n1. Fill in the form.\n\nBring your ID card.\n\n2. Sign the agreement.\n"
     "3. Pay the deposit.\n\n```\nrag index docs/\n```\n\n4. Collect your card.\n",
     ["1. Fill in the form.", "Bring your ID card.", "2. Sign the agreement.", "3. Pay the deposit.",
      "rag index docs/", "4. Collect your card."]),
    ("# 开户流程\n\n一、办理开户\n\n1. 填写申请表。\n\n（一）携带身份证\n\n2. 签署协议。\n\n    # 柜员操作\n\n3. 缴纳押金。\n",
     ["一、办理开户", "1. 填写申请表。", "（一）携带身份证", "2. 签署协议。", "# 柜员操作", "3. 缴纳押金。"]),
], ids=["en-paragraph-and-code-between-items", "zh-line-and-code-between-items"])
def test_an_ordered_list_broken_by_a_stray_block_keeps_its_numbers(tmp_path: Path, source: str,
                                                                   expected: list[str]) -> None:
    # before, Python-Markdown started the list after the stray block at 1 again: "2. 签署协议" read "1. 签署协议"
    assert [e.text for e in _parse(tmp_path, source)[1:]] == expected


def test_ordered_lists_number_on_from_their_first_item(tmp_path: Path) -> None:
    # as CommonMark: a list's first number is kept, the items after it count on from it ("1." written on
    # every line reads 1, 2, 3); a number longer than HTML's start attribute is read starts at 1, as before
    source = ("# Steps\n\n5. 第五步\n6. 第六步\n\nText.\n\n1. One\n1. Two\n1. Three\n\nMore text.\n\n"
              "12345678901. Too long\n")
    assert [e.text for e in _parse(tmp_path, source)[1:]] == [
        "5. 第五步", "6. 第六步", "Text.", "1. One", "2. Two", "3. Three", "More text.", "1. Too long"]


def test_an_items_sub_items_keep_their_lines_in_its_chunk(tmp_path: Path) -> None:
    # the chunker joined an element's sentences with spaces: "1. Register at the front desk. - ID card"
    source = ("# Admission\n\n1. Register at the front desk.\n    - Bring your ID card.\n    - Bring your insurance card.\n"
              "2. 缴纳押金。\n    - 可用微信支付。\n    - 可用银行卡支付。\n\n请携带以下材料。\n一、身份证\n二、医保卡\n")
    [chunk] = chunk_elements("d", _parse(tmp_path, source), ChunkSettings())
    assert chunk.text.split("\n") == [
        "1. Register at the front desk.", "- Bring your ID card.", "- Bring your insurance card.", "2. 缴纳押金。",
        "- 可用微信支付。", "- 可用银行卡支付。", "请携带以下材料。", "一、身份证", "二、医保卡"]


@pytest.mark.parametrize(("source", "expected"), [
    ("# Guide\n\n- A\n    - a1\n- - x\n", ["A\n- a1", "x"]),
    ("# 入院须知\n\n- 办理入院手续\n    - 需携带身份证\n\n<!-- 另一份清单 -->\n\n- - 探视时间为下午两点至八点\n  - 病房内禁止吸烟\n",
     ["办理入院手续\n- 需携带身份证", "探视时间为下午两点至八点", "病房内禁止吸烟"]),
], ids=["en-same-list", "zh-next-list"])
def test_the_sub_items_of_an_empty_item_are_not_put_under_the_item_before_it(tmp_path: Path, source: str,
                                                                             expected: list[str]) -> None:
    # "- - x" is an item holding nothing but a list: x was read as a sub-item of A ("A\n- a1\n- x")
    elements = _parse(tmp_path, source)
    assert [e.text for e in elements[1:]] == expected
    assert [e.kind for e in elements[1:]] == ["list"] * len(expected)
