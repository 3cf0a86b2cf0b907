"""The wrong end of a range: "Unsecured personal loans are available from $2,000 to $50,000" backs the
number in "The maximum amount for a personal loan is $2,000", which is still wrong. A sentence speaking
of a maximum ("maximum", "up to", "at most", 最高, 最多, 上限 ...) that states a range's lower end and not
its upper one, or of a minimum that states the upper end and not the lower, is reported by
rag.answering.verify.

Ranges are two numbers of one kind joined by "to", "through", a dash, 至, 到 or a tilde ("between X and
Y" too); a bare number before an amount or a duration takes its unit ("12 to 72 months").
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_JOIN = re.compile(r"\s*(?:to|through|-|–|—|至|到|~|～)\s*", re.IGNORECASE)
_BETWEEN = re.compile(r"\bbetween\s*$", re.IGNORECASE)
_AND = re.compile(r"\s*and\s*", re.IGNORECASE)
_MOST = re.compile(r"\b(?:maximum|max|most|up to|highest|largest|longest|limit)\b|最高|最多|上限|不超过|最大|最长", re.IGNORECASE)
_LEAST = re.compile(r"\b(?:minimum|min|least|lowest|smallest|shortest|at least)\b|最低|至少|最少|最小|最短", re.IGNORECASE)


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    kind: str
    text: str


def ranges(text: str, facts: Sequence) -> tuple[Range, ...]:
    """The ranges of `text` (normalised: rag.answering.verify.normalise), given its number facts (each
    with `kind`, `value`, `text` as written and, for a duration, `raw`)."""
    placed, cursor = [], {}
    for f in facts:
        at = text.find(f.text, cursor.get(f.text, 0))
        if at >= 0:
            cursor[f.text] = at + len(f.text)
            placed.append((at, at + len(f.text), f))
    placed.sort(key=lambda t: t[0])
    out = []
    for (s1, e1, a), (s2, e2, b) in zip(placed, placed[1:]):
        gap = text[e1:s2]
        if not (_JOIN.fullmatch(gap) or (_AND.fullmatch(gap) and _BETWEEN.search(text[:s1]))):
            continue
        if a.kind == b.kind and isinstance(a.value, float):
            low, high = a.value, b.value
        elif a.kind == "number" and b.kind in ("money", "percent", "duration"):
            scale = b.value / b.raw if b.kind == "duration" and b.raw else 1.0
            low, high = a.value * scale, b.value  # "12 to 72 months": 12 months
        else:
            continue
        if isinstance(high, float) and low < high:
            out.append(Range(low, high, b.kind, text[s1:e2]))
    return tuple(out)


def wrong_ends(sentence: str, facts: Sequence, found: Sequence[Range]) -> list[tuple[str, Range, str]]:
    """(the sentence's number as written, the passage's range, "most" | "least") for each number the
    sentence (its number facts: `facts`) gives as a maximum where the passage has it as the lower end of
    one of its ranges (`found`), or the reverse."""
    most, least = bool(_MOST.search(sentence)), bool(_LEAST.search(sentence))
    if most == least:
        return []
    out = []
    for r in found:
        values = {f.value for f in facts if f.kind == r.kind}
        wrong, right = (r.low, r.high) if most else (r.high, r.low)
        if wrong in values and right not in values:
            written = next(f.text for f in facts if f.kind == r.kind and f.value == wrong)
            out.append((written, r, "most" if most else "least"))
    return out
