"""Section paths of a PDF's text layer (indexer.parse.pdf): a heading's level is its font size's rank among the
document's heading sizes, and a heading closes every heading of its level or below. Real pypdf on PDFs drawn in
tests/indexer/test_pdf_layout.py's way, English and Chinese."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexer.parse.dispatch import parse_file
from tests.indexer.test_pdf_layout import Run, paragraph, write_pdf

GUIDE = {
    "en": ("Card Guide", "Lost cards", "Fees", "Chapter Two", "Limits",
           "Replacement cards cost 29 dollars and arrive within five business days by post."),
    "zh": ("银行卡指南", "挂失", "收费", "第二章", "限额", "补办新卡收取工本费二十九元，五个工作日内寄到。"),
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_headings_of_one_size_are_siblings_when_a_larger_heading_size_has_not_come_yet(tmp_path: Path,
                                                                                        lang: str) -> None:
    """Sizes 24, 18 and 14 are the heading levels 1 to 3. Two 14-pt sections before the first 18-pt chapter: the
    second was put inside the first ("Card Guide > Lost cards > Fees"), as the path was cut by its position
    rather than by level."""
    title, first, second, chapter, sub, body = GUIDE[lang]
    cjk = lang == "zh"
    path = write_pdf(tmp_path / "guide.pdf", [[
        [Run(72, 780, title, 24, cjk)], [Run(72, 745, first, 14, cjk)], *paragraph([body, body], 725, cjk=cjk),
        [Run(72, 680, second, 14, cjk)], *paragraph([body, body], 660, cjk=cjk),
        [Run(72, 615, chapter, 18, cjk)], [Run(72, 590, sub, 14, cjk)], *paragraph([body], 570, cjk=cjk)]])
    titles = {e.text: e.section for e in parse_file(path) if e.kind == "title"}
    assert titles == {title: title, first: f"{title} > {first}", second: f"{title} > {second}",
                      chapter: f"{title} > {chapter}", sub: f"{title} > {chapter} > {sub}"}, titles
