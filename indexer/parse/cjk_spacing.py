"""Spaces that OCR puts between Chinese characters: removed, English spacing kept.

    join_cjk("跨行 转账 手续 费 为 每 次 10 元 ， 请") -> "跨行转账手续费为每次10元，请"

Tesseract's Chinese models give every character (or word) as a word of its own, joined by spaces. A space is
dropped between two CJK characters (ideographs, kana, CJK and full-width punctuation) and between a CJK
character and a digit ("每次 10 元" -> "每次10元": Chinese writes numbers into the sentence) or the ASCII
brackets, slash and punctuation tesseract gives inside Chinese text ("港湾银行 (中国 )" -> "港湾银行(中国)",
"手机银行 /网上银行" -> "手机银行/网上银行"); it is kept
between a CJK character and a Latin letter ("登录 App": common, both ways) and everywhere in English.
"""
from __future__ import annotations

import re

_CJK = "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_BETWEEN = re.compile(rf"(?<=[{_CJK}])[ \t]+(?=[{_CJK}0-9()\[\]/%:,;])|(?<=[0-9()\[\]/])[ \t]+(?=[{_CJK}])")


def join_cjk(text: str) -> str:
    return _BETWEEN.sub("", text)
