"""Synonyms applied to a question: the terms it holds, what they also mean (`expansions`, for BM25),
the question in the documents' words (`rewrites`, for the closeness a quote must reach), and the question with each term written as its rule's first meaning (`as_canonical`, for matching a
quote's words: "挂号费" and "诊查费" become one word on both sides)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from rag.synonyms.rules import Synonyms

_ASCII_WORD = re.compile(r"[0-9A-Za-z]")


def _pattern(term: str) -> str:
    """`term` matched as written, with any white space between its words, and as a whole word where it
    starts or ends with a Latin letter ("card" not inside "cardiology"; "费" inside "挂号费用"), its plural
    too ("general adult ward" in "General adult wards")."""
    body = r"\s*".join(re.escape(w) for w in term.split())
    if _ASCII_WORD.match(term[0]):
        body = r"(?<![0-9A-Za-z])" + body
    if _ASCII_WORD.match(term[-1]):
        body += r"(?:e?s)?(?![0-9A-Za-z])" if term[-1].isalpha() else r"(?![0-9A-Za-z])"
    return body


@dataclass(frozen=True)
class Matcher:
    synonyms: Synonyms
    _regex: re.Pattern[str] | None = field(default=None, compare=False)
    _means: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    _canonical: dict[str, str] = field(default_factory=dict, compare=False)

    def _found(self, text: str) -> list[re.Match[str]]:
        return list(self._regex.finditer(text)) if self._regex is not None else []

    def expansions(self, text: str) -> list[str]:
        """The terms `text`'s synonyms also mean, each once, not those it holds itself."""
        found = self._found(text)
        held = {m.group(0).casefold() for m in found}
        out: list[str] = []
        for m in found:
            for t in self._means[m.group(0)]:
                if t.casefold() not in held and t not in out:
                    out.append(t)
        return out

    def rewrites(self, text: str, limit: int = 4) -> list[str]:
        """`text` with one of its terms written as one of its meanings, each way once, at most `limit`:
        the question as the documents would ask it ("挂号费多少" -> "诊查费多少")."""
        out: list[str] = []
        for m in self._found(text):
            for t in self._means[m.group(0)]:
                if len(out) == limit:
                    return out
                if (r := text[:m.start()] + t + text[m.end():]) not in out:
                    out.append(r)
        return out

    def as_canonical(self, text: str) -> str:
        """`text` with each term written as its rule's canonical term: a two-way rule's first term, a
        one-way rule's first meaning (the first rule naming a term decides)."""
        if self._regex is None:
            return text
        return self._regex.sub(lambda m: self._canonical[m.group(0)], text)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


@lru_cache(maxsize=64)
def matcher(synonyms: Synonyms) -> Matcher:
    """One compiled matcher per rule set (a KB's rules are read at every request)."""
    means: dict[str, list[str]] = {}
    canonical: dict[str, str] = {}
    for rule in synonyms.rules:
        for term in rule.terms:
            canonical.setdefault(_key(term), rule.means[0])
            for t in rule.means:
                if _key(t) != _key(term) and t not in means.setdefault(_key(term), []):
                    means[_key(term)].append(t)
            means.setdefault(_key(term), [])
    terms = sorted(means, key=len, reverse=True)  # the longest term wins: "debit card fee" before "debit card"
    if not terms:
        return Matcher(synonyms)
    regex = re.compile("|".join(_pattern(t) for t in terms), re.IGNORECASE)
    # a match is looked up by its text with white space as the rule writes it
    return Matcher(synonyms, regex, _Lookup({t: tuple(m) for t, m in means.items()}), _Lookup(canonical))


class _Lookup(dict):
    """{term: value} looked up by a match's text, whatever its case and white space, plural or not."""

    def __getitem__(self, key: str):
        key = _key(key)
        for k in (key, key[:-1], key[:-2]):  # "wards" -> "ward", "branches" -> "branch"
            if k in self:
                return super().__getitem__(k)
        raise KeyError(key)
