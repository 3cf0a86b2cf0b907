"""Scripts and languages of text: the one home of the CJK character ranges and the language tests.

CJK here = CJK Unified Ideographs with extension A and the compatibility ideographs (the Han
characters of Chinese text); kana and Hangul are not included.
"""
from __future__ import annotations

import re

CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # for use inside a regex character class
CJK_CHAR = re.compile(rf"[{CJK_RANGES}]")
CJK_RUN = re.compile(rf"[{CJK_RANGES}]+")


def language(text: str) -> str:
    """'zh' when the text has any CJK character (a Chinese question with English terms is still
    Chinese), else 'en': picks the refusal message, the guard's reply and the answer mode."""
    return "zh" if CJK_CHAR.search(text) else "en"


def is_cjk(text: str) -> bool:
    """More than a quarter of the characters are CJK (Chinese text, possibly with Latin words)."""
    return len(CJK_CHAR.findall(text)) > len(text) / 4


def cross_script(a: str, b: str) -> bool:
    """One text is Chinese and the other is not: word overlap cannot compare them."""
    return is_cjk(a) != is_cjk(b)
