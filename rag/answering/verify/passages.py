"""A passage parsed once for every check of the answers that cite it: its facts, words and sentences."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from indexer.tokenize import tokenize
from rag.answering.verify.facts import CURRENCIES, Fact, normalise, number_facts
from rag.answering.verify.names import compact_form, name_words
from rag.answering.verify.negation import Clause, parse_clause


@dataclass
class ParsedSentence:
    clause: Clause
    context: set[str]   # tokens of its block's first line and of the heading above it


@dataclass
class ParsedPassage:
    text: str
    facts: list[Fact]
    numbers: set[float]
    currencies: set[str]
    has_percent: bool
    words: list[str]          # for English names
    sentences: list[ParsedSentence]
    compact: str              # `compact_form`: for commands, paths, file names and Chinese names
    word_set: frozenset[str]  # `words`, for single-word names


_HEADING = re.compile(r"^\s*(?:#{1,6}\s+|\d+\.\s+[A-Z]|[一二三四五六七八九十]+、)")


# a parsed passage holds ~100 KB (parsing one takes 2-7 ms): 128 cover the passages and the 'known'
# texts of ~16 answers at once; 512 held ~52 MB
@lru_cache(maxsize=128)
def parse_passage(text: str) -> ParsedPassage:
    from indexer.chunk import split_sentences as chunk_sentences
    from rag.text import join_wrapped_lines

    facts = number_facts(text)
    numbers = {v for f in facts for v in f.numbers()}
    norm = normalise(text)
    currencies = {f.unit for f in facts if f.kind == "money"}
    for word, cur in CURRENCIES.items():
        if re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", norm, re.IGNORECASE):
            currencies.add(cur)
    sentences: list[ParsedSentence] = []
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
                sentences.append(ParsedSentence(parse_clause(s), ctx))
    words = name_words(norm)
    return ParsedPassage(text, facts, numbers, currencies, bool(re.search(r"%|percent|百分", norm, re.IGNORECASE)),
                    words, sentences, compact_form(text), frozenset(words))
