"""Is a key fact ("$25", "25 dollars", "手续费10元", "1-800-555-0199") in an answer? English and Chinese.

Both texts are normalised first: NFKC (full-width digits, letters and signs become ASCII: "２５元" = "25元",
"￥" = "¥"), lower case, citation markers out, whitespace collapsed. Then a fact is present when
* every quantity of it is in the answer as a number: "1,500" = "1500" = "1500.00", "5万元" = "50,000元";
  a currency or percent named on both sides must agree ("$25" = "25 dollars" = "USD 25", not "25元"), one
  named on one side only is not held against it; a number joined by dashes or slashes (a phone number, a
  date) is compared by its digits ("+1 (302) 555-0188" is not joined: write it as the documents do);
  "9:00" is a time;
* every English content word of the rest is in the answer (a trailing plural "s" ignored), and every run of
  Chinese characters is in it, or, for a run of 4 or more, 3 in 4 of its character pairs (the wording of a
  long phrase may vary a little: "临时挂失有效期" in "临时挂失的有效期"; "客服热线" is not in "客服电话").
A fact is checked in the language it is written in: "24小时" is not found in "24-hour".
Currency and percent words are units of their quantity, not words to find.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from indexer.script import CJK_RANGES
from rag.answering.markers import MARKER

CURRENCIES = {
    "usd": ("us$", "$", "usd", "dollars", "dollar", "美元", "美金"),
    "hkd": ("hk$", "hkd", "港币", "港元"),
    "cny": ("¥", "rmb", "cny", "yuan", "元", "块", "人民币"),
    "eur": ("€", "eur", "euros", "euro", "欧元"),
    "gbp": ("£", "gbp", "pounds", "pound", "英镑"),
    "%": ("%", "percent", "per cent", "个百分点"),
}
_UNIT = {word: code for code, words in CURRENCIES.items() for word in words}
_UNITS = "|".join(re.escape(w) for w in sorted(_UNIT, key=len, reverse=True))
_MULTIPLIERS = {"万": 1e4, "亿": 1e8, "千": 1e3, "k": 1e3, "thousand": 1e3, "million": 1e6, "billion": 1e9}
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_ASCII_WORD_END = r"(?![a-z])"
# a currency before the number, the number, a multiplier, a unit after it
QUANTITY = re.compile(
    rf"(?:(?P<pre>{_UNITS})\s?)?(?P<num>{_NUMBER})(?:\s?(?P<mult>万|亿|千|k{_ASCII_WORD_END}|thousand|million|billion))?"
    rf"(?:\s?(?P<post>{_UNITS}){_ASCII_WORD_END})?")
JOINED = re.compile(r"\+?\d+(?:[-/]\d+)+")   # phone numbers, dates, account numbers: compared by their digits
LONG_NUMBER = re.compile(r"(?<![\d.,])\d{7,}(?![\d.,])")  # a phone or account number written without dashes
TIME = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_WORD = re.compile(r"[a-z][a-z'-]*")
_CJK_RUN = re.compile(rf"[{CJK_RANGES}]+")
STOPWORDS = {"a", "an", "the", "of", "to", "for", "in", "on", "at", "is", "are", "be", "by", "or", "and", "with",
             "your", "you", "it", "its", "this", "that", "per", "each", "as", "from", "can", "will", "must"}


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str = ""  # a CURRENCIES code, "" for none


@dataclass
class Content:
    """What a text says that a fact can be checked against."""
    text: str                       # normalised
    quantities: list[Quantity]      # numbers standing alone, with their units
    parts: set[float]               # the numbers inside phone numbers, dates and ranges ("17-24")
    digit_strings: set[str]         # phone numbers and dates, by their digits
    times: set[tuple[int, int]]
    words: set[str]                 # English content words, singular
    rest: str                       # the text with its numbers and units taken out


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")
    return " ".join(MARKER.sub(" ", text).lower().split())


def _stem(word: str) -> str:
    word = word.strip("'-")
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def read(text: str) -> Content:
    t = normalise(text)
    joined = JOINED.findall(t)
    rest = JOINED.sub(" ", t)
    times = {(int(h), int(m)) for h, m in TIME.findall(rest)}
    rest = TIME.sub(" ", rest)
    quantities = []
    for m in QUANTITY.finditer(rest):
        value = float(m.group("num").replace(",", "")) * _MULTIPLIERS.get(m.group("mult") or "", 1.0)
        unit = _UNIT.get(m.group("pre") or "") or _UNIT.get(m.group("post") or "") or ""
        quantities.append(Quantity(value, unit))
    rest = QUANTITY.sub(" ", rest)
    # currency words standing alone ("in dollars") are units, not words to look for
    rest = re.sub(rf"(?<![a-z])(?:{_UNITS}){_ASCII_WORD_END}", " ", rest)
    words = {_stem(w) for w in _WORD.findall(rest)} - STOPWORDS
    digit_strings = {re.sub(r"\D", "", j) for j in joined} | set(LONG_NUMBER.findall(t))
    return Content(t, quantities, {float(p) for j in joined for p in re.findall(r"\d+", j)}, digit_strings, times,
                   {w for w in words if w}, rest)


def missing_parts(fact: str, answer: Content) -> list[str]:
    """What of `fact` the answer does not have ([] = the fact is present)."""
    f = read(fact)
    missing: list[str] = []
    for s in f.digit_strings:  # "800-555-0199" is in "1-800-555-0199"
        if not any(a.endswith(s) for a in answer.digit_strings):
            missing.append(s)
    missing += [f"{h}:{m:02d}" for h, m in sorted(f.times - answer.times)]
    for q in f.quantities:
        if any(_same(q, a) for a in answer.quantities) or q.value in answer.parts:
            continue
        digits = f"{q.value:.0f}" if q.value.is_integer() else ""
        if len(digits) >= 7 and any(a.endswith(digits) for a in answer.digit_strings):
            continue  # "4001069588" written as "400-106-9588"
        missing.append(f"{q.value:.15g}" + (f" {q.unit}" if q.unit else ""))
    missing += sorted(f.words - answer.words)
    plain = answer.text.replace(" ", "")
    for run in _CJK_RUN.findall(f.rest):
        if run in plain or (len(run) >= 4 and _pairs_found(run, plain) >= 0.75):
            continue
        missing.append(run)
    return list(dict.fromkeys(missing))


def _same(fact: Quantity, answer: Quantity) -> bool:
    if abs(fact.value - answer.value) > 1e-9 * max(1.0, abs(fact.value)):
        return False
    return not fact.unit or not answer.unit or fact.unit == answer.unit


def _pairs_found(run: str, text: str) -> float:
    pairs = [run[i:i + 2] for i in range(len(run) - 1)]
    return sum(p in text for p in pairs) / len(pairs)


def missing_facts(facts: list[str] | tuple[str, ...], answer: str) -> list[str]:
    """The facts the answer lacks, as written in the questions file."""
    content = read(answer)
    return [fact for fact in facts if missing_parts(fact, content)]


def quantities_of(text: str) -> list[str]:
    """The amounts, numbers, times, phone numbers and dates written in `text`, as written (the facts of an
    expected answer that gives no key facts)."""
    t = unicodedata.normalize("NFKC", text or "")
    spans = [m.group().strip() for m in JOINED.finditer(t)]
    t = JOINED.sub(" ", t)
    spans += [m.group() for m in TIME.finditer(t)]
    t = TIME.sub(" ", t)
    spans += [m.group().strip() for m in QUANTITY.finditer(t.lower())]
    return list(dict.fromkeys(s for s in spans if s))
