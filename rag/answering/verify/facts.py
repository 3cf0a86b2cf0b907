"""The facts an answer sentence states and a passage must back: numbers with their units and kinds
(money, percent, time, date, duration, phone, number), found by regular expressions in both languages."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from indexer.script import CJK_RANGES
from rag.answering.markers import MARKER


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
        if self.kind == "phone" and len(self.value) <= 6:  # "拨打12378或12363": the passage's "投诉电话：12363"
            return {float(self.value)}
        return set()


# a column's currency in a table's header ("Price (CAD)", "Fee ($)", "价格（元）"; a name of CURRENCIES): the
# column's numbers are amounts (`money_header`, rag.answering.table_rows.row_kinds)
HEADER_CURRENCY = re.compile(r"[(（]\s*([A-Z]{3}|[A-Z]{0,2}\$|€|£|¥|[\u4e00-\u9fff]{1,4})\s*[)）]")

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
CURRENCIES = {"$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "美元": "USD",
               "美金": "USD", "us dollars": "USD", "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
               "欧元": "EUR", "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "英镑": "GBP",
               "hk$": "HKD", "hkd": "HKD", "港元": "HKD", "港币": "HKD", "日元": "JPY", "jpy": "JPY",
               "¥": "CNY", "rmb": "CNY", "cny": "CNY", "yuan": "CNY", "元": "CNY", "人民币": "CNY",
               "元人民币": "CNY", "块钱": "CNY",
               # other currencies a knowledge base may quote prices in (a Canadian school's "CAD 9.75")
               "cad": "CAD", "c$": "CAD", "加元": "CAD", "加币": "CAD", "aud": "AUD", "a$": "AUD", "澳元": "AUD",
               "nzd": "NZD", "nz$": "NZD", "sgd": "SGD", "s$": "SGD", "新加坡元": "SGD", "新元": "SGD",
               "chf": "CHF", "瑞士法郎": "CHF", "twd": "TWD", "nt$": "TWD", "新台币": "TWD", "mop": "MOP",
               "澳门元": "MOP", "澳门币": "MOP", "krw": "KRW", "韩元": "KRW", "inr": "INR"}
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

# a phone number stands apart from other numbers: not inside a word, a decimal, a time, a date or a longer
# group of digits (an account or card number written in groups of four)
_PHONE_START = r"(?<![A-Za-z0-9.,:/+-])(?<!\d\s)"
_PHONE_END = r"(?![A-Za-z0-9]|[-‐–.,:/]\d|\s\d)"

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

    # Chinese numbers first (their digits grouped by spaces as often as by hyphens): a mobile, a landline
    # with its area code, a 400/800 service line, each with or without +86 (its value without the country
    # code, so that "+86 571 8826 3399" backs "0571-8826 3399" as the facts check compares phone numbers
    # by their last digits)
    @add(_PHONE_START + r"(?:(\+\s?86|0086)[\s-]?)?(?:\(0\)\s?)?"
         r"(1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|[48]00[\s-]?\d{3}[\s-]?\d{4}"
         r"|\(0?\d{2,3}\)\s?(?:\d{7,8}|\d{3,4}[\s-]\d{4})|0?\d{2,3}[\s-]?(?:\d{7,8}|\d{3,4}[\s-]\d{4}))" + _PHONE_END)
    def zh_phone(m):
        digits = re.sub(r"\D", "", m.group(2))
        if not m.group(1) and not re.match(r"1[3-9]\d{9}$|[48]00\d{7}$|0\d{9,11}$", digits):
            return None  # without +86 a landline needs its 0: "310 1234 5678" is no phone number
        if m.group(1) and digits[0] not in "148":
            digits = "0" + digits.lstrip("0")  # +86 571 ... is 0571 ...
        return [Fact("phone", digits.lstrip("0") if m.group(1) else digits, text=m.group(0))]

    # a short service number a phone word names ("客服热线95588", "拨打12345", "call 95588")
    @add(r"(?:电话|热线|专线|拨打|致电|呼叫|客服|服务号码?|hotline|call|dial|phone)\s*(?:号码)?\s*(?:是|为)?\s*[:：]?\s*"
         r"(\d{5}|1[12]\d)(?![A-Za-z0-9%]|[-.,:/]\d|\s?\d|\s?(?:[年月日号元块次个位岁天周]|小时|分钟))",
         re.IGNORECASE)
    def service_phone(m):
        return [Fact("phone", m.group(1), text=m.group(1))]

    # North American "(503) 555-0177"
    @add(_PHONE_START + r"\(\d{3}\)\s?\d{3}[-‐–.\s]\d{4}" + _PHONE_END)
    def us_phone(m):
        return [Fact("phone", re.sub(r"\D", "", m.group(0)), text=m.group(0))]

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

    @add(rf"(US\$|HK\$|NZ\$|NT\$|C\$|A\$|S\$|\$|€|£|¥|(?:RMB|CNY|USD|EUR|GBP|HKD|JPY|CAD|AUD|NZD|SGD|CHF|TWD|MOP|KRW|INR"
         rf"|人民币)\s?)\s?({_NUM}){_MULT}")
    def money_prefix(m):
        v = _value(m.group(2), m.group(3))
        return [Fact("money", v, CURRENCIES[m.group(1).strip().lower()], m.group(0))]

    @add(rf"{_B}({_NUM}|{_ZHNUM}){_MULT}\s?(元人民币|美元|美金|欧元|英镑|港元|港币|日元|加元|加币|澳元|新加坡元|新元|瑞士法郎|新台币|澳门元|澳门币"
         r"|韩元|元|块钱|人民币)")
    def money_zh(m):
        v = _value(m.group(1), m.group(2))
        return [Fact("money", v, CURRENCIES[m.group(3)], m.group(0))] if v is not None else None

    @add(rf"{_B}({_NUM}){_MULT}\s?(US dollars|dollars?|euros?|pounds?|yuan|RMB|CNY|USD|EUR|GBP|HKD|CAD|AUD|NZD|SGD"
         r"|CHF|TWD|MOP|KRW|INR)\b",
         re.IGNORECASE)
    def money_words(m):
        return [Fact("money", _value(m.group(1), m.group(2)), CURRENCIES[m.group(3).lower()], m.group(0))]

    # a table row as a sentence, its column's currency in the header: "Price (CAD): 9.75", "价格（元）：260"
    @add(HEADER_CURRENCY.pattern + rf"\s*[:：]\s*({_NUM})(?!\d|\.\d)")
    def money_header(m):
        unit = CURRENCIES.get(m.group(1).lower())
        return [Fact("money", _value(m.group(2)), unit, m.group(0))] if unit else None

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
