"""Words a question and a document use for the same thing ("一天最多能转多少钱？" over a table headed
"单日累计限额"; "daily limit" over "maximum ... per day"): an extract matches a question's words with a
passage's through their group, so each group counts once, whichever of its words either side uses.

The groups are tokens as rag's tokenizer gives them (English stemmed: "daily" is "daili"). They are
kept to words that mean the same in any knowledge base: days, months and years as periods, maximums
and limits, fees and charges, and the verbs of moving money (a question's "转" is a document's "转账"), in both languages;
and the forms of common irregular English verbs. A word one side writes as other words is read as the word
(`as_words`) by the built-in rules of equivalents.txt, a packaged list in the format of a KB's synonyms (a
bank's 跨行 as 其他银行), and so is each term of the KB's own synonyms (rag.synonyms), written as its rule's
canonical term while `kb_synonyms` is in force.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from rag.synonyms.matcher import Matcher, matcher
from rag.synonyms.rules import Synonyms, parse

GROUPS: tuple[tuple[str, ...], ...] = (
    ("一天", "每天", "每日", "单日", "当日", "当天", "day", "daili"),
    ("每月", "一个月", "月度", "month"),
    ("一年", "每年", "年度", "全年", "year", "annual"),
    ("最多", "最多能", "最高", "上限", "限额", "额度", "maximum", "max", "limit"),
    ("费用", "收费", "手续费", "收取", "要收", "fee", "charg", "cost"),
    ("转", "转账"),
    ("取", "取款", "取现", "withdraw", "withdrew", "withdrawn"),
    ("借", "借款", "贷款", "borrow", "loan"),
    ("境外", "国外", "海外", "abroad", "oversea"),
    # an irregular verb's forms, which stemming leaves apart ("What if I forget my password?" over
    # "Resetting a forgotten password")
    ("forget", "forgot", "forgotten"), ("lose", "lost"), ("steal", "stole", "stolen"), ("send", "sent"),
    # a spoken verb and the word a document writes ("卡丢了" over "卡片丢失", "密码忘了" over "忘记密码"); 遗失 is
    # the formal 丢失
    ("丢", "丢失", "遗失"), ("忘", "忘记"), ("卡", "卡片"),
    # a spoken word for children ("can kids visit the ICU" over "Children are not allowed in the Intensive Care Unit")
    ("child", "children", "kid"),
    # a verb and its noun that stemming leaves apart ("how long does the bank take to respond" over "Final response")
    ("respond", "respons"),
    ("pay", "paid"), ("buy", "bought"), ("sell", "sold"),
    ("write", "wrote", "written"), ("give", "gave", "given"), ("drive", "drove", "driven"),
    ("keep", "kept"), ("hold", "held"), ("bring", "brought"), ("choos", "chose", "chosen"), ("show", "shown"),
    ("spend", "spent"), ("tell", "told"), ("begin", "began", "begun"), ("know", "knew", "known"),
    # not take / took / taken nor make / made: light verbs, in most sentences ("How long will it take ...?"
    # matched "purchases made with your card", "I took cash out" "deposit-taking ATMs")
)

_CANON = {word: group[0] for group in GROUPS for word in group}

def canonical(tokens: Iterable[str]) -> set[str]:
    """The tokens with each word of a group replaced by the group's first word."""
    return {_CANON.get(t, t) for t in tokens}


_KB_SYNONYMS: ContextVar[Synonyms] = ContextVar("kb_synonyms", default=Synonyms())


@contextmanager
def kb_synonyms(synonyms: Synonyms) -> Iterator[None]:
    """Quote matching in this block reads the KB's own synonyms too (`as_words`)."""
    token = _KB_SYNONYMS.set(synonyms)
    try:
        yield
    finally:
        _KB_SYNONYMS.reset(token)


def synonyms_key() -> str:
    """What quote matching depends on besides its arguments (for caches of its results)."""
    return _KB_SYNONYMS.get().digest


def kb_meanings(text: str) -> list[str]:
    """What the terms of `text` also mean under the KB's synonyms in force (rag.synonyms.matcher)."""
    synonyms = _KB_SYNONYMS.get()
    return matcher(synonyms).expansions(text) if synonyms else []


# The built-in rules: domain words a question and a document write differently in every KB, kept out of the code
# where an operator can read them (docs/synonyms.md, "Built in")
BUILT_IN_FILE = Path(__file__).with_name("equivalents.txt")


@cache
def built_in() -> Matcher:
    """The matcher of the built-in rules (BUILT_IN_FILE), read once; held here, out of the matchers' cache
    of KB lists."""
    return matcher(parse(BUILT_IN_FILE.read_text(encoding="utf-8")))


def as_words(text: str) -> str:
    """`text` with each term of the built-in rules (BUILT_IN_FILE) written as its canonical term, then each
    term of the KB's synonyms in force as its."""
    text = built_in().as_canonical(text)
    if synonyms := _KB_SYNONYMS.get():
        text = matcher(synonyms).as_canonical(text)
    return text
