"""Fact-level verification: the facts of an answer sentence must be in the passage it cites.

Word overlap (rag.answering.cite) tells whether a sentence is about what a passage says; it cannot
tell "8 days" from "8:00 p.m.", "$30" from "$20", "not open" from "open", nor "Premium Checking"
from "Premier Checking". `check(sentence, passage, n, known)` compares three kinds of facts, found by
regular expressions in both languages, and returns one Problem (with a reason a person can read)
per fact of the sentence that the passage does not back:

  * numbers, by normalised value + unit + kind (full-width digits, thousands separators, 万/亿,
    small Chinese numerals such as 三 or 十二, English number words such as "five"):
      money      $25, USD 25, 25 dollars; 25元, ¥25, RMB 25, 人民币25元; 5万美元, €, £, HK$ ...
      percent    3%, 3 percent, 百分之三
      time       8:00 p.m., 8pm, noon, 17:00, 下午5点 (a time without a.m./p.m. matches either)
      date       March 1, 2025; 1 March; 2025-03-01; 2025年3月1日; 3月1日
      duration   8 days, 5 business days, 24-hour, 3 years (= 36 months), 五天, 7个工作日, 72小时
      phone      1-800-555-0142, 400-106-9588, +86-21-6188-9588
      number     any other number (a count, an age, an address): its value must occur in the
                 passage as some number, amount, duration or hour
    A duration is not a clock time: "8 days" is not backed by "8:00 p.m.".
  * negation (not, no, never, none, cannot, n't, unless; 不, 没有, 无, 未, 非, 不能, 除非 ...): the
    word a cue negates (its "head", after modal words: "not open" -> open, 不能使用 -> 使用, 不收取 ->
    收取) with the next two words of its clause is compared with the passage sentences that mention
    it, each scored by how many of the answer sentence's other words it holds (words of the passage
    sentence count 1, words of its block's first line or the heading above it 1/2, so that "Closed on
    Saturdays and Sundays." under "Northgate Branch - ..." is about Northgate):
      - the answer negates what the best-matching passage sentence asserts, with the same following
        words ("not open on Sundays" against "open on Sundays", not against "open until 7 p.m."), and
        no sentence denying it matches as well: "says 'not open' where passage [2] says it is open";
      - the answer asserts a word that a passage sentence negates without a condition ("not charged
        if overdrawn by $50 or less" says nothing about other cases), with the words that follow it
        there, and that sentence matches the answer better than any asserting one and holds most of
        the answer's words: "says '收取' where passage [1] says '不收取'".
    A few antonyms count as negations (closed = not open, 免收 = 不收取), and so does an amount of 0
    ("NSF fee | $0" = no NSF fee). A passage sentence that says both counts for the answer, and an
    answer sentence that uses the word both ways is not judged on it. A sentence naming one branch or
    product ("the Northgate Branch", 上海静安支行) is compared only with the passage sentences about it.
  * named things: English capitalised multi-word names ("Premium Checking", "Harbor Bank", "Marina
    Plaza Branch"; a name may be the passage's names run together, or the passage's name with words
    left out, in order), Chinese terms in quotes (「」“”《》『』) and Chinese branch and card names
    (...支行, ...分行, ...营业部; 港湾金卡, 借记卡, 信用卡 ...): "names 'Premium Checking', which
    passage [1] does not mention". A name that is not one branch or product ("Harbor Bank") may come
    from another passage the generator was shown (`known`): a passage seldom repeats the bank's name.
    A single capitalised word inside a clause is a name too ("the latest version of Ubuntu"), unless
    it starts the clause, belongs to an amount or a time zone, or the sentence is a denial; it passes
    when the cited passage or another passage shown has the word.
  * code: what the answer gives the user to type, paths, file names, snake_case names and the
    hyphenated or dotted words of a command or `code span` ("sudo apt-get install deabi-debian"), must
    be in the cited passage or another passage shown, spaces aside: "gives 'deabi-debian', which
    passage [1] does not have".

Same-script pairs are checked for all three; a sentence and a passage in different scripts (a
Chinese answer over an English passage) only for numbers and English names.

`contested(sentence, cited, others)` looks past the cited passage: a negation that passage backs
("not open on Sundays" by "Sunday: closed", the general rule) is contested when another retrieved
passage asserts the negated word with the same following words and matches the sentence better than
any sentence denying it ("It is our only branch open on Sundays.", the exception the question asked
about). rag.answering.cite then treats it like a contradicted fact.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from indexer.script import CJK_RANGES, cross_script, is_cjk
from indexer.tokenize import tokenize
from rag.answering.examples import unlisted
from rag.answering.ranges import ranges, wrong_ends

# ---------------------------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class Fact:
    kind: str            # money | percent | time | date | duration | phone | number
    value: object        # float (money, percent, duration, number), minutes (time), (y, m, d) (date), digits (phone)
    unit: str = ""       # currency (USD, CNY, ...), duration unit (day, month, hour, minute, second)
    text: str = ""       # as written
    loose: bool = False  # a time written without a.m./p.m. (matches either half of the day)
    raw: float | None = None  # a duration's number as written (3 of "3 years", whose value is 36 months)

    def numbers(self) -> set[float]:
        """The plain values a bare number of an answer may be matched against (it claims no unit: "until
        8" is backed by "8:00 p.m.", but "8 days" is not)."""
        if self.kind in ("money", "percent", "number"):
            return {self.value}
        if self.kind == "time" and self.value % 60 == 0:
            h = self.value // 60
            return {float(h), float(h % 12 or 12)}
        if self.kind == "duration":
            return {self.raw if self.raw is not None else self.value}
        if self.kind == "date" and self.value[0] is not None:
            return {float(self.value[0])}
        return set()


# citation markers, as rag.answering.cite.MARKER reads them (cite imports this module)
MARKER = re.compile(r"[\[【［]\s*\d{1,3}(?:\s*[,，、;；\-–~]\s*\d{1,3})*\s*[\]】］]")
_LIST_MARK = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)、]|[一二三四五六七八九十]+、)\s*")

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_EN_NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
_EN_NUMBERS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                    "ninety": 90})
_MONTHS = {m: i + 1 for i, m in enumerate(
    "january february march april may june july august september october november december".split())}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_CURRENCIES = {"$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "美元": "USD",
               "美金": "USD", "us dollars": "USD", "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
               "欧元": "EUR", "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "英镑": "GBP",
               "hk$": "HKD", "hkd": "HKD", "港元": "HKD", "港币": "HKD", "日元": "JPY", "jpy": "JPY",
               "¥": "CNY", "rmb": "CNY", "cny": "CNY", "yuan": "CNY", "元": "CNY", "人民币": "CNY",
               "元人民币": "CNY", "块钱": "CNY"}
# durations are compared in a base unit: weeks as days, years as months
_UNITS = {"day": "day", "days": "day", "week": "day", "weeks": "day", "month": "month", "months": "month",
          "year": "month", "years": "month", "hour": "hour", "hours": "hour", "hr": "hour", "hrs": "hour",
          "minute": "minute", "minutes": "minute", "min": "minute", "mins": "minute", "second": "second",
          "seconds": "second", "sec": "second", "secs": "second",
          "天": "day", "日": "day", "工作日": "day", "自然日": "day", "周": "day", "星期": "day",
          "月": "month", "自然月": "month", "年": "month", "小时": "hour", "钟头": "hour", "分钟": "minute",
          "秒": "second"}
_UNIT_SCALE = {"week": 7, "weeks": 7, "周": 7, "星期": 7, "year": 12, "years": 12, "年": 12}

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_ZHNUM = r"[零〇一二两三四五六七八九十百千]+"
_ENWORD = (r"(?:" + "|".join(sorted((w for w in _EN_NUMBERS if w != "zero"), key=len, reverse=True))
           + r")(?:[- ](?:one|two|three|four|five|six|seven|eight|nine)\b)?")
_B = r"(?<![A-Za-z0-9.,])"       # a number starts here (not inside a word or another number)
_E = r"(?![A-Za-z0-9]|[.,]\d)"    # ... and ends here
_MULT = r"(?:\s?(万|亿|千|k|K|million|billion|thousand)(?![A-Za-z]))?"
_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
          r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?")
_ZH_TIME_PREFIX = r"(上午|下午|晚上|凌晨|中午|早上|早晨|傍晚|夜间|夜里)?"

_MULTIPLIERS = {"万": 1e4, "亿": 1e8, "千": 1e3, "k": 1e3, "K": 1e3, "thousand": 1e3, "million": 1e6,
                "billion": 1e9}


def _zh_number(s: str) -> float | None:
    """'三' -> 3, '十二' -> 12, '二十四' -> 24, '一百零五' -> 105, '两千' -> 2000."""
    total, digit = 0, None
    for ch in s:
        if ch in _ZH_DIGITS:
            digit = _ZH_DIGITS[ch]
        elif ch in _ZH_UNITS:
            total += (1 if digit is None else digit) * _ZH_UNITS[ch]
            digit = None
        else:
            return None
    return float(total + (digit or 0))


def _value(s: str, mult: str | None = None) -> float | None:
    s = s.strip()
    if re.fullmatch(r"[\d,.]+", s):
        v = float(s.replace(",", ""))
    elif re.fullmatch(_ZHNUM, s):
        v = _zh_number(s)
    else:
        words = re.split(r"[- ]", s.lower())
        if not all(w in _EN_NUMBERS for w in words):
            return None
        v = float(sum(_EN_NUMBERS[w] for w in words))
    if v is not None and mult:
        v *= _MULTIPLIERS[mult]
    return v


def _clock(h: int, m: int, half: str | None) -> tuple[int, bool] | None:
    """Minutes after midnight, and whether the half of the day is unknown."""
    if m >= 60 or h > 24:
        return None
    if half:
        half = half.lower()
        if h > 12:
            return None
        if half.startswith("p") or half in ("下午", "晚上", "傍晚", "夜间", "夜里") or (half == "中午" and h < 6):
            h = h % 12 + 12
        elif half.startswith("a") or half in ("凌晨", "上午", "早上", "早晨"):
            h = h % 12
        return h * 60 + m, False
    return h * 60 + m, h <= 12


def _fact_patterns():
    """(regex, handler) in priority order: a span taken by one is not seen by the later ones."""
    pats = []

    def add(pattern, flags=0):
        def deco(fn):
            pats.append((re.compile(pattern, flags), fn))
            return fn
        return deco

    @add(rf"{_B}(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_E}")
    def iso_date(m):
        y, mo, d = (int(x) for x in m.groups())
        return [Fact("date", (y, mo, d), text=m.group(0))] if 1 <= mo <= 12 and 1 <= d <= 31 else None

    @add(r"(?<![A-Za-z0-9+])\+?\d{1,4}(?:[-‐–]\d{2,4}){2,}(?![A-Za-z0-9-])")
    def phone(m):
        digits = re.sub(r"\D", "", m.group(0))
        return [Fact("phone", digits, text=m.group(0))] if len(digits) >= 7 else None

    @add(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}})\b)?")
    def en_date(m):
        return [Fact("date", (int(m.group(3)) if m.group(3) else None, _MONTHS[m.group(1).rstrip(".").lower()],
                              int(m.group(2))), text=m.group(0))]

    @add(rf"{_B}(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})(?:,?\s+(\d{{4}})\b)?")
    def en_date_dm(m):
        return [Fact("date", (int(m.group(3)) if m.group(3) else None, _MONTHS[m.group(2).rstrip(".").lower()],
                              int(m.group(1))), text=m.group(0))]

    @add(rf"\b({_MONTH})\s+(\d{{4}})\b")
    def en_month_year(m):
        return [Fact("date", (int(m.group(2)), _MONTHS[m.group(1).rstrip(".").lower()], None), text=m.group(0))]

    @add(r"(?<!\d)(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")
    def zh_date(m):
        return [Fact("date", (int(m.group(1)) if m.group(1) else None, int(m.group(2)), int(m.group(3))),
                     text=m.group(0))]

    @add(r"(?<!\d)(\d{4})\s*年(?:\s*(\d{1,2})\s*月)?(?!度)")
    def zh_year(m):
        y = int(m.group(1))
        if not 1900 <= y <= 2100:
            return None
        return [Fact("date", (y, int(m.group(2)) if m.group(2) else None, None), text=m.group(0))]

    @add(r"(?<![\d个])(\d{1,2})\s*月(?!份?\s*\d)")
    def zh_month(m):
        mo = int(m.group(1))
        return [Fact("date", (None, mo, None), text=m.group(0))] if 1 <= mo <= 12 else None

    @add(r"7\s*[×xX*]\s*24\s*(?:小时|hours?)?|24\s*/\s*7|24\s*[×xX*]\s*7")
    def around_the_clock(m):
        return [Fact("duration", 24.0, "hour", m.group(0), raw=24.0), Fact("duration", 7.0, "day", m.group(0), raw=7.0)]

    @add(rf"{_B}(\d{{1,2}})(?::(\d{{2}}))?\s*([ap])\.?\s?m\b\.?", re.IGNORECASE)
    def en_time(m):
        t = _clock(int(m.group(1)), int(m.group(2) or 0), m.group(3))
        return [Fact("time", t[0], text=m.group(0), loose=t[1])] if t else None

    @add(r"\b(noon|midnight)\b", re.IGNORECASE)
    def named_time(m):
        return [Fact("time", 720 if m.group(1).lower() == "noon" else 0, text=m.group(0))]

    @add(rf"{_ZH_TIME_PREFIX}\s*{_B}(\d{{1,2}}):(\d{{2}})(?![\d:])")
    def colon_time(m):
        t = _clock(int(m.group(2)), int(m.group(3)), m.group(1))
        return [Fact("time", t[0], text=m.group(0).strip(), loose=t[1])] if t else None

    @add(rf"{_ZH_TIME_PREFIX}\s*(\d{{1,2}}|{_ZHNUM})\s*[点時时](?:\s*(\d{{1,2}})\s*分|(半)|整)?")
    def zh_time(m):
        h = _value(m.group(2))
        if h is None or (not m.group(2).isdigit() and not m.group(1) and not (m.group(3) or m.group(4))):
            return None  # 一点 is "a little" unless it is 下午一点 or 一点半
        t = _clock(int(h), 30 if m.group(4) else int(m.group(3) or 0), m.group(1))
        return [Fact("time", t[0], text=m.group(0), loose=t[1])] if t else None

    @add(rf"(US\$|HK\$|\$|€|£|¥|(?:RMB|CNY|USD|EUR|GBP|HKD|JPY|人民币)\s?)\s?({_NUM}){_MULT}")
    def money_prefix(m):
        v = _value(m.group(2), m.group(3))
        return [Fact("money", v, _CURRENCIES[m.group(1).strip().lower()], m.group(0))]

    @add(rf"{_B}({_NUM}|{_ZHNUM}){_MULT}\s?(元人民币|美元|美金|欧元|英镑|港元|港币|日元|元|块钱|人民币)")
    def money_zh(m):
        v = _value(m.group(1), m.group(2))
        return [Fact("money", v, _CURRENCIES[m.group(3)], m.group(0))] if v is not None else None

    @add(rf"{_B}({_NUM}){_MULT}\s?(US dollars|dollars?|euros?|pounds?|yuan|RMB|CNY|USD|EUR|GBP|HKD)\b",
         re.IGNORECASE)
    def money_words(m):
        return [Fact("money", _value(m.group(1), m.group(2)), _CURRENCIES[m.group(3).lower()], m.group(0))]

    @add(rf"{_B}({_NUM})\s?(?:%|percent\b|per cent\b)|百分之\s?({_NUM}|{_ZHNUM})", re.IGNORECASE)
    def percent(m):
        v = _value(m.group(1) or m.group(2))
        return [Fact("percent", v, text=m.group(0))] if v is not None else None

    @add(rf"(?<![A-Za-z0-9.,])({_NUM}|{_ENWORD})\s?[-‐]?\s?(?:(?:consecutive|calendar|business|working|banking|"
         r"full|more|additional)\s)*(days?|weeks?|months?|years?|hours?|hrs?|minutes?|mins?|seconds?|secs?)\b",
         re.IGNORECASE)
    def en_duration(m):
        v = _value(m.group(1))
        unit = m.group(2).lower()
        if v is None:
            return None
        return [Fact("duration", v * _UNIT_SCALE.get(unit, 1), _UNITS[unit], m.group(0), raw=v)]

    @add(rf"(?<![第\d])({_NUM}|{_ZHNUM})\s?(?:个)?\s?(工作日|自然日|自然月|小时|钟头|分钟|天|日|秒|"
         r"周(?![一二三四五六日末天])|星期(?![一二三四五六日天])|月|年(?![度\d]))")
    def zh_duration(m):
        v = _value(m.group(1))
        unit = m.group(2)
        if v is None or (unit == "月" and "个" not in m.group(0)):   # 3月 is March; 3个月 three months
            return None
        return [Fact("duration", v * _UNIT_SCALE.get(unit, 1), _UNITS[unit], m.group(0), raw=v)]

    @add(rf"{_B}({_NUM})(?:st|nd|rd|th)?{_MULT}(?![A-Za-z0-9])")
    def plain(m):
        return [Fact("number", _value(m.group(1), m.group(2)), text=m.group(0))]

    @add(r"(?<!第)([一二两三四五六七八九十百千]+)\s?(笔|次|张|家|台|个|份|位|项|条|种|名|倍|岁)")
    def zh_count(m):
        before = m.string[m.start() - 1:m.start()] if m.start() else ""
        if m.group(1) == "一" and re.match(f"[{CJK_RANGES}]", before or " "):
            return None  # 统一, 任一, 每一个: not a count
        v = _value(m.group(1))
        return [Fact("number", v, text=m.group(0))] if v is not None else None

    @add(rf"\b({_ENWORD})\b", re.IGNORECASE)
    def en_word(m):
        if m.group(1).lower() == "one":  # mostly a pronoun ("any one of", "one-time"); "one day" is a duration
            return None
        return [Fact("number", _value(m.group(1)), text=m.group(0))]

    return pats


_PATTERNS = _fact_patterns()


def normalise(text: str) -> str:
    """NFKC (full-width digits, ％, ￥ ...), citation markers removed, white space collapsed."""
    text = MARKER.sub(" ", unicodedata.normalize("NFKC", text))
    return re.sub(r"\s+", " ", text).strip()


def number_facts(text: str) -> list[Fact]:
    """The numeric facts of `text`, in priority order of their patterns."""
    text = _LIST_MARK.sub("", normalise(text))
    out: list[Fact] = []
    for rx, fn in _PATTERNS:
        spans = []
        for m in rx.finditer(text):
            got = fn(m)
            if got:
                out.extend(f for f in got if f.value is not None)
                spans.append(m.span())
        for a, b in spans:  # mask what was taken (same length: positions stay valid)
            text = text[:a] + "\x00" * (b - a) + text[b:]
    return out


def _matches(a: Fact, p: Fact, passage: _Passage) -> bool:
    if a.kind == "number":
        return a.value in p.numbers()
    if a.kind != p.kind:
        # a bare number in a passage whose table states the currency or the % elsewhere ("fee_usd: 25")
        return p.kind == "number" and p.value == a.value and (
            (a.kind == "money" and a.unit in passage.currencies) or (a.kind == "percent" and passage.has_percent))
    if a.kind in ("money", "duration"):
        return a.unit == p.unit and math.isclose(a.value, p.value, abs_tol=1e-9)
    if a.kind == "percent":
        return math.isclose(a.value, p.value, abs_tol=1e-9)
    if a.kind == "time":
        return a.value == p.value or ((a.loose or p.loose) and a.value % 720 == p.value % 720)
    if a.kind == "date":
        for x, y, part in zip(a.value, p.value, range(3)):
            if x is None or x == y:
                continue
            if y is None and part == 0 and float(x) in passage.numbers:  # the year stated elsewhere
                continue
            return False
        return True
    if a.kind == "phone":
        short, long_ = sorted((a.value, p.value), key=len)
        return long_.endswith(short) and len(short) >= 7
    return False


_KIND_WORD = {"money": "the amount", "percent": "the percentage", "time": "the time", "date": "the date",
              "duration": "the number", "phone": "the phone number", "number": "the number"}


# ---------------------------------------------------------------------------------------------- names
_CAP_WORD = r"(?:[A-Z][\w'’&.-]*[\w]|[A-Z])"
_CONNECT = r"(?:of|de|la|du|del)"
_NAME_RUN = re.compile(rf"{_CAP_WORD}(?:\s+(?:{_CONNECT}\s+)?{_CAP_WORD})+")
_EDGE_WORDS = frozenset("""a an the our your their its his her my this that these those each every all any no yes
if when with without to from by and or both either for on in at of as you we it they he she i please call visit
note also then there here however but so""".split())
_NOT_NAMES = frozenset("""monday tuesday wednesday thursday friday saturday sunday january february march april may
june july august september october november december""".split())
_ZH_QUOTED = re.compile(r"[「“『《\"]([^」”』》\"]{2,30})[」”』》\"]")
_ZH_BRANCH = re.compile(r"[\u4e00-\u9fff]{2,4}?(?:分行营业部|营业部|支行|分行)")
_ZH_NOT_NAME = re.compile(r"[本各该此每我贵的在到去和与及或所有其他任一些家个行]")
_ZH_PRODUCT = re.compile(r"(?:港湾)?(?:白金卡|(?<!白)金卡|普卡|借记卡|信用卡|社保卡|老年卡|代发工资卡)")


def _name_words(text: str) -> list[str]:
    """Words for name matching: lower case, possessive and plural s removed."""
    out = []
    for w in re.findall(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?", text):
        w = re.sub(r"['’]s?$", "", w.lower())
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return out


def english_names(sentence: str) -> list[str]:
    """Capitalised multi-word names ("Premium Checking", "Harbor Bank"), leading and trailing
    function words removed ("The Harbor Bank" -> "Harbor Bank")."""
    return [name for name, _ in _english_names(sentence)]


def _english_names(sentence: str) -> list[tuple[str, bool]]:
    """(name, starts the sentence): a sentence's first word is capitalised anyway, so "Call Card
    Services" may be a verb and a name."""
    text = normalise(sentence)
    out = []
    first = re.search(r"[A-Za-z]", text)
    for m in _NAME_RUN.finditer(text):
        run = m.group(0).split()
        words = list(run)
        while words and (words[0].lower() in _EDGE_WORDS or words[0].lower() in _NOT_NAMES):
            words = words[1:]
        while words and (words[-1].lower() in _EDGE_WORDS or words[-1].lower() in _NOT_NAMES):
            words = words[:-1]
        if len(words) >= 2:
            out.append((" ".join(words), first is not None and m.start() == first.start() and words[0] == run[0]))
    return out


# A single capitalised word inside a sentence ("the latest version of Ubuntu", "use Docker"): a name too.
# Not checked at a sentence's or clause's start (after . : ; ! ? ( or a quote), where any word is capitalised.
_CAP_SINGLE = re.compile(r"(?<![\w'’.-])[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
_OPENERS = ".:;!?(\"“‘'[\n*-"
# time zones and the like, which a passage writes out or leaves implied ("2 p.m. ET", "Eastern Time")
_NOT_SINGLE = frozenset("et est edt ct cst cdt mt mst mdt pt pst pdt utc gmt cet cest bst am pm us uk eu".split())


def single_names(sentence: str) -> list[str]:
    """Capitalised words inside the sentence that are not part of a multi-word name (`english_names`), an
    amount ("25 US dollars"), a function word, weekday or month, nor the first word of a clause. None in
    a denial: "you cannot buy Bitcoin here" names what the passage leaves out without claiming it."""
    text = normalise(sentence)
    if _EN_CUE.search(text):
        return []
    for f in number_facts(text):
        text = text.replace(f.text, " " * len(f.text))
    runs = [m.span() for m in _NAME_RUN.finditer(text)]
    out = []
    for m in _CAP_SINGLE.finditer(text):
        before = text[:m.start()].rstrip()
        if not before or before[-1] in _OPENERS or any(a <= m.start() < b for a, b in runs):
            continue
        word = m.group(0)
        low = word.lower()
        if word == "I" or low in _EDGE_WORDS or low in _NOT_SINGLE or low in _NOT_NAMES or low[:-1] in _NOT_NAMES:
            continue
        out.append(word)
    return list(dict.fromkeys(out))


# ---------------------------------------------------------------------------------------------- code
# Commands, packages, file names and paths an answer tells the user to type. A small model invents them
# ("sudo apt-get install deabi-debian", "/etc/init.d/init.d/font-fontset-1.0.0"), and a wrong one is
# worse than none: each must be in the cited passage (or another passage shown), spaces aside.
_CODE_SPAN = re.compile(r"`{1,3}([^`]{1,300})`{1,3}")
_COMMAND = re.compile(r"(?:^|(?<=\s)|(?<=[(\"“']))(?:\$\s*)?(?:sudo|apt-get|apt|aptitude|dpkg(?:-[a-z]+)?|pip3?|yum|dnf|"
                      r"systemctl|service|git|curl|wget|chmod|chown|ln|mkdir|cd|cp|mv|rm)\s+[^\n;]{1,200}")
_PATH = re.compile(r"(?<![\w/.:])~?/[\w.+-]+(?:/[\w.+-]+)*/?")
_FILE = re.compile(r"(?<![\w./@-])[A-Za-z][\w+-]*(?:\.[A-Za-z0-9][\w+-]*)*\.(?:[a-z]{1,4}\d?|d)(?![\w/-])")
_UNDERSCORED = re.compile(r"(?<![\w./-])[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+(?![\w-])")
_ARG = re.compile(r"(?<![\w./-])[A-Za-z0-9][\w.+:~-]*[A-Za-z0-9](?![\w/-])")
_NOT_FILES = frozenset("e.g i.e a.m p.m etc vs u.s u.k".split())
# web and e-mail addresses: an invented one sends a bank's customer to a site or mailbox nobody vouches for
# (NFKC has made '，' ','; CJK text may follow an address with no space between)
_ADDRESS = re.compile(r"(?:https?://\s?|www\.)[^\s<>\"'“”‘’()\[\],;!\u3000-\u9fff\uff00-\uffef]+"
                      r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def code_terms(sentence: str) -> list[str]:
    """What the sentence gives to type or visit: web and e-mail addresses, paths, file names (papersize.d,
    foo.deb), snake_case names, and the hyphenated or dotted words of a command ("sudo apt-get install
    deabi-debian": apt-get, deabi-debian) or of a `code span`. Options ("-y"), plain words and numbers
    are not code terms."""
    text = MARKER.sub(" ", unicodedata.normalize("NFKC", sentence))
    found: list[str] = []
    for m in _ADDRESS.finditer(text):  # as a passage may write it: with or without its scheme and end '/'
        address = re.sub(r"^https?://\s?", "", m.group(0)).rstrip("/.,;:!?-")
        if "." in address:
            found.append(address)
    text = _ADDRESS.sub(" ", text)  # its parts are no paths or file names of their own
    for m in _PATH.finditer(text):
        if m.group(0).strip("/"):
            found.append(m.group(0).rstrip("/."))
    for m in _FILE.finditer(text):
        word = m.group(0)
        if word.lower().rstrip(".") not in _NOT_FILES and not re.fullmatch(r"[A-Za-z]\.[A-Za-z]", word):
            found.append(word)
    found += [m.group(0) for m in _UNDERSCORED.finditer(text)]
    spans = [m.group(1) for m in _CODE_SPAN.finditer(text)] + [m.group(0) for m in _COMMAND.finditer(text)]
    for span in spans:
        for m in _ARG.finditer(span):
            word = m.group(0)
            if re.search(r"[-._]", word) and re.search(r"[A-Za-z]", word) and not span[:m.start()].endswith("-"):
                found.append(word)
    return [t for t in dict.fromkeys(found) if not any(t != u and t in u for u in found)]


# text in double quotation marks: a label to find ("the "Reset" button") or words said to be the
# passage's own ("The passage states that "..."") must be a passage's, word for word
_QUOTED = re.compile(r"[\"“”„]([^\"“”„\n]{1,400})[\"“”]|「([^」\n]{1,400})」|『([^』\n]{1,400})』")


def quotations(sentence: str) -> list[str]:
    """The sentence's quotations that hold a word (letters or a Chinese character), without the
    punctuation at their ends; citation markers left out."""
    text = MARKER.sub(" ", unicodedata.normalize("NFKC", sentence))
    out = []
    for m in _QUOTED.finditer(text):
        body = next(g for g in m.groups() if g is not None).strip(" \t.,;:!?。，；：！？…'")
        if re.search(r"[A-Za-z\u4e00-\u9fff]", body):
            out.append(body)
    return out


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _compact(text: str) -> str:
    """`normalise`d, without white space, lower case: commands, paths and Chinese names are found in it."""
    return normalise(text).replace(" ", "").lower()


def _in_order(name: list[str], words: list[str], max_gap: int = 2) -> bool:
    """The name's words occur in `words` in order, at most `max_gap` other words between two of them."""
    if not name:
        return True
    for start in (i for i, w in enumerate(words) if w == name[0]):
        pos, ok = start, True
        for w in name[1:]:
            nxt = next((j for j in range(pos + 1, min(len(words), pos + 2 + max_gap)) if words[j] == w), None)
            if nxt is None:
                ok = False
                break
            pos = nxt
        if ok:
            return True
    return False


def _name_found(name: list[str], words: list[str]) -> bool:
    """Found whole, or as names of the passage run together ("Harbor Bank Premier Checking"): a split
    into pieces of two or more words, each found."""
    n = len(name)
    ok = [True] + [False] * n  # ok[i]: name[:i] can be split into found pieces
    for i in range(2, n + 1):
        ok[i] = any(ok[j] and _in_order(name[j:i], words) for j in range(0, i - 1))
    return ok[n]


def _zh_names(sentence: str) -> list[str]:
    text = normalise(sentence)
    out = [m.group(1).strip() for m in _ZH_QUOTED.finditer(text) if re.search(f"[{CJK_RANGES}]", m.group(1))]
    for m in _ZH_BRANCH.finditer(text):
        if not _ZH_NOT_NAME.search(_branch_core(m.group(0))[:2]):  # "各支行", "本行所有分行": no branch named
            out.append(m.group(0))
    out += [m.group(0) for m in _ZH_PRODUCT.finditer(text)]
    return list(dict.fromkeys(out))


def _branch_core(name: str) -> str:
    """A branch's own name: the suffix and the two characters before it ("上海静安支行" -> "静安支行")."""
    suffix = re.search(r"(?:分行营业部|营业部|支行|分行)$", name).group(0)
    return name[-len(suffix) - 2:]


def _zh_name_found(name: str, compact: str) -> bool:
    """`compact`: the passage's `_compact` form."""
    name = _compact(name)
    if _ZH_BRANCH.fullmatch(name):
        return _branch_core(name) in compact
    if _ZH_PRODUCT.fullmatch(name):
        short = re.sub(r"^港湾", "", name)
        return bool(re.search(("(?<!白)" if short == "金卡" else "") + re.escape(short), compact))
    return name in compact


# ---------------------------------------------------------------------------------------------- negation
_EN_CUE = re.compile(
    r"\b(?:not|never|none|nor|neither|cannot|unless|no(?!\.\s?\d))\b(?!\s+(?:only|just|merely|matter|later than|"
    r"earlier than|more than|less than|fewer than|sooner than))|\b[A-Za-z]+n['’]t\b",
    re.IGNORECASE)
_EN_BOUNDARY = re.compile(
    r"[,;:.!?()\[\]|\n—–]|\b(?:but|and|or|unless|if|when|which|who|that|because|while|although|though|so|"
    r"until|except|however|whereas|then)\b", re.IGNORECASE)
# not the negated word: "not yet open" negates open
_EN_SKIP = frozenset(tokenize("yet even ever always currently necessarily longer really get got usually "
                              "automatically immediately"))
_ZH_CUE = re.compile(r"除非|没有|不|没|无|未|非|别|勿|莫")
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
_CONDITION = re.compile(r"\b(?:if|unless|when|whenever|until|once|provided)\b|如果|若|如需|倘若|假如|除非",
                        re.IGNORECASE)
# words whose presence denies another: closed = not open, 免收 = 不收取 (stemmed as the tokenizer does)
_ANTONYMS = {"open": {"close"}, "avail": {"unavail"}, "accept": {"declin", "reject"}, "allow": {"prohibit", "forbid"},
             "includ": {"exclud"}, "营业": {"休息", "停业", "歇业"}, "开放": {"关闭", "暂停"},
             "收取": {"免收", "免费"}, "收费": {"免费", "免收"}}


@dataclass
class _Negation:
    head: str        # the negated word's token ("open")
    word: str        # ... as written ("open")
    written: str     # the cue and the word as written ("not open", "不收取")
    conditional: bool  # under a condition: if, unless, 如果, "...的，"
    words: set[str]  # the head and the next two words of its scope ("not open on Sundays" -> open, sunday):
    #                  a passage sentence denying any of them agrees with it, one asserting it must hold all


@dataclass
class _Clause:
    """A sentence's tokens, split by polarity."""
    text: str
    tokens: set[str]                                         # all content tokens
    asserted: set[str]                                       # tokens outside every negation scope
    negated: set[str] = field(default_factory=set)           # tokens inside a scope
    heads: dict[str, _Negation] = field(default_factory=dict)
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
    for m in _EN_CUE.finditer(text):
        start = m.end()
        b = _EN_BOUNDARY.search(text, start)
        end = b.start() if b else len(text)
        head = word = written = None
        for count, w in enumerate(re.finditer(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?", text[start:end])):
            if count == 6:
                end = start + w.start()
                break
            toks = tokenize(w.group(0))
            if head is None and toks and toks[0] not in _EN_SKIP:
                head, word, written = toks[0], w.group(0), text[m.start():start + w.end()]
        out.append((m.start(), start, end, head, word, written))
    for m in _ZH_CUE.finditer(text):
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
    from indexer.tokenize import _jieba  # the tokenizer's jieba, loaded once

    return [w for w in _jieba().cut(text) if w.strip()]


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
    return bool(_CONDITION.search(clause) or _CONDITION.search(before) or before.rstrip().endswith("的"))


def _clause(text: str) -> _Clause:
    text = normalise(text)
    outside, inside, last = [], [], 0
    heads: dict[str, _Negation] = {}
    for cue, start, end, head, word, written in sorted(_scopes(text)):
        if cue < last:  # inside an earlier scope ("not ... no")
            continue
        outside.append(text[last:cue])
        inside.append(text[start:end])
        last = end
        if head and head not in heads:
            after = [t for t in tokenize(text[start:end]) if t != head and t not in _EN_SKIP and t not in _ZH_SKIP]
            heads[head] = _Negation(head, word, written, _conditional(text, cue, end), {head, *after[:2]})
    outside.append(text[last:])
    asserted = set(tokenize(" | ".join(outside)))
    negated = set(tokenize(" | ".join(inside))) | set(heads)
    zero = any(f.kind == "money" and f.value == 0 for f in number_facts(text))
    return _Clause(text, set(tokenize(text)), asserted, negated, heads, zero)


_CHARGE = frozenset(tokenize("charge fee cost pay 收费 收取 费用 手续费 年费"))
_FREE = frozenset(tokenize("free waived 免费 免收"))
CHARGE_WORDS = _CHARGE | _FREE | frozenset(tokenize("no not 不 无"))
_FREE_TEXT = re.compile(r"免(?:收|费|年费|手续费)|free of charge|at no (?:cost|charge)", re.IGNORECASE)


@lru_cache(maxsize=1024)  # an answer sentence is judged against every table passage of the prompt
def denies_charge(text: str) -> bool:
    """`text` says something costs nothing: a charge or fee denied ("do not charge a fee", "no fee",
    "不收费"), "free" (免费, 免收) or an amount of 0; not under a condition ("not charged if ...")."""
    c = _clause(text)
    # jieba may join a charge word to its verb ("不收年费": 收年费)
    if any((head in _CHARGE or any(w in head for w in _CHARGE if is_cjk(w))) and not ng.conditional
           for head, ng in c.heads.items()):
        return True
    free = bool(c.asserted & _FREE) or bool(_FREE_TEXT.search(c.text))
    return free and not _CONDITION.search(c.text) or c.zero


def _antonym(term: str, c: _Clause) -> str | None:
    """The word of `c` that denies `term` (closed for open), if any."""
    for a in _ANTONYMS.get(term, ()):
        if a in c.tokens or (is_cjk(a) and a in c.text):
            return a
    return None


# ---------------------------------------------------------------------------------------------- passages
@dataclass
class _Sentence:
    clause: _Clause
    context: set[str]   # tokens of its block's first line and of the heading above it


@dataclass
class _Passage:
    text: str
    facts: list[Fact]
    numbers: set[float]
    currencies: set[str]
    has_percent: bool
    words: list[str]          # for English names
    sentences: list[_Sentence]
    compact: str              # `_compact`: for commands, paths, file names and Chinese names
    word_set: frozenset[str]  # `words`, for single-word names


_HEADING = re.compile(r"^\s*(?:#{1,6}\s+|\d+\.\s+[A-Z]|[一二三四五六七八九十]+、)")


# a parsed passage holds ~100 KB (parsing one takes 2-7 ms): 128 cover the passages and the 'known'
# texts of ~16 answers at once; 512 held ~52 MB
@lru_cache(maxsize=128)
def _passage(text: str) -> _Passage:
    from indexer.chunk import split_sentences as chunk_sentences
    from rag.text import join_wrapped_lines

    facts = number_facts(text)
    numbers = {v for f in facts for v in f.numbers()}
    norm = normalise(text)
    currencies = {f.unit for f in facts if f.kind == "money"}
    for word, cur in _CURRENCIES.items():
        if re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", norm, re.IGNORECASE):
            currencies.add(cur)
    sentences: list[_Sentence] = []
    heading: set[str] = set()
    for block in re.split(r"\n\s*\n", text):
        lines = join_wrapped_lines(block)
        if not lines:
            continue
        first = set(tokenize(lines[0]))
        if _HEADING.match(lines[0]) or (len(lines) == 1 and len(lines[0]) < 60):
            heading = first
        for i, line in enumerate(lines):
            for s in chunk_sentences(line):
                ctx = (first if i else set()) | heading
                sentences.append(_Sentence(_clause(s), ctx))
    words = _name_words(norm)
    return _Passage(text, facts, numbers, currencies, bool(re.search(r"%|percent|百分", norm, re.IGNORECASE)),
                    words, sentences, _compact(text), frozenset(words))


# ---------------------------------------------------------------------------------------------- checks
@dataclass
class Problem:
    kind: str     # number | negation | name | code
    fact: str     # the sentence's fact as written
    reason: str
    where: str = ""  # contested(): the label of the passage that says otherwise


def _cover(words: set[str], s: _Sentence) -> float:
    """How much of the answer sentence's other words a passage sentence holds: words in the sentence
    count 1, words only in its block's first line or the heading above it 1/2."""
    inside = words & s.clause.tokens
    return len(inside) + 0.5 * len((words - inside) & s.context)


# the kind of thing a name denotes, when it is one branch or one product ("Quayside Main Branch")
_ENTITY_KINDS = frozenset(tokenize("branch checking savings account card service plan loan mortgage protection "
                                   "office center centre line"))


def _is_entity(name: str) -> bool:
    """Is it the name of one branch or product ("Quayside Main Branch", "Premier Checking")?"""
    toks = tokenize(name)
    return bool(toks) and toks[-1] in _ENTITY_KINDS


def _subjects(sentence: str, p: _Passage) -> list[set[str]]:
    """The branches and products the sentence names, as tokens without their kind word ("Quayside
    Main Branch" -> {quaysid, main}; 上海静安支行 -> 静安), when the passage mentions them: what it
    says about other branches does not bear on them."""
    out = []
    for name in english_names(sentence):
        if _is_entity(name):
            out.append(set(tokenize(name)) - _ENTITY_KINDS)
    for name in _zh_names(sentence):
        if _ZH_BRANCH.fullmatch(name):
            core = _branch_core(name)
            out.append(set(tokenize(core[:2])) or {core[:2]})
        elif _ZH_PRODUCT.fullmatch(name):
            out.append(set(tokenize(name)))
    return [x for x in out if x and any(x <= s.clause.tokens | s.context for s in p.sentences)]


def _stance(head: str, ng: _Negation, c: _Clause) -> str | None:
    """How a passage clause stands to an answer's negation `ng` of `head`: "denies" (it negates the same
    words, says an antonym, or an amount of 0: "NSF fee | $0"; a clause saying both counts here, for the
    answer), "asserts" (`head` with the words that follow it in the answer: "open on Sundays" for "not
    open on Sundays"; an amount of 0 for "not free"), or None."""
    if head in _FREE and c.zero:  # "Coin counting | $0.00" says it is free: "not free" is what it denies
        return "asserts" if ng.words - {head} <= c.tokens else None
    if ng.words & c.negated or any(_antonym(w, c) for w in ng.words) or c.zero:
        return "denies"
    if head in c.asserted and ng.words <= c.tokens:
        return "asserts"
    return None


def _negation_problems(sentence: str, p: _Passage, n: int) -> list[Problem]:
    a = _clause(sentence)
    subjects = _subjects(sentence, p)
    sentences = [s for s in p.sentences if all(x <= s.clause.tokens | s.context for x in subjects)]
    out = []
    # 1. the answer negates a word that the passage sentence matching it best asserts, with the words
    #    that follow it ("not open on Sundays" against "open on Sundays", not "open until 7 p.m.")
    for head, ng in a.heads.items():
        if head in a.asserted:  # the sentence uses the word both ways ("工作日 ... 非工作时间"): not judged
            continue
        others = (a.tokens | a.negated) - {head}
        aff = neg = -1.0
        for s in sentences:
            stance = _stance(head, ng, s.clause)
            if stance == "denies":
                neg = max(neg, _cover(others, s))
            elif stance == "asserts":
                aff = max(aff, _cover(others, s))
        if aff >= 1 and aff > neg:
            out.append(Problem("negation", ng.written, f"says '{ng.written}' where passage [{n}] says it is {ng.word}"))
    # 2. the answer asserts a word (with the words following it there) that a passage sentence negates
    #    without a condition, and that sentence matches the answer better than any asserting one and
    #    holds most of its words
    for head in sorted(a.asserted - a.negated):
        others = a.tokens - {head}
        if not others or (is_cjk(head) and re.search(f"(?:{_ZH_CUE.pattern}){re.escape(head[0])}", a.text)):
            continue  # (不收违约金 ... 收取: the sentence uses the word both ways, cut apart differently)
        aff, best, said = -1.0, (-1.0, 0), ""
        for s in sentences:
            c = s.clause
            if head in c.asserted:  # (also when it negates it elsewhere: counts for the answer)
                aff = max(aff, _cover(others, s))
                continue
            ng = c.heads.get(head)
            explicit = ng is not None and not ng.conditional and ng.words <= a.tokens
            anti = _antonym(head, c) if not explicit and not _CONDITION.search(c.text) else None
            if explicit or anti:
                key = (_cover(others, s), int(explicit))  # an explicit "not" before an antonym
                if key > best:
                    best, said = key, ng.written if explicit else _surface(anti, c.text)
        if said and best[0] > aff and best[0] >= 0.6 * len(others):
            word = _surface(head, a.text)
            out.append(Problem("negation", word, f"says '{word}' where passage [{n}] says '{said}'"))
    # 3. the answer denies something (without a condition) and no passage sentence denying anything
    #    holds what it denies (the words following the negated one): "No, your card is not protected
    #    against fraud." against a notice of a Zero Liability policy. Any denial of the passage backs
    #    it, in other words too ("cannot cancel a wire" by "a wire usually cannot be reversed"): what is
    #    removed is a "no" the passage never gave, the small model's answer to a yes/no question it had
    #    no answer for
    named = {t for name in english_names(sentence) if _is_entity(name) for t in tokenize(name)}
    for head, ng in a.heads.items():
        if head in a.asserted or ng.conditional or any(pr.fact == ng.written for pr in out):
            continue
        # the branch or product it is about need not be named: "Sunday: closed" in the standard hours
        # backs "The Quayside Main Branch is not open on Sundays"
        denied = ng.words - {head} - _EN_SKIP - _WHEN - named
        if not denied:
            continue
        denying = [(s, need) for s in p.sentences if (need := _denying(s.clause, ng))]
        # the same word denied ("no prepayment penalty" backs "no penalty for paying off ...") or its
        # antonym said ("临时挂失免费" backs "临时挂失不收取费用")
        if any((head in s.clause.negated or _antonym(head, s.clause)) and need < 1 for s, need in denying):
            continue
        # half of what it denies; all of it for a denial under a condition ("once a wire has been
        # sent, it usually cannot be reversed" backs "cannot be cancelled after it was sent"; "We do not
        # charge an overdraft fee if ..." does not back "you cannot get your overdraft fee refunded")
        if not any(_cover(denied, s) >= need * len(denied) for s, need in denying):
            out.append(Problem("negation", ng.written,
                               f"says '{ng.written}' where {NO_DENIAL} [{n}]"))
    return out


_WHEN = frozenset(tokenize("after before once then still"))  # "cannot be cancelled after it was sent": denies "sent"
NO_DENIAL = "no sentence denies it in passage"  # the reason's words, for the bare "No." that goes with it
# words that deny or restrict without a negation cue: "Sunday: closed", "declined", "free", "only"
_DENYING = frozenset(tokenize("closed declined rejected refused prohibited forbidden unavailable excluded free "
                              "waived without except only instead unable impossible expired "
                              "关闭 拒绝 禁止 免费 免收 除外 仅 只 只能 暂停"))


def _denying(c: _Clause, ng: _Negation) -> float:
    """How much of what an answer's negation `ng` denies a passage clause `c` must hold to back it: 0.5
    when `c` denies or restricts something (a negation, an amount of 0, a denying word, an antonym of a
    word `ng` negates), 1 when only under a condition, 0 when it denies nothing."""
    restricts = c.zero or bool(c.tokens & _DENYING) or any(_antonym(w, c) for w in ng.words)
    if not (c.heads or restricts):
        return 0.0
    unconditional = any(not x.conditional for x in c.heads.values()) or (restricts and not _CONDITION.search(c.text))
    return 0.5 if unconditional else 1.0


def contested(sentence: str, cited: str, others: Sequence[tuple[str, str]]) -> Problem | None:
    """A negation of `sentence` that its cited passage backs ("not open on Sundays" by "Sunday:
    closed") while another retrieved passage (`others`: (label, text), e.g. ("[2]", text) or a source
    name) asserts it with the same following words and matches the sentence better than any sentence
    denying it, in any passage: "It is our only branch open on Sundays." The general rule a 135M model
    quotes is then contradicted by the exception the question asks about; the claim is not backed by
    the documents taken together. None when no negation is contested (same-script passages only)."""
    a = _clause(sentence)
    if not a.heads or not others:
        return None
    texts = [("", cited)] + [(label, t) for label, t in others if not cross_script(sentence, t)]
    passages = [(label, _passage(t)) for label, t in texts]
    for head, ng in a.heads.items():
        if head in a.asserted or ng.conditional:
            continue
        words = (a.tokens | a.negated) - {head}
        neg, aff, where = -1.0, -1.0, ""
        for label, p in passages:
            subjects = _subjects(sentence, p)
            for s in p.sentences:
                if not all(x <= s.clause.tokens | s.context for x in subjects):
                    continue
                stance = _stance(head, ng, s.clause)
                if stance == "denies":
                    neg = max(neg, _cover(words, s))
                elif label and stance == "asserts" and not _CONDITION.search(s.clause.text):
                    cover = _cover(words, s)
                    if cover > aff:
                        aff, where = cover, label
        if aff >= 1 and aff > neg:
            return Problem("negation", ng.written, f"says '{ng.written}' where {where} says it is {ng.word}", where)
    return None


def _surface(token: str, text: str) -> str:
    """The word of `text` whose token is `token` ("closed" for close); the token if none."""
    if is_cjk(token):
        return token
    for w in re.finditer(r"[A-Za-z0-9]+", text):
        if tokenize(w.group(0))[:1] == [token]:
            return w.group(0)
    return token


def check(sentence: str, passage: str, n: int = 1, known: str = "") -> list[Problem]:
    """The facts of `sentence` (an answer sentence, citation markers allowed) that `passage` (the
    passage it cites, numbered `n` in the reasons) does not back: [] when every one is backed.
    `known`: the text of the other passages the generator was shown; a name found there that is not
    one branch or product ("Harbor Bank", not "Premier Checking") need not be in `passage` (a passage
    cut from a document seldom repeats the bank's name)."""
    p = _passage(passage)
    others = _passage(known) if known else None
    problems: list[Problem] = []
    facts = number_facts(sentence)
    for f in facts:
        if not any(_matches(f, pf, p) for pf in p.facts):
            what = f.text.strip()
            if not any(x.fact == what for x in problems):
                problems.append(Problem("number", what, f"{_KIND_WORD[f.kind]} {what} is not in passage [{n}]"))
    for name, initial in _english_names(sentence):
        words = _name_words(name)
        if _name_found(words, p.words) or (initial and len(words) > 2 and _name_found(words[1:], p.words)):
            continue
        if others and not _is_entity(name) and (
                _name_found(words, others.words) or (initial and len(words) > 2 and _name_found(words[1:], others.words))):
            continue
        problems.append(Problem("name", name, f"names '{name}', which passage [{n}] does not mention"))
    for name in single_names(sentence):  # a word of another passage shown is one the generator was told about
        if all(w in p.word_set or (others and w in others.word_set) for w in _name_words(name)):
            continue
        problems.append(Problem("name", name, f"names '{name}', which passage [{n}] does not mention"))
    terms = code_terms(sentence)
    where = p.compact + (others.compact if others else "")
    for term in terms:
        if _compact(term) not in where:
            problems.append(Problem("code", term, f"gives '{term}', which passage [{n}] does not have"))
    if cross_script(sentence, passage):
        return problems
    if is_cjk(passage):
        for name in _zh_names(sentence):
            if not _zh_name_found(name, p.compact):
                problems.append(Problem("name", name, f"names '{name}', which passage [{n}] does not mention"))
    problems += _negation_problems(sentence, p, n)
    problems += [Problem("name", item, f"lists '{item}' as an example, which passage [{n}] does not give")
                 for item in unlisted(sentence, passage)]
    problems += [Problem("number", written, f"gives {written} as the {end}, where passage [{n}] has it as the "
                                            f"{'least' if end == 'most' else 'most'} of '{r.text}'")
                 for written, r, end in wrong_ends(sentence, facts, _ranges(passage))]
    reported = {_compact(pr.fact) for pr in problems}
    for quote in quotations(sentence):  # a quoted name or term already reported is not reported again
        if _compact(quote) not in where and _compact(quote) not in reported:
            problems.append(Problem("quote", quote, f"quotes “{_short(quote)}”, which no passage shown says "
                                                    "word for word"))
    return problems


@lru_cache(maxsize=128)
def _ranges(passage: str) -> tuple:
    """The passage's ranges of numbers (rag.answering.ranges)."""
    return ranges(normalise(passage), _passage(passage).facts)


@lru_cache(maxsize=4096)  # a streamed answer is cited again as it grows: its sentences are checked once
def verify(sentence: str, passage: str, n: int = 1, known: str = "") -> str | None:
    """None when every fact of `sentence` is in `passage`, else the reasons, joined by '; '."""
    problems = check(sentence, passage, n, known)
    return "; ".join(p.reason for p in problems) or None
