"""Markdown as GitHub, Typora and Obsidian write it (indexer.parse.markdown_source): front matter is not
indexed, and lists nested two or three spaces in stay nested instead of joining (and renumbering) their
parent list: each item is one element with its sub-items on lines under it. English and Chinese."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexer.parse.dispatch import parse_file


@pytest.mark.parametrize(("source", "expected"), [
    ("---\ntitle: Lab safety rules\ntags: [safety, lab]\n---\n# Lab safety rules\n\n"
     "1. Wear goggles\n   - Always in the wet lab\n   - Optional in the dry lab\n2. Wash hands\n\n"
     "- Keys\n  - Room B12: Ms. Li\n    1. Sign the book\n",
     ["Lab safety rules", "1. Wear goggles\n- Always in the wet lab\n- Optional in the dry lab", "2. Wash hands",
      "Keys\n- Room B12: Ms. Li\n  1. Sign the book"]),
    ("---\ntitle: 实验室安全守则\nauthor: 王老师\n---\n# 实验室安全守则\n\n"
     "1. 佩戴护目镜\n   - 湿实验室必须佩戴\n   - 干实验室可不戴\n2. 洗手\n\n"
     "- 钥匙\n  - B12室：李老师\n    1. 登记借用\n",
     ["实验室安全守则", "1. 佩戴护目镜\n- 湿实验室必须佩戴\n- 干实验室可不戴", "2. 洗手",
      "钥匙\n- B12室：李老师\n  1. 登记借用"]),
], ids=["en", "zh"])
def test_front_matter_dropped_and_lists_nest(tmp_path: Path, source: str, expected: list[str]) -> None:
    path = tmp_path / "rules.md"
    path.write_text(source, encoding="utf-8")
    assert [e.text for e in parse_file(path)] == expected


def test_leading_rule_that_is_not_front_matter_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "notice.md"
    path.write_text("---\nThe library closes at 18:00 on Friday.\n\n---\n\n图书馆周五18点闭馆。\n", encoding="utf-8")
    texts = [e.text for e in parse_file(path)]
    assert "The library closes at 18:00 on Friday." in texts and "图书馆周五18点闭馆。" in texts


def test_code_fenced_in_a_list_item_stays_in_it(tmp_path: Path) -> None:
    path = tmp_path / "restart.md"
    path.write_text("1. Stop the freezer alarm\n\n   ```\n   sudo systemctl stop alarm\n   ```\n"
                    "2. Call the porter\n", encoding="utf-8")
    texts = [e.text for e in parse_file(path)]
    assert texts[0] == "1. Stop the freezer alarm" and texts[-1] == "2. Call the porter"
    assert any("sudo systemctl stop alarm" in t for t in texts)


@pytest.mark.parametrize(("source", "expected"), [
    ("1. Bring your documents:\n   - ID card\n   - Insurance card\n\n   Copies are not accepted.\n"
     "2. Pay the deposit at window 3.\n3. Collect your wristband.\n",
     ["1. Bring your documents:\n- ID card\n- Insurance card", "Copies are not accepted.",
      "2. Pay the deposit at window 3.", "3. Collect your wristband."]),
    ("1. 携带以下证件：\n   - 身份证\n   - 医保卡\n\n   复印件无效。\n2. 到3号窗口缴纳押金。\n3. 领取腕带。\n",
     ["1. 携带以下证件：\n- 身份证\n- 医保卡", "复印件无效。", "2. 到3号窗口缴纳押金。", "3. 领取腕带。"]),
], ids=["en", "zh"])
def test_an_item_after_a_second_paragraph_is_an_item(tmp_path: Path, source: str, expected: list[str]) -> None:
    # Python-Markdown ran "2." and "3." on into the paragraph above them: one text of step 1
    path = tmp_path / "admission.md"
    path.write_text(source, encoding="utf-8")
    assert [e.text for e in parse_file(path)] == expected
