"""A plain-text file's opening lines as its title.

A text file has no markup to say which line is its title. unstructured guesses headings line by line and
often takes a document's opening line for body text ("港湾银行银行卡挂失与补卡须知" over the notice,
"RIVERBEND GENERAL HOSPITAL" over "Billing, Payment and Insurance"). Left as text, the title line was the
first chunk's first sentence, and a question that shares its words ("银行卡丢了怎么办？") was answered with
the title alone, as if it were what to do.

    with_document_title(elements, source) -> elements

The lines before the first heading or body text that stand alone, are short (at most TITLE_MAX_CHARS) and do
not end like a sentence become one title. A line stands alone with a blank line after it, or with a heading on the
line right under it ("江州市第一人民医院" over "住院患者探视与陪护管理规定", "来院交通与停车指南" over "一、公交线路"):
two lines of text one under the other ("MAPLE GROVE INTERNATIONAL SCHOOL" over "SCHOOL CALENDAR 2024-2025") are
left as they are. The title is the section of what follows until the next heading; where a heading comes
straight after it, that heading's section is under it ("RIVERBEND GENERAL HOSPITAL > Getting Here and Parking"):
left a section with no body, the title line had been a text chunk of its own. Later headings are left as they are
(they do not nest under it: a plain text's headings have no levels to nest by), so only the opening section
changes.
"""
from __future__ import annotations

import re

from indexer.parse.sentence_end import ENDS_LIKE_SENTENCE
from indexer.types import Element

# an organisation's name over the document's title ("江州市第一人民医院" + "来院交通与停车指南"), each standing
# alone: four lines is more than any such header
TITLE_MAX_LINES = 4
TITLE_MAX_CHARS = 80
# a line that stands alone: a blank line, or the end of the text, after it
BLANK_LINE_AFTER = r"[ \t]*\r?\n[ \t]*(?:\r?\n|$)"
# "一、药房位置", "（二）报名条件", "第三章 总则": a numbered Chinese heading opens a section, it is no title line
NUMBERED_HEADING = re.compile(r"[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）]|第[一二三四五六七八九十百\d]+[章节条部篇]")


def with_document_title(elements: list[Element], source: str) -> list[Element]:
    lines: list[str] = []
    for i, el in enumerate(elements[:TITLE_MAX_LINES]):
        heading_next = i + 1 < len(elements) and elements[i + 1].kind == "title"
        if el.kind != "text" or el.section or not _title_line(el.text, source, heading_next):
            break
        lines.append(el.text.strip())
    rest = elements[len(lines):]
    if not lines or not rest:
        return elements
    title = " ".join(lines)
    out = [Element(title, "title", title, elements[0].page)]
    for i, el in enumerate(rest):
        if el.section:
            return out + (_opening_section_under(title, rest) if i == 0 else rest[i:])
        out.append(Element(el.text, el.kind, title, el.page))
    return out


def _opening_section_under(title: str, rest: list[Element]) -> list[Element]:
    """The heading right after the title, and what follows it until the next heading, under the title."""
    out = []
    for i, el in enumerate(rest):
        if i > 0 and el.kind == "title":
            return out + rest[i:]
        out.append(Element(el.text, el.kind, f"{title} > {el.section}", el.page))
    return out


def _title_line(text: str, source: str, heading_next: bool) -> bool:
    text = text.strip()
    return (0 < len(text) <= TITLE_MAX_CHARS and "\n" not in text and ENDS_LIKE_SENTENCE.search(text) is None
            and NUMBERED_HEADING.match(text) is None
            and (heading_next or re.search(re.escape(text) + BLANK_LINE_AFTER, source) is not None))
