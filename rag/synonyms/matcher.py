"""Synonyms applied to a question: the terms it holds, what they also mean (`expansions`, for BM25),
the question in the documents' words (`rewrites`, for the closeness a quote must reach), and the question
with each term written as its canonical term (`as_canonical`, for matching a quote's words: "挂号费" and
"诊查费" become one word on both sides).

The terms are matched by one regex built as a trie (terms sharing a beginning share its branch), so a
text is read in one pass whatever the number of rules, where an alternation of the terms tries each of
them at every position (passages are matched too, several times an answer)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from re import _compiler  # re.compile without its module cache (see matcher)

from indexer.script import simplified, simplified_chars
from rag.synonyms.rules import Synonyms

_ASCII_WORD = re.compile(r"[0-9a-z]")
# full-width ASCII (ＡＴＭ, １２) and the ideographic space read as ASCII, as the answer cache reads them: one
# character for one, so a match's place in the folded text is its place in the text
_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def _fold(text: str) -> str:
    """`text` in lower case with full-width ASCII as ASCII and traditional Chinese characters as simplified ones,
    character for character: a rule in either script is found in a text in either (診查費 as 诊查费)."""
    text = text.translate(_WIDTH)
    out = text.lower()
    if len(out) != len(text):  # a letter whose lower case is two characters ("İ"): kept as it is
        out = "".join(c if len(low := c.lower()) != 1 else low for c in text)
    return simplified_chars(out)


def _key(text: str) -> str:
    """A term or a match as looked up: folded, white space left out ("debit card" matches "debitcard")."""
    return "".join(_fold(text).split())


def _end(last: str) -> str:
    """What must follow a term ending with `last`: a whole word where it ends with a Latin letter or a
    digit ("card" not inside "cardiology"; "费" inside "挂号费用"), a plural allowed after a letter ("general
    adult ward" in "General adult wards")."""
    if not _ASCII_WORD.match(last):
        return ""
    return r"(?:e?s)?(?![0-9a-z])" if last.isalpha() else r"(?![0-9a-z])"


def _trie(terms: list[str]) -> str:
    """One pattern matching each of `terms` (folded, words separated by one space, which matches any white
    space or none), the longest first where several begin at one place."""
    root: dict = {}
    for term in terms:
        node = root
        for c in term:
            node = node.setdefault(c, {})
        node[""] = True

    def emit(node: dict, last: str) -> str:
        # children before the end: the longer term is tried first ("debit card fee" before "debit card")
        alts = [(r"\s*" if c == " " else re.escape(c)) + emit(node[c], c) for c in sorted(k for k in node if k)]
        if "" in node:
            alts.append(_end(last))
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    latin = {c: n for c, n in root.items() if _ASCII_WORD.match(c)}
    other = {c: n for c, n in root.items() if c not in latin}
    parts = []
    if latin:
        parts.append(r"(?<![0-9a-z])" + emit(latin, ""))  # a whole word where it starts with a Latin letter
    if other:
        parts.append(emit(other, ""))
    return "|".join(parts)


@dataclass(frozen=True)
class Matcher:
    synonyms: Synonyms
    _regex: re.Pattern[str] | None = field(default=None, compare=False)
    _means: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    _canonical: dict[str, str] = field(default_factory=dict, compare=False)

    def _found(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, the term's key) of each term in `text`."""
        if self._regex is None:
            return []
        return [(m.start(), m.end(), _term(self._means, m.group(0))) for m in self._regex.finditer(_fold(text))]

    def expansions(self, text: str) -> list[str]:
        """The terms `text`'s synonyms also mean, each once, not those it holds itself."""
        found = self._found(text)
        held = {term for _, _, term in found}
        out: list[str] = []
        for _, _, term in found:
            for t in self._means[term]:
                if _key(t) not in held and t not in out:
                    out.append(t)
        return out

    def rewrites(self, text: str, limit: int = 4) -> list[str]:
        """`text` with one of its terms written as one of its meanings, each way once, at most `limit`:
        the question as the documents would ask it ("挂号费多少" -> "诊查费多少")."""
        out: list[str] = []
        for start, end, term in self._found(text):
            for t in self._means[term]:
                if len(out) == limit:
                    return out
                if (r := text[:start] + t + text[end:]) not in out:
                    out.append(r)
        return out

    def as_canonical(self, text: str) -> str:
        """`text` with each term written as its canonical term: a two-way rule's first term, a one-way
        rule's first meaning (the first rule naming a term decides), followed through other rules to the
        end ("A&E => ER" and "ER => emergency department": all three read as "emergency department")."""
        found = self._found(text)
        if not found:
            return text
        parts, at = [], 0
        for start, end, term in found:
            parts += [text[at:start], self._canonical[term]]
            at = end
        return "".join(parts) + text[at:]


def documents_words(question: str, synonyms: Synonyms) -> str | None:
    """The question with each term written as its canonical term, the documents' word where the rules were
    led by one (rag.synonyms.kb.documents_first: "挂号费多少" -> "诊查费多少", "where do I go for A&E" -> "where
    do I go for emergency department"), for the dense retriever; None when no rule changes a word of it (a
    question in the documents' own words, or one holding no term)."""
    worded = matcher(synonyms).as_canonical(question)
    return None if _key(worded) == _key(question) else worded


def _term(keys, matched: str) -> str:
    """The key of the term a match is, whatever its case and white space, plural or not."""
    key = _key(matched)
    # "wards" -> "ward", "branches" -> "branch", "policies" -> "policy", and "policy" -> a term "policies"
    for k in (key, key[:-1], key[:-2], *_other_number(key)):
        if k in keys:
            return k
    raise KeyError(matched)


_CONSONANT_Y = re.compile(r"[b-df-hj-np-tv-z]y$")
_CONSONANT_IES = re.compile(r"[b-df-hj-np-tv-z]ies$")


def _other_number(term: str) -> tuple[str, ...]:
    """The other spelling of a term ending in a consonant and "y" or "ies", which adding "s" or "es" does not
    give: "policy" and "policies" (a vowel before the "y" takes an "s": "days", "keys")."""
    if _CONSONANT_Y.search(term):
        return (term[:-1] + "ies",)
    if _CONSONANT_IES.search(term):
        return (term[:-3] + "y",)
    return ()


def _canonical(first: dict[str, str]) -> dict[str, str]:
    """Each term's canonical term: its first rule's, then that term's, and so on until a term is its own or
    a cycle is met ("a => b" and "b => a"), where the cycle's first term in key order is taken, so every
    term of a cycle reads as the same one and a question and a passage always meet."""
    out: dict[str, str] = {}
    for key in first:
        path = [key]
        while (nxt := _key(first[path[-1]])) in first and nxt not in path:
            path.append(nxt)
        if nxt in path and nxt != path[-1]:  # a cycle: every term of it reads as its least key's term
            cycle = path[path.index(nxt):]
            out[key] = next(first[k] for k in cycle if _key(first[k]) == min(cycle))
        else:
            out[key] = first[path[-1]]
    return out


@lru_cache(maxsize=65536)
def _same(term: str) -> str:
    """What a term is in either script: its key in simplified characters."""
    return _key(simplified(term))


def _scripts(terms: tuple[str, ...]) -> list[str]:
    """`terms`, each followed by its simplified-character form where that differs ("掛號費", "挂号费"): a
    rule written in either script meets questions and documents in the other."""
    return list(dict.fromkeys(f for t in terms for f in (t, simplified(t))))


@lru_cache(maxsize=64)
def matcher(synonyms: Synonyms) -> Matcher:
    """One compiled matcher per rule set (a KB's rules are read at every request)."""
    means: dict[str, list[str]] = {}
    first: dict[str, str] = {}
    spaced: set[str] = set()  # the terms as the regex reads them
    for rule in synonyms.rules:
        meant = _scripts(rule.means)
        for term in _scripts(rule.terms):
            spaced.add(folded := " ".join(_fold(term).split()))
            spaced.update(_other_number(folded))  # "policy" is found in "policies" too, and the reverse
            k = _key(term)
            # in one script: simplified, or the documents' own where they write it in traditional characters (a
            # simplified word inside a traditional passage would be cut into other words: "陪护證遺失" as 陪护 證遺失)
            first.setdefault(k, rule.means[0] if rule.as_written else simplified(rule.means[0]))
            for t in meant:
                if _same(t) != _same(term) and t not in means.setdefault(k, []):
                    means[k].append(t)
            means.setdefault(k, [])
    if not means:
        return Matcher(synonyms)
    # compiled outside re's module cache, which keeps its last 512 patterns: a list's regex (megabytes for
    # thousands of rules) would outlive this cache's 64 by every list an administrator saves meanwhile
    regex = _compiler.compile(_trie(sorted(spaced)), 0)
    return Matcher(synonyms, regex, {k: tuple(m) for k, m in means.items()}, _canonical(first))
