"""The words a quote is matched by: a text's content words, each of a group of equivalents as its group
(rag.answering.equivalents), without the words that only ask."""
from __future__ import annotations

from rag.answering.cite import content_tokens
from rag.answering.equivalents import as_words, canonical

# words that ask rather than name what is asked about ("多少钱", "多久", "how much"): no quote need hold them
ASKING = frozenset({"多少", "多久", "钱", "几", "什么", "时候", "much", "many", "long", "happen"})


# Chinese words that ask rather than name what is asked about: a KB need not hold them ("icu能探视吗" asks about
# ICU visits; "能" and "吗" are the asking). jieba cuts them as words of their own.
ASKING_ZH = frozenset("多少 多久 几 几个 几天 哪里 哪儿 哪个 哪些 是否 能否 可否 能 怎样 怎么样 怎么办 咋 咋办 为什么 为啥 啥时候 "
                      "什么时候 多长时间 需要 能不能 可不可以 有没有".split())


def quote_words(text: str) -> set[str]:
    """Content words, each of a group of equivalents as its group, without the words that ask (`ASKING`):
    "as long as you report the loss" shares nothing with "How long ...?"."""
    return canonical(content_tokens(as_words(text))) - ASKING
