"""Negation: what a cue (not, no, never, 不, 没有, 无 ...) negates in a clause, with its condition, and the
words whose presence denies another (closed = not open, 免收 = 不收取)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache, lru_cache

from indexer.script import is_cjk
from indexer.tokenize import tokenize
from rag.answering.verify.facts import normalise, number_facts

EN_CUE = re.compile(
    r"\b(?:not|never|none|nor|neither|cannot|unless|no(?!\.\s?\d))\b(?!\s+(?:only|just|merely|matter|later than|"
    r"earlier than|more than|less than|fewer than|sooner than))|\b[A-Za-z]+n['’]t\b",
    re.IGNORECASE)
_EN_BOUNDARY = re.compile(
    r"[,;:.!?()\[\]|\n—–]|\b(?:but|and|or|unless|if|when|which|who|that|because|while|although|though|so|"
    r"until|except|however|whereas|then)\b", re.IGNORECASE)
# not the negated word: "not yet open" negates open
EN_SKIP = frozenset(tokenize("yet even ever always currently necessarily longer really get got usually "
                              "automatically immediately"))
ZH_CUE = re.compile(r"除非|没有|不|没|无|未|非|别|勿|莫")
# words holding a cue character that negate nothing: 非常 (very), 未来 (future), 无论 (whatever) ...
_ZH_NOT_NEGATION = ("非常", "未来", "无论", "不论", "不管", "不仅", "不但", "不断", "不同", "不久", "不过", "不少",
                    "不错", "无障碍", "不动户", "是否", "能否", "可否", "与否", "无线", "未成年", "不良", "南非",
                    "是非", "无人", "不一定", "毫无疑问",
                    # 别 ("don't") inside a word: 人脸识别 is no negation
                    "识别", "区别", "分别", "特别", "类别", "级别", "个别", "告别", "差别", "性别", "辨别", "鉴别",
                    "别人", "别的", "别处", "别名")
_ZH_BOUNDARY = re.compile(r"[，。；！？、,;!?:：\n|（）()“”「」]")
_ZH_SKIP = frozenset("能 会 可 要 需 需要 必 必须 应 应该 得 用 再 太 被 予 予以 到 想 敢 肯 愿 愿意 该 很 都 也 就 是 "
                     "能够 一定 得到".split())
_CLAUSE_END = re.compile(r"[,;:.!?，。；！？：\n|]")
CONDITION = re.compile(r"\b(?:if|unless|when|whenever|until|once|provided)\b|如果|若|如需|倘若|假如|除非",
                        re.IGNORECASE)
# words whose presence denies another: closed = not open, 免收 = 不收取 (stemmed as the tokenizer does)
_ANTONYMS = {"open": {"close"}, "avail": {"unavail"}, "accept": {"declin", "reject"}, "allow": {"prohibit", "forbid"},
             "includ": {"exclud"}, "营业": {"休息", "停业", "歇业"}, "开放": {"关闭", "暂停"},
             "收取": {"免收", "免费"}, "收费": {"免费", "免收"}}


@dataclass
class Negation:
    head: str        # the negated word's token ("open")
    word: str        # ... as written ("open")
    written: str     # the cue and the word as written ("not open", "不收取")
    conditional: bool  # under a condition: if, unless, 如果, "...的，"
    words: set[str]  # the head and the next two words of its scope ("not open on Sundays" -> open, sunday):
    #                  a passage sentence denying any of them agrees with it, one asserting it must hold all


@dataclass
class Clause:
    """A sentence's tokens, split by polarity."""
    text: str
    tokens: set[str]                                         # all content tokens
    asserted: set[str]                                       # tokens outside every negation scope
    negated: set[str] = field(default_factory=set)           # tokens inside a scope
    heads: dict[str, Negation] = field(default_factory=dict)
    zero: bool = False                                       # states an amount of 0 ($0, 0元): "no fee"


def _zh_false_cue(text: str, i: int) -> bool:
    ch = text[i]
    for word in _ZH_NOT_NEGATION:
        k = word.find(ch)
        while k >= 0:
            if text[max(0, i - k):i - k + len(word)] == word and i - k >= 0:
                return True
            k = word.find(ch, k + 1)
    return False


def _scopes(text: str) -> list[tuple[int, int, int, str | None, str, str]]:
    """(cue start, scope start, scope end, head token, head as written, cue + head as written) of each
    negation in `text`: the scope runs to the end of the clause (at most 6 words, 10 Chinese characters);
    the head is its first content word (after modal words: 不能使用 -> 使用)."""
    out = []
    for m in EN_CUE.finditer(text):
        start = m.end()
        b = _EN_BOUNDARY.search(text, start)
        end = b.start() if b else len(text)
        head = word = written = None
        for count, w in enumerate(re.finditer(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?", text[start:end])):
            if count == 6:
                end = start + w.start()
                break
            toks = tokenize(w.group(0))
            if head is None and toks and toks[0] not in EN_SKIP:
                head, word, written = toks[0], w.group(0), text[m.start():start + w.end()]
        out.append((m.start(), start, end, head, word, written))
    for m in ZH_CUE.finditer(text):
        if _zh_false_cue(text, m.start()) or (m.group(0) == "非" and text[max(0, m.start() - 1):m.start()] == "除"):
            continue
        start = m.end()
        b = _ZH_BOUNDARY.search(text, start)
        end = min(b.start() if b else len(text), start + 10)
        head = word = written = None
        pos = start
        for w in _cut(text[start:end]):
            at = text.find(w, pos)
            pos = at + len(w)
            toks = tokenize(w)
            if w not in _ZH_SKIP and toks:
                head, word, written = toks[0], w, text[m.start():pos]
                break
        out.append((m.start(), start, end, head, word, written))
    return out


def _cut(text: str) -> list[str]:
    """Words in order (jieba's accurate mode; Latin words whole)."""
    from indexer.tokenize import jieba_tokenizer  # the tokenizer's jieba, loaded once

    return [w for w in jieba_tokenizer().cut(text) if w.strip()]


def _conditional(text: str, cue: int, end: int) -> bool:
    """The negation at `cue` holds under a condition: its clause has one ("not charged if overdrawn by
    $50 or less"; unless, when, 如果 ...),
    or the clause before does, or that one ends with 的 ("余额不超过100元的，..."): the sentence says
    nothing about the other cases."""
    bounds = [m.end() for m in _CLAUSE_END.finditer(text, 0, cue)]
    start = bounds[-1] if bounds else 0
    stop = _CLAUSE_END.search(text, end)
    before = text[bounds[-2] if len(bounds) > 1 else 0:max(0, start - 1)] if bounds else ""
    clause = text[start:stop.start() if stop else len(text)]
    return bool(CONDITION.search(clause) or CONDITION.search(before) or before.rstrip().endswith("的"))


def parse_clause(text: str) -> Clause:
    text = normalise(text)
    outside, inside, last = [], [], 0
    heads: dict[str, Negation] = {}
    for cue, start, end, head, word, written in sorted(_scopes(text)):
        if cue < last:  # inside an earlier scope ("not ... no")
            continue
        outside.append(text[last:cue])
        inside.append(text[start:end])
        last = end
        if head and head not in heads:
            after = [t for t in tokenize(text[start:end]) if t != head and t not in EN_SKIP and t not in _ZH_SKIP]
            heads[head] = Negation(head, word, written, _conditional(text, cue, end), {head, *after[:2]})
    outside.append(text[last:])
    asserted = set(tokenize(" | ".join(outside)))
    negated = set(tokenize(" | ".join(inside))) | set(heads)
    zero = any(f.kind == "money" and f.value == 0 for f in number_facts(text))
    return Clause(text, set(tokenize(text)), asserted, negated, heads, zero)


# word sets holding Chinese are made on first use: tokenizing them loads jieba's dictionary (0.5 s), which an
# English question never needs


@cache
def _charge() -> frozenset[str]:
    return frozenset(tokenize("charge fee cost pay 收费 收取 费用 手续费 年费"))


@cache
def free_words() -> frozenset[str]:
    return frozenset(tokenize("free waived 免费 免收"))


@cache
def charge_words() -> frozenset[str]:
    """Words of charging, of its being free, and negation: what a fee table's rows all say."""
    return _charge() | free_words() | frozenset(tokenize("no not 不 无"))
_FREE_TEXT = re.compile(r"免(?:收|费|年费|手续费)|free of charge|at no (?:cost|charge)", re.IGNORECASE)


@lru_cache(maxsize=1024)  # an answer sentence is judged against every table passage of the prompt
def denies_charge(text: str) -> bool:
    """`text` says something costs nothing: a charge or fee denied ("do not charge a fee", "no fee",
    "不收费"), "free" (免费, 免收) or an amount of 0; not under a condition ("not charged if ...")."""
    c = parse_clause(text)
    # jieba may join a charge word to its verb ("不收年费": 收年费)
    if any((head in _charge() or any(w in head for w in _charge() if is_cjk(w))) and not ng.conditional
           for head, ng in c.heads.items()):
        return True
    free = bool(c.asserted & free_words()) or bool(_FREE_TEXT.search(c.text))
    return free and not CONDITION.search(c.text) or c.zero


def antonym_in(term: str, c: Clause) -> str | None:
    """The word of `c` that denies `term` (closed for open), if any."""
    for a in _ANTONYMS.get(term, ()):
        if a in c.tokens or (is_cjk(a) and a in c.text):
            return a
    return None
