"""Examples a passage does not give: a small model completing a list ("such as a temporary loan
modification, a loan modification, or a loan cancellation") adds items that sound right. Each item of a
list an answer sentence introduces as examples ("such as", "including", "for example", "options
include"; 例如, 比如, 包括, 诸如; not "not including", 不包括: a denial) must have every content word in the passage it cites; the items that do
not are returned, and rag.answering.verify reports them.
"""
from __future__ import annotations

import re
from functools import lru_cache

from indexer.tokenize import tokenize

_INTRO_EN = re.compile(r"\b(?:such as|(?<!not )including|for example|for instance|e\.g\.,?|namely|options (?:may )?include)"
                       r"\s+([^.;:!?\[]+)", re.IGNORECASE)
_INTRO_ZH = re.compile(r"(?:例如|比如|(?<![不未])包括|诸如)[：:]?([^。；！？\[]+)")
_SPLIT_EN = re.compile(r",\s*(?:(?:and|or)\s+)?|\s+(?:and|or)\s+", re.IGNORECASE)
_SPLIT_ZH = re.compile(r"[、，,]|和|或|及|以及")
_TAIL_ZH = re.compile(r"等.*$")  # "A、B等业务": the list ends at 等
MAX_ITEM_WORDS = 6  # a longer "item" is a clause the list ran into, not an example


@lru_cache(maxsize=128)
def _words(text: str) -> frozenset[str]:
    return frozenset(tokenize(text))


def unlisted(sentence: str, passage: str) -> list[str]:
    """The items of the examples `sentence` lists that `passage` does not have every word of."""
    have = _words(passage)
    out: list[str] = []
    for intro, split in ((_INTRO_EN, _SPLIT_EN), (_INTRO_ZH, _SPLIT_ZH)):
        for m in intro.finditer(sentence):
            listing = _TAIL_ZH.sub("", m.group(1)) if intro is _INTRO_ZH else m.group(1)
            for item in split.split(listing):
                words = tokenize(item)
                if 0 < len(words) <= MAX_ITEM_WORDS and not set(words) <= have:
                    out.append(item.strip())
    return out
