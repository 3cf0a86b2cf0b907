"""Synonym rules as an administrator writes them, one a line (the Solr synonyms format):

    挂号费, 诊查费                 two-way: a question with either term also means the others
    ATM card, cash card => debit card   one-way: a question's "ATM card" also means "debit card"
    # a comment (a '#' at the start of a line or after white space: "C#, C sharp" is a rule)

Terms are matched in questions as whole words (English, any case) or as written (Chinese). The text is
the KB's administrator's, but it arrives over HTTP too: it is bounded in size, rules and term length,
and an error names its line and what to write instead."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property

# Bounds on one KB's list: a glossary of a few thousand entries fits; matching stays one regex pass.
MAX_BYTES = 256 * 1024
MAX_RULES = 5000
MAX_TERMS = 20        # terms in one rule
MAX_TERM_CHARS = 50   # a term is a word or a short phrase, not a sentence
_SPACES = re.compile(r"\s+")
# a comment starts with '#' at the start of a line or after white space: "C#" and "F#" are terms
_COMMENT = re.compile(r"(?:^|(?<=\s))#")


class SynonymError(ValueError):
    """A synonym list that cannot be used; the message names the line and the fix."""


@dataclass(frozen=True)
class Rule:
    """`terms` mean `means` too; two-way rules have `means == terms` (every term means the others).
    `as_written`: its canonical term (`means[0]`) is written as it is, not in simplified characters: the
    documents write it so (rag.synonyms.kb reads a rule in a KB's own characters; an administrator's rules are
    never so)."""
    terms: tuple[str, ...]
    means: tuple[str, ...]
    as_written: bool = False

    @property
    def two_way(self) -> bool:
        return self.terms == self.means

    def line(self) -> str:
        # a term meaning only itself ("其他行业 => 其他行业": keeps a shorter term from being read inside it) keeps
        # its arrow: alone on its line it would be refused
        if self.two_way and len(self.terms) > 1:
            return ", ".join(self.terms)
        return f"{', '.join(self.terms)} => {', '.join(self.means)}"


@dataclass(frozen=True)
class Synonyms:
    rules: tuple[Rule, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules)

    def text(self) -> str:
        return "".join(r.line() + "\n" for r in self.rules)

    def as_dicts(self) -> list[dict[str, list[str]]]:
        """The rules as stored and served: [{"terms": [...], "means": [...]}, ...]."""
        return [{"terms": list(r.terms), "means": list(r.means)} | ({"as_written": True} if r.as_written else {})
                for r in self.rules]

    def to_json(self) -> str:
        return json.dumps(self.as_dicts(), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Synonyms:
        return cls(tuple(Rule(tuple(r["terms"]), tuple(r["means"]), bool(r.get("as_written")))
                         for r in json.loads(raw)))

    @cached_property
    def digest(self) -> str:
        """A short hash of the rules ("" for none): answers cached under other rules are not served. Worked
        out once: quote matching reads it for every passage it compares (the caches of rag.answering are
        keyed by it), and 5,000 rules take tens of milliseconds to hash."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12] if self.rules else ""

    def __hash__(self) -> int:
        # by the digest rather than by every term of every rule: the matcher's cache hashes it at each lookup
        return hash(self.digest)


def _terms(part: str, lineno: int) -> tuple[str, ...]:
    terms = []
    for raw in re.split(r"[,，、]", part):
        term = _SPACES.sub(" ", raw).strip()
        if not term:
            continue
        if len(term) > MAX_TERM_CHARS:
            raise SynonymError(f"line {lineno}: the term {term[:20]!r}... is {len(term)} characters long; a term "
                               f"is a word or short phrase of at most {MAX_TERM_CHARS}")
        if not re.search(r"\w", term):
            raise SynonymError(f"line {lineno}: {term!r} holds no letter, digit or Chinese character")
        if term.casefold() not in {t.casefold() for t in terms}:
            terms.append(term)
    return tuple(terms)


def parse(text: str) -> Synonyms:
    """The rules of `text` (see the module's docstring); SynonymError names the first bad line."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise SynonymError(f"the synonym list is {len(text.encode('utf-8', 'replace')) // 1024} KB; at most "
                           f"{MAX_BYTES // 1024} KB are taken: keep the terms your readers actually use")
    # a byte order mark (Windows Notepad writes one at the start of a UTF-8 file) is no part of a term
    text = text.replace("\ufeff", "")
    rules: list[Rule] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = _COMMENT.split(line, 1)[0].strip()
        if not line:
            continue
        if len(rules) == MAX_RULES:
            raise SynonymError(f"line {lineno}: more than {MAX_RULES} rules; keep the terms your readers actually use")
        if line.count("=>") > 1:
            raise SynonymError(f"line {lineno}: more than one '=>'; write 'a, b => c' (a and b also mean c)")
        left, arrow, right = line.partition("=>")
        terms = _terms(left, lineno)
        means = _terms(right, lineno) if arrow else terms
        if arrow and not (terms and means):
            raise SynonymError(f"line {lineno}: '=>' needs terms on both sides: 'ATM card => debit card'")
        if not arrow and len(terms) < 2:
            raise SynonymError(f"line {lineno}: one term alone means nothing; write 'a, b' (a and b mean the same) "
                               "or 'a => b' (a also means b)")
        if len(terms) > MAX_TERMS or len(means) > MAX_TERMS:
            raise SynonymError(f"line {lineno}: more than {MAX_TERMS} terms in one rule; split it")
        rules.append(Rule(terms, means))
    return Synonyms(tuple(rules))
