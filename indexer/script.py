"""Scripts and languages of text: the one home of the CJK character ranges and the language tests.

CJK here = CJK Unified Ideographs with extension A and the compatibility ideographs (the Han
characters of Chinese text); kana and Hangul are not included.
"""
from __future__ import annotations

import re
from functools import lru_cache

CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # for use inside a regex character class
CJK_CHAR = re.compile(rf"[{CJK_RANGES}]")
CJK_RUN = re.compile(rf"[{CJK_RANGES}]+")


def language(text: str) -> str:
    """'zh' when the text has any CJK character (a Chinese question with English terms is still
    Chinese), else 'en': picks the refusal message, the guard's reply and the answer mode."""
    return "zh" if CJK_CHAR.search(text) else "en"


def is_cjk(text: str) -> bool:
    """More than a third of the letters are CJK (Chinese text, possibly with Latin words; `_script`)."""
    return _script(text) == "zh"


_LETTER = re.compile(r"[^\W\d_]")


def _script(text: str) -> str | None:
    """'zh' when more than a third of the letters are CJK, 'latin' otherwise, None for text without letters.
    Letters, not characters: a timetable ("早读 | 7:20—7:50") is mostly digits and punctuation, and is Chinese
    (it had counted as Latin: a quarter of all characters). A third of the letters keeps a Chinese question
    holding English terms ("如何重置 VPN password?") matched by its English words, as a quarter of the
    characters did."""
    letters = len(_LETTER.findall(text))
    if not letters:
        return None
    return "zh" if len(CJK_CHAR.findall(text)) > letters / 3 else "latin"


def cross_script(a: str, b: str) -> bool:
    """One text is Chinese and the other is not: word overlap cannot compare them. Text without letters (a row
    of numbers) is in neither script."""
    sa, sb = _script(a), _script(b)
    return sa is not None and sb is not None and sa != sb


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


def simplified(text: str) -> str:
    """`text` with traditional Chinese characters (and OpenCC's phrase forms) in simplified ones; text without
    Chinese as it is. Users in Hong Kong, Macao and Taiwan write 門診幾點開始？ where the documents say 门诊几点开始:
    rag.pipeline also asks such a question in simplified characters, and the input guard matches its patterns
    on the folded text. OpenCC's t2s tables (the pure-Python `opencc-python-reimplemented`, Apache-2.0, its
    dictionaries in the package: nothing downloaded)."""
    return _t2s().convert(text) if CJK_CHAR.search(text) else text
