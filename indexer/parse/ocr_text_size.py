"""How large a scanned line's type is (its em, in pixels), from tesseract's word boxes: what tells a title from
body text on a scan (indexer.parse.ocr_headings), as the font size does in a PDF's text layer.

    text_size([(word, box height), ...], line width, line text) -> em in pixels (0: no word to tell by)

A word's box is as tall as its letters reach: "was" only the x-height, "The" up to the capitals, "typing"
through the descenders; a capitals-only 18 pt title ("RIVERBEND GENERAL HOSPITAL") and a 12 pt line with
descenders measured about the same (56 and 50 px at 300 DPI). Each box height is therefore divided by the
share of the em its letters span (x-height 0.52, capitals and ascenders up to 0.74, descenders 0.21 below,
ideographs 0.92), and the line's size is the median over its words. The line is also measured along its
width (an ideograph is one em wide, a Latin letter or digit half of one on average, a space 0.3), and the
smaller of the two kept: tesseract's boxes of Chinese words mixed with digits came out up to 1.5 times too tall
("秋季运动会:10月24日至10月25日": "月" 64 px high on a line 46 px high), of darkened or tilted ones too; the width
was right. Capitals are wider than half an em, so a capitals-only line's width overstates it: its height does
not. Chosen on bench/bench_ocr_headings.py's pages.
"""
from __future__ import annotations

import math
import statistics

X_HEIGHT, CAP, DESCENDER, IDEOGRAPH = 0.52, 0.74, 0.21, 0.92  # of the em, top to bottom of a word's box
NARROW, SPACE = 0.5, 0.3  # of the em, across: a Latin letter or digit (on average), a space; an ideograph is 1
_ASCENDING = set("bdfhiklt0123456789()[]{}/|$%&?!'\"#@")
_DESCENDING = set("gjpqy()[]{}|")
_X_ONLY = set("acemnorsuvwxz")
_FLAT = set("一二三〇")  # ideographs shorter than the em: a word of them alone says nothing of the size


def word_ems(words: list[tuple[str, int]]) -> list[float]:
    """The em of each word that has a letter to tell it by (height / the share of the em its letters span)."""
    return [height / share for word, height in words if (share := _em_share(word))]


def text_size(words: list[tuple[str, int]], width: int, text: str) -> int:
    sizes = word_ems(words)
    if not sizes:
        return 0
    wide = sum(1 for ch in text if _wide(ch))
    narrow = sum(1 for ch in text if not ch.isspace() and not _wide(ch))
    ems = wide + NARROW * narrow + SPACE * sum(1 for ch in text if ch.isspace())
    return round(min(statistics.median(sizes), width / ems if ems else math.inf))


def _wide(ch: str) -> bool:
    return "\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\uff00" <= ch <= "\uff60"


def _em_share(word: str) -> float:
    """The share of the em the box of `word` spans; 0 when it has no letter to tell by (punctuation, "一")."""
    if any(_wide(ch) and "\u3400" <= ch <= "\u9fff" and ch not in _FLAT for ch in word):
        return IDEOGRAPH
    top = CAP if any(ch.isupper() or ch in _ASCENDING for ch in word) else (
        X_HEIGHT if any(ch in _X_ONLY for ch in word) else 0.0)
    if not top:
        return 0.0
    return top + (DESCENDER if any(ch in _DESCENDING for ch in word) else 0.0)
