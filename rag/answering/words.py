"""The words a quote is matched by: a text's content words, each of a group of equivalents as its group
(rag.answering.equivalents), without the words that only ask."""
from __future__ import annotations

import re

from rag.answering.cite import content_tokens
from rag.answering.equivalents import as_words, canonical

# words that ask rather than name what is asked about ("多少钱", "多久", "how much"): no quote need hold them
ASKING = frozenset({"多少", "多久", "钱", "几", "什么", "时候", "much", "many", "long", "happen"})


# Chinese words that ask rather than name what is asked about: a KB need not hold them ("icu能探视吗" asks about
# ICU visits; "能" and "吗" are the asking). jieba cuts them as words of their own.
ASKING_ZH = frozenset("多少 多久 几 几个 几天 哪里 哪儿 哪个 哪些 是否 能否 可否 能 怎样 怎么样 怎么办 咋 咋办 为什么 为啥 啥时候 "
                      "什么时候 多长时间 需要 能不能 可不可以 有没有".split())


# a name of three to five capitalised words inside a sentence ("the Intensive Care Unit"), whose initials a reader
# writes for it ("ICU"). Not two ("Harbor Bank": "hb" is no word a reader writes), nor from a sentence's first word,
# capitalised as the first ("Which Harbor Bank branch ...")
_NAME = re.compile(r"(?<![.!?:;]\s)(?<![.!?:;])(?<!^)(?<=\s)[A-Z][a-z]+(?:[ \t]+[A-Z][a-z]+){2,4}\b")


def initials(text: str) -> set[str]:
    """The initials of each name of capitalised words inside a sentence of `text`, lower-cased: "icu" for "the
    Intensive Care Unit", as a question writes it ("can kids visit the ICU")."""
    return {"".join(w[0] for w in m.group(0).split()).lower() for m in _NAME.finditer(text)}


# the 到 / 至 of a question asking for a range ("营业时间是几点到几点？", "周几至周几营业"): part of the asking, not
# the verb 到 of a passage ("预约客户到网点后...", which it made the quote for the opening hours)
_ASKED_RANGE = re.compile(r"(几点|几号|几时|周几|星期几|礼拜几|什么时候)[到至](?=几点|几号|几时|周几|星期几|礼拜几|什么时候)")


def quote_words(text: str) -> set[str]:
    """Content words, each of a group of equivalents as its group, without the words that ask (`ASKING`,
    and the 到 of "几点到几点"): "as long as you report the loss" shares nothing with "How long ...?"; and the
    initials of its names (`initials`)."""
    text = _ASKED_RANGE.sub(r"\1 ", text)
    return (canonical(content_tokens(as_words(text))) | initials(text)) - ASKING
