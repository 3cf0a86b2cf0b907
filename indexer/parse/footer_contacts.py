"""What a reader comes to a page's footer for: phone numbers, addresses, e-mail and opening hours.

A hospital's or a school's footer holds its switchboard number, address and opening hours next to a
link list and the copyright and ICP licence lines ("关于我们 | 网站地图", "地址：…  电话：…", "京ICP备…").
Users ask "what is the hospital's phone number"; dropping the footer as chrome lost the answer.
contact_lines() reads a footer as the lines a browser shows (a block element or a <br> starts a line; a
<dd> or a table cell continues its <dt>'s or its row's line, so "电话" and "010-…" stay together) and keeps
the lines that hold a contact detail (and those of an <address>), without the copyright or licence pieces they share a line with.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# a line starts at these (and at <br>); the other tags (<a>, <span>, <dd>, <td>, ...) run on in their line
_BLOCKS = {"address", "article", "aside", "blockquote", "div", "dl", "dt", "footer", "form", "h1", "h2", "h3",
           "h4", "h5", "h6", "header", "hr", "li", "nav", "ol", "p", "section", "table", "tr", "ul"}
_UNREAD = ("script", "style", "noscript", "template")

_NUMBER = r"[(（+]?\d[\d\s\-–()（）/转]*\d"
# a labelled number ("电话：120", "Tel (020) 5555 0100"), or one written as a phone number is written:
# "010-12345678", "400-810-8888", "(020) 5555-0100", "+86 10 1234 5678", a mobile "13912345678"; an ICP
# or public-security filing number ("京ICP备12345678号") is neither
_PHONE = re.compile(r"(?:电话|总机|热线|传真|手机|座机|tel\b|phone|switchboard|hotline|fax)\D{0,12}?" + _NUMBER
                    + r"|(?<![\d-])(?:\d{3,4}-\d{7,8}|[48]00-?\d{3}-?\d{4}|\(\d{2,4}\)\s?\d{3,4}[\s-]?\d{4}"
                    r"|\+\d{1,3}[\s-]\d[\d\s-]{6,}\d|1[3-9]\d{9})(?![\d-])", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# a labelled address or post code, or a Chinese street address ("朝阳区建国路88号")
_ADDRESS = re.compile(r"(?:地址|院址|校址|住址|邮编|邮政编码|address|post\s?code|zip\s?code)\s*[:：]\s*\S"
                      r"|[\u4e00-\u9fff]{2,}[省市区县][\u4e00-\u9fff\d]*?[路街道巷弄]\d+号", re.IGNORECASE)
# opening hours: a time of day ("8:00", "8am", "8点") in a line that speaks of hours or days
_CLOCK = re.compile(r"\d{1,2}\s*[:：]\s*\d{2}|\d{1,2}\s*[ap]\.?m\b|\d{1,2}\s*[点時时]", re.IGNORECASE)
_HOURS = re.compile(r"时间|开放|营业|办公|门诊|周[一二三四五六日末]|星期|工作日|节假日|hours|open|clos"
                    r"|mon|tue|wed|thu|fri|sat|sun|weekday|holiday", re.IGNORECASE)
# the pieces of a line: cut at "|" and at runs of spaces (footers lay their pieces out with &nbsp;)
_PIECE_BREAK = re.compile(r"\s*[|｜]\s*|[\s\u00a0\u3000]{2,}")


def has_contact(text: str) -> bool:
    """Whether `text` holds a phone number, an e-mail or postal address, or opening hours."""
    return bool(_PHONE.search(text) or _EMAIL.search(text) or _ADDRESS.search(text)
                or (_CLOCK.search(text) and _HOURS.search(text)))


def contact_lines(footer: Any, is_licence: Callable[[str], bool]) -> list[str]:
    """The lines of `footer` (an lxml element) that hold a contact detail, or stand in an <address>, each
    without the pieces `is_licence` says are copyright or licence notices."""
    lines = [_Line()]
    _walk(footer, lines, in_address=False)
    kept = []
    for line in lines:
        text = "".join(line.pieces)
        if not text.strip() or not (line.address or has_contact(text)):
            continue
        parts = [p for p in _PIECE_BREAK.split(text) if p.strip()]
        parts = [p for p in parts if has_contact(p) or not is_licence(p)]
        if parts:
            kept.append(" ".join(" ".join(p.split()) for p in parts))
    return kept


@dataclass
class _Line:
    pieces: list[str] = field(default_factory=list)
    address: bool = False  # in an <address> element: a contact detail however it is written


def _walk(el: Any, lines: list[_Line], in_address: bool) -> None:
    in_address = in_address or el.tag == "address"
    if el.tag in _BLOCKS:
        lines.append(_Line(address=in_address))
    if el.text:
        lines[-1].pieces.append(el.text)
    for child in el:
        if isinstance(child.tag, str) and child.tag not in _UNREAD:
            if child.tag == "br":
                lines.append(_Line(address=in_address))
            else:
                if child.tag in ("dd", "td", "th"):
                    lines[-1].pieces.append("  ")  # a definition or a cell continues its line, set apart
                _walk(child, lines, in_address)
        if child.tail:
            lines[-1].pieces.append(child.tail)
    if el.tag in _BLOCKS and el.tag != "dt":  # a <dt>'s line goes on with its <dd>
        lines.append(_Line(address=in_address and el.tag != "address"))
