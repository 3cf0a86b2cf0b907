"""Nested lists of HTML pages (indexer.parse.markdown_lists, as for Markdown): each item is one list element
holding its sub-items, "- " (or the sub-item's number) and two spaces a level deeper, so no chunk holds a
sub-item without the item it belongs to. <ul> and <ol>, two and three levels, items written in <p> as CMS
editors write them, English and Chinese."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexer.chunk import chunk_elements
from indexer.config import ChunkSettings
from indexer.parse.dispatch import parse_file
from indexer.types import Element


def _parse(tmp_path: Path, body: str) -> list[Element]:
    path = tmp_path / "page.html"
    path.write_text(f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Page</title></head><body>{body}'
                    "</body></html>", encoding="utf-8")
    return parse_file(path)


@pytest.mark.parametrize(("body", "expected"), [
    ("<h1>入院须知</h1><ul><li>办理入院手续<ul><li>需携带身份证</li><li>需携带医保卡<ol><li>异地医保需先备案</li>"
     "<li>备案后三个工作日生效</li></ol></li></ul></li><li>缴纳押金<ul><li>押金可用微信支付</li></ul></li></ul>"
     "<p>住院期间请保持手机畅通。</p>",
     ["办理入院手续\n- 需携带身份证\n- 需携带医保卡\n  1. 异地医保需先备案\n  2. 备案后三个工作日生效",
      "缴纳押金\n- 押金可用微信支付", "住院期间请保持手机畅通。"]),
    ("<h1>Admission</h1><ol><li>Register at the front desk<ul><li>ID card</li><li>Insurance card</li></ul></li>"
     "<li>Pay the deposit</li></ol><ul><li>Parking</li><li>Wi-Fi</li></ul>",
     ["1. Register at the front desk\n- ID card\n- Insurance card", "2. Pay the deposit", "Parking", "Wi-Fi"]),
    ("<h1>出院须知</h1><ul><li><p>办理出院手续</p><ul><li><p>结清费用</p></li><li><p>领取出院小结</p><ol><li>"
     "<p>复印病历</p></li></ol></li></ul></li><li><p>随访</p></li></ul><p>如有疑问请致电。</p>",
     ["办理出院手续\n- 结清费用\n- 领取出院小结\n  1. 复印病历", "随访", "如有疑问请致电。"]),
], ids=["zh-3-levels", "en-ordered-and-flat", "zh-cms-paragraphs"])
def test_sub_items_stay_under_their_item(tmp_path: Path, body: str, expected: list[str]) -> None:
    # before, each <li> was an element of its own ("需携带身份证" with no link to "办理入院手续"), and an item
    # written in a <p> was text, not a list item
    elements = _parse(tmp_path, body)
    assert [e.text for e in elements[1:]] == expected
    assert [e.kind for e in elements[1:len(expected)]] == ["list"] * (len(expected) - 1)


@pytest.mark.parametrize(("item", "lines", "items"), [
    ("第{n}号窗口办理第{n}类业务", ("需携带本人身份证原件及复印件", "需携带第{n}号业务申请表一份", "需携带户口簿原件及复印件",
                                 "委托他人办理的需携带委托书", "办理时间为工作日上午八点至十二点", "咨询电话为总服务台分机{n}号"), 12),
    ("Window {n} handles business of type {n}", ("Bring the original of your ID card and a copy",
                                                 "Bring application form number {n}", "Bring your household register and a copy",
                                                 "A proxy brings a signed letter of authority",
                                                 "Open on working days from eight to twelve",
                                                 "Ask at the service desk on extension {n}"), 30),
], ids=["zh", "en"])
def test_no_chunk_holds_a_sub_item_without_its_item(tmp_path: Path, item: str, lines: tuple[str, ...],
                                                     items: int) -> None:
    # items of six sub-items: chunks of 200 tokens are cut between items, not inside one, where the 30-token
    # overlap would not have carried the item's line into the next chunk
    body = "".join(f"<li>{item.format(n=n)}<ul>" + "".join(f"<li>{line.format(n=n)}</li>" for line in lines)
                   + "</ul></li>" for n in range(1, items + 1))
    chunks = chunk_elements("d", _parse(tmp_path, f"<h1>Guide</h1><ul>{body}</ul>"), ChunkSettings())
    assert len(chunks) > 4
    for chunk in chunks:
        held = [line.removeprefix("- ") for line in chunk.text.split("\n")]
        for n in range(1, items + 1):
            if any(line.format(n=n) in held for line in lines if "{n}" in line):
                assert item.format(n=n) in held, chunk.text


@pytest.mark.parametrize(("body", "expected"), [
    ("<h1>入院须知</h1><ol><li><div>办理入院手续</div><ul><li><div>需携带身份证</div></li><li>需携带医保卡</li></ul></li>"
     "<li><div>缴纳押金</div></li><li><div><p>领取腕带</p></div></li></ol><p>住院期间请保持手机畅通。</p>",
     ["1. 办理入院手续\n- 需携带身份证\n- 需携带医保卡", "2. 缴纳押金", "3. 领取腕带", "住院期间请保持手机畅通。"]),
    ("<h1>Opening an account</h1><ul><li><div>Bring these documents</div><ul><li>ID card</li>"
     "<li>Proof of address</li></ul></li><li><p>Sign the forms</p><ul><li>Account agreement</li></ul></li>"
     "<li><span>Make a deposit</span><ol><li>Cash</li><li>Transfer</li></ol></li>"
     "<li><div><p>Collect your card</p></div><div>Cards are ready in a week</div><ul><li>At the branch</li></ul></li>"
     "</ul><p>Ask at any branch.</p>",
     ["Bring these documents\n- ID card\n- Proof of address", "Sign the forms\n- Account agreement",
      "Make a deposit\n1. Cash\n2. Transfer", "Collect your card\nCards are ready in a week\n- At the branch",
      "Ask at any branch."]),
], ids=["zh-div-items", "en-div-p-span-items"])
def test_an_item_written_in_a_div_keeps_its_sub_items_and_number(tmp_path: Path, body: str,
                                                                  expected: list[str]) -> None:
    # before, "<li><div>办理入院手续</div><ul>" gave the div as text and its sub-items as elements of no item,
    # and an ordered item's number stood alone ("2." over "缴纳押金")
    elements = _parse(tmp_path, body)
    assert [e.text for e in elements[1:]] == expected
    assert [e.kind for e in elements[1:len(expected)]] == ["list"] * (len(expected) - 1)


def test_a_table_in_a_div_of_an_item_stays_a_table(tmp_path: Path) -> None:
    body = ("<h1>Fees</h1><ul><li><div>Card fees</div><div><table><tr><th>Card</th><th>Fee</th></tr>"
            "<tr><td>Gold</td><td>$50</td></tr></table></div><ul><li>Waived in the first year</li></ul></li></ul>")
    elements = _parse(tmp_path, body)
    assert any(e.kind == "table" and "Gold" in e.text and "$50" in e.text for e in elements), elements


@pytest.mark.parametrize(("body", "expected"), [
    ("<h1>Guide</h1><ul><li>A<ul><li>a1</li></ul></li></ul><ul><li><ul><li>x</li></ul></li></ul>",
     ["A\n- a1", "x"]),
    ("<h1>入院须知</h1><ul><li>办理入院手续<ul><li>需携带身份证</li></ul></li></ul>"
     "<ul><li><ul><li>探视时间为下午两点至八点</li><li>病房内禁止吸烟</li></ul></li></ul>",
     ["办理入院手续\n- 需携带身份证", "探视时间为下午两点至八点", "病房内禁止吸烟"]),
    # an empty item inside an item: its sub-items are that item's, not the sub-item's before them
    ("<h1>出院须知</h1><ul><li>办理出院手续<ul><li>结清费用<ul><li>可用微信支付</li></ul></li></ul>"
     "<ul><li><ul><li>领取出院小结</li></ul></li></ul></li></ul>",
     ["办理出院手续\n- 结清费用\n  - 可用微信支付\n- 领取出院小结"]),
    # an empty item of an ordered list shows its number: the sub-items stay under it
    ("<h1>Steps</h1><ul><li>Register<ul><li>ID card</li></ul></li></ul><ol><li><ul><li>Pay the deposit</li></ul>"
     "</li></ol>",
     ["Register\n- ID card", "1.\n- Pay the deposit"]),
], ids=["en", "zh", "zh-inside-an-item", "en-ordered"])
def test_the_sub_items_of_an_empty_item_are_not_put_under_the_item_before_it(tmp_path: Path, body: str,
                                                                             expected: list[str]) -> None:
    # before, "x" of a new list whose only item is empty was read as one more sub-item of A ("A\n- a1\n- x")
    elements = _parse(tmp_path, body)
    assert [e.text for e in elements[1:]] == expected
    assert [e.kind for e in elements[1:]] == ["list"] * len(expected)
