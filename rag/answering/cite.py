"""Citations in generated answers: parse the [n] markers, check each against its passage, renumber.

A passage SUPPORTS a sentence when at least `min_overlap` (default 0.3) of the sentence's content
tokens (indexer.tokenize.tokenize: stemmed English words without stop words, jieba words for
Chinese) occur in the passage. Then, per sentence:

  * a cited passage that does not support it is dropped (reported in `dropped`), as is a marker
    pointing at no passage ([7] with five passages);
  * a sentence left without a citation gets the best-supporting passage attached, if one passes
    the same test (not for "not in the knowledge base" sentences, nor for very short ones);
  * markers are rewritten as [1][2] ..., numbered by first appearance in the answer.

A sentence and a passage in different scripts (a Chinese answer over English documents) share no
words; with `cross` (rag.answering.cite_semantic) they are judged by the KB's multilingual encoder instead.

A passage that passes that test must also back the sentence's facts (rag.answering.verify: numbers
with their units, times, dates, amounts, percentages, negation, names). A sentence whose facts are in
no single passage but in its cited (or best-matching) passages together keeps them all; one that a
matching passage contradicts and that no passage backs is taken out of the answer. Every rejected
citation is reported in `dropped`, with the sentence, the reason and what became of the sentence.

Accepted marker forms: [1], [1][2], [1, 2], [1,2,3], [1-3], 【1】, ［1］, [1，2], [1、2].
For streaming, collect the raw pieces and cite the joined text at the end (StreamCiter).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from indexer.chunk import period_continues
from indexer.script import cross_script, is_cjk
from indexer.tokenize import tokenize
from rag.answering.cite_semantic import CrossLingualSupport
from rag.answering.markers import MARKER, MARKER_GROUP
from rag.answering.quote_pages import AnswerPages
from rag.answering.table_rows import free_row, other_row, subject_elsewhere
from rag.answering.types import Citation
from rag.answering.verify import NO_DENIAL, contested, number_facts, verify
from rag.answering.verify import check as check_facts
from rag.text import goes_on, prose_sentences
from rag.types import Hit

# a sentence ends after terminal punctuation (+ closing quotes/brackets, + citation markers) that is
# followed by white space or the end (ASCII), or right after CJK terminal punctuation; or at a newline
_END = re.compile(rf"(?:[.!?]+|[。！？!?]+)[\"'”’)」』）]*(?:[ \t]*{MARKER.pattern})*")
_CJK_END = set("。！？")
_TRAIL = re.compile(r"[\s.!?。！？,，;；:：\"'”’)」』）]*$")

# "... but it does not contain the answer to the question [1]": a sentence saying the passages hold no
# answer. It cites nothing (a passage cannot back its own silence), whatever marker the model wrote.
_NO_ANSWER = (r"(?:does|do|did)(?:n't| not) (?:contain|provide|include|give|mention) (?:the |an |any )?"
              r"(?:answer|information (?:about|on|regarding))"
              r"|(?:passages?|knowledge base) (?:does|do)(?:n't| not) (?:contain|mention|say|cover|include)")
NO_ANSWER = re.compile(_NO_ANSWER + r"|not (?:in|found in|mentioned in) the (?:knowledge base|passages)"
                       r"|知识库中?(?:没有|未|并未)", re.IGNORECASE)
# a sentence about the passages themselves: "The passage you provided is about personal loans", 这段文字是关于…
META = re.compile(r"^\W*(?:the|this|these) (?:passages?|texts?|documents?|context)(?: (?:that )?(?:you )?(?:provided|"
                  r"gave|given|shown))? (?:is|are) (?:about|related to|talking about|discussing)"
                  r"|^\W*(?:这段|该段|这些|以上)(?:文字|内容|段落|文本|资料|材料)(?:是关于|讲的是|主要(?:介绍|讲))", re.IGNORECASE)
REFUSAL = re.compile(
    r"not (?:in|found in|contained in|covered (?:by|in)|mentioned in) the (?:knowledge base|passages|provided)"
    r"|(?:could|can)(?:not|n't| not) (?:find|answer)|no (?:relevant )?information|" + _NO_ANSWER +
    r"|知识库中?(?:没有|未|并未|不)|(?:没有|未|无法)(?:找到|提供|提及)|没有相关",
    re.IGNORECASE)


def is_refusal(text: str) -> bool:
    """The answer (or sentence) says the knowledge base does not have the answer."""
    return bool(REFUSAL.search(text))


def parse_marker(body: str) -> list[int]:
    """'1, 2' -> [1, 2]; '1-3' -> [1, 2, 3] (ranges up to 20 long)."""
    out: list[int] = []
    for part in re.split(r"\s*[,，、;；]\s*", body.strip()):
        m = re.fullmatch(r"(\d+)\s*[-–~]\s*(\d+)", part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            nums = list(range(a, b + 1)) if 0 <= b - a < 20 else [a, b]
        else:
            nums = [int(part)] if part.isdigit() else []
        out.extend(n for n in nums if n not in out)
    return out


def parse_citations(text: str) -> list[int]:
    """All cited numbers in order of first appearance."""
    out: list[int] = []
    for m in MARKER.finditer(text):
        out.extend(n for n in parse_marker(m.group(1)) if n not in out)
    return out


_MARKED = re.compile(r"\[\d{1,3}\]$")  # a citation marker before a period: the cited sentence ends there


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans covering `text`; markers right after a sentence's end belong to it."""
    spans, start = [], 0
    cuts = set()
    last = 0  # the last cut before this end mark
    for m in _END.finditer(text):
        end = m.end()
        if m.group(0) == "." and period_continues(text, m.start(), end) and not _MARKED.search(text, 0, m.start()):
            continue  # "9:00 a.m. to 5 p.m.", as the chunker; but "... [1]. apt-get, the tool ..." ends at the marker
        if m.group(0)[:1] in "!?！？" and "[" not in m.group(0) and goes_on(text[last:end], text[end:].lstrip()):
            continue  # a question named inside the sentence ("(see “What is a control file?”) that comes ..."): as quoted
        if any(c in _CJK_END for c in m.group(0)) or end == len(text) or text[end].isspace():
            cuts.add(end)
            last = end
    cuts.update(m.end() for m in re.finditer(r"\n+", text))
    for cut in sorted(cuts):
        if cut > start:
            spans.append((start, cut))
            start = cut
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def content_tokens(text: str) -> set[str]:
    return set(tokenize(MARKER.sub(" ", text)))


def support(sentence_tokens: set[str], passage_tokens: set[str]) -> float:
    """Share of the sentence's content tokens found in the passage (0 when it has none)."""
    if not sentence_tokens:
        return 0.0
    return len(sentence_tokens & passage_tokens) / len(sentence_tokens)


def _fact_keys(text: str) -> set[tuple]:
    """The facts of `text` as comparable keys: (kind, value, unit), and ("n", value) for each plain value a
    bare number may stand for (an answer's "3000" is the passage's "3000元")."""
    keys: set[tuple] = set()
    for f in number_facts(text):
        keys.add((f.kind, f.value, f.unit))
        keys.update(("n", v) for v in f.numbers())
    return keys


def _facts_held(facts: list, keys: set[tuple]) -> int:
    """How many of the answer sentence's facts a passage sentence with these keys states."""
    return sum((f.kind, f.value, f.unit) in keys or (f.kind == "number" and any(("n", v) in keys for v in f.numbers()))
               for f in facts)


def best_quote(passage: str, sentence_tokens: set[str], limit: int = 300, sentence: str = "") -> str:
    """The passage sentence that backs the citing `sentence` best: the one stating most of its facts
    (numbers, amounts, times, phone numbers: "押金3000元" over the passage's first sentence, which shares
    more words), then the one sharing the most content tokens; lines wrapped by a PDF or text layout are
    joined back, so the quote is the whole sentence."""
    facts = number_facts(sentence) if sentence else []
    best, best_key = "", (-1, -1, 0)
    for sent in prose_sentences(passage):
        held = _facts_held(facts, _fact_keys(sent)) if facts else 0
        key = (held, len(content_tokens(sent) & sentence_tokens), -len(sent))
        if key > best_key:
            best, best_key = sent, key
    return shorten_quote(" ".join(best.split()), limit)


def shorten_quote(quote: str, limit: int) -> str:
    """`quote`, or its first `limit` characters with "…" when longer: cut between words (never inside "p.m."
    or a number), or anywhere in Chinese text."""
    if len(quote) <= limit:
        return quote
    cut = quote[:limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2 and not is_cjk(quote):
        cut = cut[:space]
    return cut.rstrip(" ,;:，；：") + "…"


@dataclass
class CitedText:
    answer: str                                                # markers renumbered [1], [2], ...
    citations: list[Citation] = field(default_factory=list)   # supported, ordered by n
    dropped: list[Citation] = field(default_factory=list)     # rejected markers (supported=False), with reasons
    # passages that said the opposite of a negation taken out of the answer (verify.contested): the
    # passages an extract should quote first
    contesting: list[Hit] = field(default_factory=list)
    # the answer's opening statement was taken out for a fact the passages do not back ("No, the
    # Quayside branch is not open on Saturday."): what follows it was written to support it
    opening_removed: bool = False


@dataclass
class _Sentence:
    start: int
    end: int
    text: str
    tokens: set[str]
    cited: list[int]          # passage numbers as written
    kept: list[int] = field(default_factory=list)
    scores: dict[int, float] = field(default_factory=dict)
    quotes: dict[int, str] = field(default_factory=dict)  # passage n -> its best sentence (cross-script)
    dropped: list[Citation] = field(default_factory=list)
    contradicted: bool = False  # a passage it matches disagrees with one of its facts: taken out of the answer

    @property
    def bare(self) -> str:
        """The sentence without its citation markers (what the table-row checks read)."""
        return MARKER.sub(" ", self.text)


def cite(answer: str, hits: Sequence[Hit], min_overlap: float = 0.3, attach: bool = True,
         min_attach_tokens: int = 3, cross: CrossLingualSupport | None = None, facts: bool = True,
         beyond: Sequence[Hit] = (), contest: bool = True, question: str = "") -> CitedText:
    """Verify and renumber the citations of `answer`, whose [n] refer to hits[n-1] (the prompt's
    passages, as returned by build_messages). `cross` (rag.answering.cite_semantic) judges a sentence and a
    passage written in different scripts (a Chinese answer over English documents), which share no
    words; without it such a pair is never supported.

    With `facts` (rag.answering.verify) a passage backs a sentence only if the sentence's numbers,
    times, dates, amounts, negations and names agree with it too. A sentence whose every cited (or,
    uncited, best-matching) passage disagrees with one of its facts, and that no other passage backs,
    is taken out of the answer; `dropped` says which and why.

    With `contest` (off for quotes: the documents' own words, which may state a rule in one passage and
    its exception in another, and list table rows alike but for their numbers, which are no listing
    loop of a model), a negation its passage backs is still refused when another passage, of
    the prompt or `beyond` it
    (retrieved passages that did not fit the prompt), says the opposite about the same thing more
    closely (rag.answering.verify.contested): "is not open on Sundays", backed by "Sunday: closed",
    against "It is our only branch open on Sundays" (passage [2]).

    With `question`, a sentence backed by a table row other than the one the question names is not
    backed by that passage (rag.answering.table_rows)."""
    passage_tokens = [set(tokenize(h.text)) for h in hits]
    texts = [h.text for h in hits]
    known = "\n\n".join(_with_title(h) for h in hits) if facts else ""  # names the generator was shown
    pool = [*hits, *beyond]
    elsewhere = [(f"passage [{j + 1}]", _with_title(h)) for j, h in enumerate(hits)] + \
        [(f"another passage of {_name(h)}", _with_title(h)) for h in beyond]
    contesting: list[Hit] = []
    sentences: list[_Sentence] = []
    pages = AnswerPages(hits)  # the citations' pages, each passage read once

    def check(s: _Sentence, i: int) -> tuple[bool, float, str, bool]:
        """(supported, score, reason, a fact disagrees) of passage i for sentence s; records the quote
        of a cross-script match."""
        if cross is not None and cross_script(s.text, hits[i].text):
            score, quote = cross.best(MARKER.sub(" ", s.text).strip(), hits[i].text)
            s.quotes[i + 1] = quote
            if score < cross.threshold:
                return False, score, (f"is not close enough in meaning to passage [{i + 1}] (similarity "
                                      f"{score:.2f}, needs {cross.threshold:.2f})"), False
        else:
            score = support(s.tokens, passage_tokens[i])
            if not (s.tokens and score >= min_overlap):
                return False, score, (f"shares {score:.0%} of its words with passage [{i + 1}] (needs "
                                      f"{min_overlap:.0%})"), False
        reason = verify(s.text, _with_title(hits[i]), i + 1, known) if facts else None
        if facts and reason is None and question:  # a table row other than the one the question names
            reason = other_row(s.bare, hits[i].text, i + 1, question) or \
                subject_elsewhere(s.bare, i, texts, question)
        if facts and reason is None:  # "no fee" for a thing its table row gives an amount
            reason = free_row(s.bare, hits[i].text, i + 1)
        if facts and contest and reason is None and len(elsewhere) > 1:
            problem = contested(s.text, _with_title(hits[i]), elsewhere[:i] + elsewhere[i + 1:])
            if problem:
                reason = problem.reason
                by = pool[[label for label, _ in elsewhere].index(problem.where)]
                if all(h.chunk_id != by.chunk_id for h in contesting):
                    contesting.append(by)
        return reason is None, score, reason or "", reason is not None

    for a, b in split_sentences(answer):
        text = answer[a:b]
        s = _Sentence(a, b, text, content_tokens(text), parse_citations(text))
        fact_failed: list[int] = []
        about_passages = False
        if s.cited and NO_ANSWER.search(text):
            s.dropped += [_unattached(text, n, "says the passages do not answer, which no passage can back")
                          for n in s.cited]
            s.cited = []
        elif META.search(text) and not is_refusal(text):
            # what the passages are, not what they say ("The passage you provided is about personal loans"):
            # removed, and attached to no passage
            s.dropped.append(_unattached(text, 0, "speaks of the passages, not of what was asked"))
            s.cited, fact_failed, about_passages = [], [0], True
        for n in s.cited:
            if not 1 <= n <= len(hits):
                s.dropped.append(_unattached(text, n, f"cites passage [{n}], which does not exist"))
                continue
            ok, score, reason, disagrees = check(s, n - 1)
            s.scores[n] = score
            if ok:
                s.kept.append(n)
            else:
                s.dropped.append(_citation(0, n, hits[n - 1], s, score, pages, supported=False, reason=reason))
                if disagrees:
                    fact_failed.append(n)
        if len(fact_failed) > 1 and not s.kept and _backed_together(s, [n - 1 for n in fact_failed], hits, known, question):
            # each fact is in one of the cited passages ("$25 [1] ... $45 [2]" in one sentence)
            s.kept = fact_failed
            s.dropped = [d for d in s.dropped if d.passage not in fact_failed]
            fact_failed = []
        if attach and not s.kept and not about_passages and len(s.tokens) >= min_attach_tokens \
                and not is_refusal(text) and hits:
            checked = [check(s, i) for i in range(len(hits))]
            passing = [i for i, (ok, *_) in enumerate(checked) if ok]
            if fact_failed:  # the cited passage contradicts it: one matching it less well cannot outvote it
                floor = max(s.scores.get(n, 0.0) for n in fact_failed)
                passing = [i for i in passing if checked[i][1] >= floor]
            if passing:
                # a same-script passage (word overlap) before a cross-script one (cosine: another scale)
                best = max(passing, key=lambda i: (not cross_script(s.text, hits[i].text), checked[i][1], -i))
                s.kept.append(best + 1)
                s.scores[best + 1] = checked[best][1]
            elif not fact_failed:
                # uncited, or cited passages that share too few words: the passages it matches, each
                # disagreeing with one of its facts, back it together, or the best-matching one does not
                against = sorted((i for i, (*_, disagrees) in enumerate(checked) if disagrees),
                                 key=lambda i: (-checked[i][1], i))
                together = next((against[:k] for k in range(2, len(against) + 1)
                                 if _backed_together(s, against[:k], hits, known, question)), None)
                if together:  # the fewest best-matching passages that back it
                    for i in together:
                        s.kept.append(i + 1)
                        s.scores[i + 1] = checked[i][1]
                elif against:
                    i = against[0]
                    s.dropped.append(_citation(0, i + 1, hits[i], s, checked[i][1], pages, supported=False,
                                               reason=checked[i][2]))
                    fact_failed.append(i + 1)
                elif facts and (unbacked := check_facts(s.text, known)):
                    # about no passage, and stating a number, name or command none of them has: a claim
                    # from nowhere ("run `sudo apt-get install -y foo`"), not a harmless connecting line
                    s.dropped.append(_unattached(text, 0, _nowhere(unbacked)))
                    fact_failed.append(0)
        s.contradicted = bool(fact_failed) and not s.kept
        outcome = "kept" if s.kept else "removed" if s.contradicted else "uncited"
        for d in s.dropped:
            d.outcome = outcome
        sentences.append(s)
    _drop_bare_verdicts(sentences)
    if contest:  # a model's listing loop; a quote's rows alike but for their numbers are the documents' own
        _drop_value_loops(sentences)

    # renumber by first appearance; one Citation per passage, with its best-supported sentence
    number: dict[int, int] = {}
    best_of: dict[int, tuple[float, _Sentence]] = {}
    cited_by: dict[int, list[_Sentence]] = {}  # every sentence a citation backs: its pages are theirs
    for s in sentences:
        for n in s.kept:
            number.setdefault(n, len(number) + 1)
            cited_by.setdefault(n, []).append(s)
            if n not in best_of or s.scores[n] > best_of[n][0]:
                best_of[n] = (s.scores[n], s)
    citations = [_citation(number[n], n, hits[n - 1], best_of[n][1], best_of[n][0], pages, supported=True,
                           backed=cited_by[n]) for n in sorted(number, key=number.get)]
    text = "".join("" if s.contradicted else _rewrite(s, number) for s in sentences)
    text = _LEAD_IN.sub("", text, count=1)
    if any(s.contradicted for s in sentences):
        text = text.strip()
    removed = any(s.contradicted for s in sentences)
    opening = next((s for s in sentences if s.tokens and not _BARE_VERDICT.fullmatch(s.bare.strip())), None)
    return CitedText(answer=text, citations=citations, dropped=[d for s in sentences for d in s.dropped],
                     contesting=contesting if removed else [], opening_removed=bool(opening and opening.contradicted))


# A bare "No." / "Yes." carries the claim of the sentence after it: when the passages contradict that
# denial ("No. You cannot install Debian from the Internet." where the FAQ says you can), the "No." goes too.
_BARE_NO = re.compile(r"(?:the answer is\s+)?(?:no|nope)\s*[.!]?|(?:不|不是|不能|不可以|没有|否)\s*[。！.!]?", re.IGNORECASE)
_BARE_YES = re.compile(r"(?:the answer is\s+)?(?:yes|yep)\s*[.!]?|(?:是|是的|能|可以|有)\s*[。！.!]?", re.IGNORECASE)
_BARE_VERDICT = re.compile(f"{_BARE_NO.pattern}|{_BARE_YES.pattern}", re.IGNORECASE)


# a small model's opening words before the answer itself ("The answer is: No, there is no penalty ...");
# rag.generation.loops drops a line that holds nothing else
LEAD_IN = r"(?:(?:the )?answer(?: to (?:this|the|your) question)? is|here is the answer|answer)[ \t]*:|答案(?:是|如下)?[ \t]*[:：]"
_LEAD_IN = re.compile(rf"^\s*(?:{LEAD_IN})\s*", re.IGNORECASE)


def _unattached(sentence: str, passage: int, reason: str) -> Citation:
    """A dropped citation with no passage behind it (`passage`: the number the sentence wrote, or 0)."""
    return Citation(n=passage, doc_id="", chunk_id="", source="", quote="", supported=False, passage=passage,
                    sentence=sentence.strip(), reason=reason)


def _nowhere(problems: list) -> str:
    """The reason for an uncited sentence whose facts no passage shown has."""
    what = ", ".join(f"'{p.fact}'" for p in problems[:3])
    return f"is about no passage and states {what}, which no passage shown has"


def _drop_bare_verdicts(sentences: list[_Sentence]) -> None:
    removed = [d.reason for s in sentences if s.contradicted for d in s.dropped if d.reason.startswith("says '")]
    # a denial the passages contradict, or one they do not back; else an assertion they deny
    denial = any(" says it is " in r or NO_DENIAL in r for r in removed)
    assertion = any(" says it is " not in r and NO_DENIAL not in r for r in removed)
    for s in sentences:
        bare = MARKER.sub(" ", s.text).strip()
        if s.kept or not ((denial and _BARE_NO.fullmatch(bare)) or (assertion and _BARE_YES.fullmatch(bare))):
            continue
        s.contradicted = True
        s.dropped.append(Citation(n=0, doc_id="", chunk_id="", source="", quote="", supported=False,
                                  sentence=s.text.strip(), outcome="removed",
                                  reason=f"'{bare}' stands for a claim the passages contradict (removed with it)"))


# A small model that has run out of what the passages say goes on listing values in one sentence ("You
# can also avoid this fee by meeting the minimum balance of $300 or more.", then with $25, $500, $250):
# each number may stand somewhere in the cited passage (another row of its table), so each sentence
# passes the facts check alone. LOOP_MIN or more sentences alike but for their numbers (word-set
# Jaccard >= LOOP_SIMILARITY with the numbers masked, LOOP_MIN_WORDS words or more) are such a loop:
# the first stays, the others are removed. Two alike sentences stay ("The fee is $25 for domestic
# wires. The fee is $45 for international wires." is 0.75 alike, and only two).
LOOP_SIMILARITY = 0.75
LOOP_MIN = 3
LOOP_MIN_WORDS = 6
_NUMBER_RUN = re.compile(r"[$€£¥]?\d[\d,.:]*%?")
_SHAPE_WORD = re.compile(r"[^\W\d_]+|#|[\u4e00-\u9fff]")


def _shape(text: str) -> frozenset[str]:
    return frozenset(_SHAPE_WORD.findall(_NUMBER_RUN.sub(" # ", MARKER.sub(" ", text)).lower()))


def _alike_groups(texts: list[str]) -> list[list[int]]:
    """Indexes of the texts alike but for their numbers (each with a number and LOOP_MIN_WORDS+ words,
    word-shape Jaccard >= LOOP_SIMILARITY with one of the group), grouped in order."""
    groups: list[list[tuple[int, frozenset[str]]]] = []
    for i, text in enumerate(texts):
        if not _NUMBER_RUN.search(MARKER.sub(" ", text)):
            continue
        shape = _shape(text)
        if len(shape) < LOOP_MIN_WORDS:
            continue
        group = next((g for g in groups if any(len(shape & o) / len(shape | o) >= LOOP_SIMILARITY for _, o in g)), None)
        if group is None:
            groups.append([(i, shape)])
        else:
            group.append((i, shape))
    return [[i for i, _ in g] for g in groups]


def _drop_value_loops(sentences: list[_Sentence]) -> None:
    live = [s for s in sentences if not s.contradicted]
    for group in _alike_groups([s.text for s in live]):
        if len(group) < LOOP_MIN:
            continue
        members = [live[i] for i in group]
        first = MARKER.sub("", members[0].text).strip()
        first = first if len(first) <= 60 else first[:60].rstrip() + "…"
        for s in members[1:]:
            s.contradicted, s.kept = True, []
            s.dropped.append(Citation(n=0, doc_id="", chunk_id="", source="", quote="", supported=False,
                                      sentence=s.text.strip(), outcome="removed",
                                      reason=f"repeats '{first}' with other numbers ({len(group)} alike: "
                                             "a listing loop of the model, not a statement of the passages)"))
            for d in s.dropped:
                d.outcome = "removed"


def _loop_start(sentences: list[str]) -> int | None:
    """Index of the second sentence of the first group alike but for their numbers that is not (yet) a
    listing loop (fewer than LOOP_MIN); None when there is none."""
    starts = [g[1] for g in _alike_groups(sentences) if 2 <= len(g) < LOOP_MIN]
    return min(starts) if starts else None


def _backed_together(s: _Sentence, idx: list[int], hits: Sequence[Hit], known: str, question: str = "") -> bool:
    """Are the sentence's facts in these passages taken together (one fact from each), and none of them
    taken from a table row other than the one the question asks about?"""
    if verify(s.text, "\n\n".join(_with_title(hits[i]) for i in idx), known=known) is not None:
        return False
    return not (question and (any(other_row(s.bare, hits[i].text, i + 1, question) for i in idx)
                              or subject_elsewhere(s.bare, None, [hits[i].text for i in idx], question)))


def _name(hit: Hit) -> str:
    return (hit.source.replace("\\", "/").rsplit("/", 1)[-1] if hit.source else "") or hit.doc_id


def _with_title(hit: Hit) -> str:
    """The passage as the prompt shows it to the generator: its title (the document's name and section,
    rag.generation.prompt.format_passage), then its text."""
    return f"{hit.title}\n\n{hit.text}" if hit.title else hit.text


def _citation(final_n: int, n: int, hit: Hit, s: _Sentence, score: float, pages: AnswerPages, supported: bool,
              reason: str = "", backed: Sequence[_Sentence] = ()) -> Citation:
    """`backed`: every answer sentence the citation backs (`s`, the best, among them), for its pages."""
    quote = s.quotes.get(n) or best_quote(hit.text, s.tokens, sentence=s.bare)
    quotes = [quote] + [o.quotes.get(n) or best_quote(hit.text, o.tokens, sentence=o.bare)
                        for o in backed if o is not s and hit.page_breaks]  # one page: no need to look
    page, page_end = pages.cited(n, quotes)
    return Citation(n=final_n, doc_id=hit.doc_id, chunk_id=hit.chunk_id, source=hit.source,
                    quote=quote, supported=supported, passage=n,
                    score=round(score, 4), title=hit.title, page=page, page_end=page_end, sentence=s.text.strip(),
                    reason=reason)


def _rewrite(s: _Sentence, number: dict[int, int]) -> str:
    """The sentence with its markers replaced by the kept ones, renumbered: at the first marker's
    place (with its spacing) when it had markers, else before its closing punctuation."""
    marks = "".join(f"[{number[n]}]" for n in sorted(set(s.kept), key=number.get))
    first = MARKER_GROUP.search(s.text)
    if first:
        head, tail = s.text[:first.start()], MARKER_GROUP.sub("", s.text[first.end():])
        space = first.group(0)[:len(first.group(0)) - len(first.group(0).lstrip(" \t"))]
        return head + (space + marks if marks else "") + tail
    if not marks:
        return s.text
    m = _TRAIL.search(s.text)
    body, trail = s.text[:m.start()], s.text[m.start():]
    if not body:
        return s.text
    # a space before it after Latin text only: a Chinese sentence ending in a number or a Latin word takes none
    # ("内科——诊查费：¥10[1]。", as rag.answering.quoting.cite_sentence writes a quote's last marker)
    return body + (" " if body[-1].isascii() and not is_cjk(body) else "") + marks + trail


SETTLE_GROWTH = 4  # streaming: re-cite after a quarter more sentences (every one of the first eight)
_MAY_END = re.compile(r"[.!?。！？\n\]】］]")  # what split_sentences may cut after (markers: after an end)


class StreamCiter:
    """Pass a generator's pieces through unchanged, cite the whole answer when it has ended:

        citer = StreamCiter(used_hits)
        for piece in citer.wrap(gen.stream(messages)): print(piece, end="")
        result = citer.finish()

    `settled()` cites the sentences that are complete so far, for streaming only verified text.
    """

    def __init__(self, hits: Sequence[Hit], min_overlap: float = 0.3, cross: CrossLingualSupport | None = None,
                 beyond: Sequence[Hit] = (), question: str = ""):
        self.hits, self.min_overlap, self.cross, self.beyond = hits, min_overlap, cross, beyond
        self.question = question
        self.parts: list[str] = []
        self._settled = 0  # end of the text cited at the last check
        self._checked = 0  # its complete sentences
        self._seen = 0  # pieces looked at by the last call
        self._open = False  # a sentence may have ended since the last split

    def wrap(self, pieces: Iterable[str]) -> Iterator[str]:
        for piece in pieces:
            self.parts.append(piece)
            yield piece

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def settled(self) -> str | None:
        """The cited answer of the sentences complete so far, when more of them are complete than at the
        last call (else None). A sentence is complete once the next one has begun: until then it may still
        grow, or get its citation markers ("...。" then "[1]"). The second of two sentences alike but for
        their numbers waits, with all after it, until a third makes them a listing loop (and cite removes
        them) or the answer ends; uncited sentences wait for a cited one. Each check cites the whole text
        again, so with n sentences checked the next check waits for n / SETTLE_GROWTH more: a short answer
        still comes sentence by sentence, and a long one (a remote model's thousand tokens) costs time
        linear in its length, not quadratic."""
        if _MAY_END.search("".join(self.parts[self._seen:])):
            self._open = True
        self._seen = len(self.parts)
        if not self._open:  # no sentence can have ended since the last split
            return None
        text = self.text
        base = self._settled  # a sentence's start: the text before it is split already
        spans = [(a + base, b + base) for a, b in split_sentences(text[base:])]
        while spans and not text[spans[-1][0]:spans[-1][1]].strip():
            spans.pop()  # trailing white space: the last sentence's markers may still come
        if len(spans) >= 2 and not _MAY_END.search(text, spans[-1][0]):
            self._open = False  # the last sentence has begun and nothing in it can end it yet
        end = spans[-1][0] if len(spans) >= 2 else base
        complete = self._checked + max(len(spans) - 1, 0)
        if end <= self._settled or complete - self._checked < max(1, self._checked // SETTLE_GROWTH):
            return None
        self._settled, self._checked = end, complete
        cited = cite(text[:end], self.hits, self.min_overlap, cross=self.cross, beyond=self.beyond,
                     question=self.question)
        if cited.opening_removed:  # the answer will be the extract: what follows the opening is not shown
            return None
        answer = cited.answer
        kept = split_sentences(answer)
        held = _loop_start([answer[a:b] for a, b in kept])
        shown = answer if held is None else answer[:kept[held][0]].rstrip()
        # nothing until a sentence is cited: an answer with no supported sentence is replaced at its end
        # (by the extract or the refusal), and its uncited sentences would have been shown, then taken back
        return shown if MARKER.search(shown) else None

    def finish(self) -> CitedText:
        return cite(self.text, self.hits, self.min_overlap, cross=self.cross, beyond=self.beyond,
                    question=self.question)
