"""Automatic numbering in Chinese formats keeps its labels ("一、总则", "（二）定义", "壹、"), as Western
formats do ("1. Scope"): the numbers are in numbering.xml, not in the text runs (indexer.parse.docx_numbering)."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexer.parse.dispatch import parse_file
from indexer.parse.docx_numbering import chinese_number

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _numbered(path: Path, formats: tuple[tuple[str, str], tuple[str, str]], items: list[tuple[str, int]]) -> Path:
    import docx
    from docx.oxml import parse_xml

    document = docx.Document()
    numbering = document.part.numbering_part.element
    levels = "".join(f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/><w:lvlText w:val="{text}"/>'
                      "</w:lvl>" for i, (fmt, text) in enumerate(formats))
    numbering.insert(0, parse_xml(f'<w:abstractNum {W} w:abstractNumId="90">{levels}</w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {W} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))
    body = document.element.body
    for text, level in items:
        body.insert(len(body) - 1, parse_xml(
            f'<w:p {W}><w:pPr><w:pStyle w:val="Heading{level + 1}"/><w:numPr><w:ilvl w:val="{level}"/>'
            f'<w:numId w:val="90"/></w:numPr></w:pPr><w:r><w:t>{text}</w:t></w:r></w:p>'))
        document.add_paragraph("正文。Body text.")
    document.save(path)
    return path


@pytest.mark.parametrize(("formats", "items", "expected"), [
    ((("chineseCounting", "%1、"), ("chineseCounting", "（%2）")),
     [("总则", 0), ("适用范围", 1), ("定义", 1), ("收费", 0)],
     ["一、 总则", "（一） 适用范围", "（二） 定义", "二、 收费"]),
    ((("chineseLegalSimplified", "%1、"), ("ideographTraditional", "%2."),),
     [("总则", 0), ("适用范围", 1), ("定义", 1)], ["壹、 总则", "甲. 适用范围", "乙. 定义"]),
    ((("decimal", "%1."), ("lowerLetter", "%2)")),
     [("Scope", 0), ("Staff", 1), ("Visitors", 1), ("Fees", 0)], ["1. Scope", "a) Staff", "b) Visitors", "2. Fees"]),
], ids=["chinese", "chinese-legal", "english"])
def test_numbered_headings_keep_their_labels(tmp_path: Path, formats: tuple[tuple[str, str], tuple[str, str]],
                                             items: list[tuple[str, int]], expected: list[str]) -> None:
    elements = parse_file(_numbered(tmp_path / "rules.docx", formats, items))
    assert [e.text for e in elements if e.kind == "title"] == expected
    assert elements[-1].section.endswith(expected[-1])  # the body text sits under the numbered heading


def test_chinese_counting_reads_as_written() -> None:
    assert [chinese_number(n) for n in (1, 10, 11, 20, 21, 100, 101, 110, 1010, 2026)] == [
        "一", "十", "十一", "二十", "二十一", "一百", "一百零一", "一百一十", "一千零一十", "二千零二十六"]
