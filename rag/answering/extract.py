"""Extractive answers: the sentences of a passage that best match a question, each citing it.

Used twice: `rag synth` writes them as the target answers of synthetic training records, and the
pipeline falls back to one when the generator's answer has no support in any passage (a small
model's degenerate or invented answer; `[answer] extractive_fallback`), so the user gets the
passage's own words with its citation instead. A question in another script than the passages
(Chinese over English documents), and a top passage that shares no usable word with the question,
are matched by the KB's encoder instead (rag.answering.by_meaning).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from indexer.script import cross_script, is_cjk
from rag.answering.asks import asked_kind, number_kinds
from rag.answering.by_meaning import meaning_quote, quote_across
from rag.answering.cite import content_tokens
from rag.answering.equivalents import synonyms_key
from rag.answering.quoting import cite_sentence, quotable, unnumbered
from rag.answering.steps import steps_for
from rag.answering.table_rows import (
    alike_rows_quote,
    column_quote,
    introduced_lists,
    introduced_tables,
    row_quote,
    tied_rows_quote,
)
from rag.answering.words import quote_words
from rag.text import is_heading, prose_lines, prose_sentences
from rag.types import Hit

# what only a sentence giving one answers: a phone number, a way to get in touch (rag.answering.asks)
_REACH = ("phone", "contact")

# a sentence that opens by referring back ("It is our only branch open on Sundays.", "If you do, we
# waive ...", "该卡免年费。")
_ANAPHOR = re.compile(r"(?:(?:it|its|this|that|they|their|these|those)\b|if (?:you do|so|not),|[它该其此这])",
                      re.IGNORECASE)


def extractive_answer(question: str, chunk: str, n: int, max_sentences: int = 2) -> str | None:
    """The chunk's sentences that best match the question, in chunk order, each citing [n]; None
    when no sentence shares a content word with the question. A chosen sentence that opens by
    referring back ("It is ...") comes with the first sentence of its line (paragraph), which names what
    it refers to ("Marina Plaza Branch - 5 Cafe Row ..."), so the quote makes sense on its own."""
    _, chosen = _best(question, chunk, max_sentences)
    if not chosen:
        return None
    return _quote(chunk, chosen, n)


def _quote(chunk: str, chosen: dict[str, int], n: int) -> str:
    """The chosen texts (text -> place in the chunk) with their antecedents, in chunk order, citing [n]."""
    texts = [unnumbered(s) for s in _with_antecedents(chunk, sorted(chosen, key=chosen.get), chosen)]
    return "".join((" " if i and not is_cjk(s) else "") + cite_sentence(s, n) for i, s in enumerate(texts))


def _best(question: str, chunk: str, max_sentences: int = 2, title: str = "") -> tuple[int, dict[str, int]]:
    """(content words shared by the best, {text: place in the chunk}) of the chunk's sentences, and short
    tables with the sentence introducing them, that best match the question: the most content words
    shared, then one stating the kind of number asked for, then the one whose line opens with more of the
    others, then the one sharing more words that the passage's title does not hold (the title says what
    every sentence under it is about: of "Harbor Bank has five branches" and "It is our only branch open on
    Sundays", the second answers "Which Harbor Bank branch is open on Sundays?" under "Harbor Bank - branch
    locations"), then the earliest. One answer asks this of the same passage several times (rows against
    sentences, chunks of one document against each other): it is worked out once."""
    best = _best_cached(question, chunk, max_sentences, title, synonyms_key())
    return best.shared, dict(best.chosen)


def _best_match(question: str, chunk: str, title: str = "") -> tuple[frozenset[str], bool]:
    """(the question's content words the best quote of the chunk matched, with the headings above its
    sentences; whether a heading above one of them holds only words of the question: the section the question
    names, "一、探视时间" for "探视时间")."""
    best = _best_cached(question, chunk, 2, title, synonyms_key())
    return best.matched, best.named


# a question a document asks itself: opening with a question word, or Chinese asking with one, and ending in
# "?" / "？". Not an instruction ending in a button's label ("select Forgot password?"), a heading asking
# nothing ("2. Not sure if the card is lost? Lock it") or a pointer to another section by its title ("参见第 6.10
# 节 “pool 目录里有什么？”")
_QUESTION_END = re.compile(r"^(?:(?:how|what|when|where|why|who|whom|whose|which|can|could|do|does|did|is|are|was|"
                           r"were|will|would|should|shall|may|might|must|have|has)\b[^?]*\?"
                           r"|[^？?“”「」\"]*(?:吗|呢|什么|怎么|怎样|如何|哪|几|多少|多久|是否|能否|可否|有没有|是不是|可以)[^？?“”「」\"]*[？?])"
                           r"[\"'”’」』）)]*$", re.IGNORECASE)
ANSWER_SPAN = 3  # sentences after a question line that answer it


def _asked_above(order: list[str]) -> dict[int, str]:
    """{index of a sentence: the question line it answers}: the sentences after a sentence ending in "?" /
    "？", up to the next one, at most ANSWER_SPAN."""
    out: dict[int, str] = {}
    for j, s in enumerate(order):
        if _QUESTION_END.search(s):
            for i in range(j + 1, min(j + 1 + ANSWER_SPAN, len(order))):
                if _QUESTION_END.search(order[i]):
                    break
                out[i] = s
    return out


# a heading's number: "一、", "（二）", "第三章", "3.", "2.1"
_HEADING_NUMBER = re.compile(r"^\s*(?:[一二三四五六七八九十百]+、|[（(][一二三四五六七八九十\d]+[)）]|第[一二三四五六七八九十百\d]+[章节条部篇]"
                             r"|\d+(?:\.\d+)+|\d+[.)、])\s*")


def _under_headings(lines: list[list[str]], listed: dict[str, int]) -> dict[int, str]:
    """{index of a sentence (in `lines` order): the heading line above it in the passage}, for the sentences
    after a heading line (`is_heading`), up to the next one. `listed`: {heading: its lines} for a heading with
    a "key: value" list under it (`table_rows.introduced_lists`), which is quoted whole with it and holds its
    words: its items do not also take them ("3. Replacement cards" over "Standard delivery: free. ...")."""
    out: dict[int, str] = {}
    heading, i, items = "", 0, 0
    for sents in lines:
        if len(sents) == 1 and is_heading(sents[0]):
            heading = _HEADING_NUMBER.sub("", sents[0])  # "一、探视时间" names 探视 and 时间, not 一
            items = listed.get(sents[0], 0)
        elif items:
            items -= 1
        elif heading:
            out.update((j, heading) for j in range(i, i + len(sents)))
        i += len(sents)
    return out


def _quote_words(question: str, passage: str) -> set[str]:
    """The question's content words that the best quote of `passage` holds (`_best`), with the headings above
    its sentences."""
    return set(_best_match(question, passage)[0])


@dataclass(frozen=True)
class _Candidate:
    """A text that may be quoted: a sentence of the passage, or a short table or list with its intro."""
    place: int   # its sentence's index in the passage (a table: where its intro stands, or after the last)
    about: str   # what the question is matched against: it with the heading or question line above it
    text: str    # what is quoted


@dataclass(frozen=True, order=True)
class _Score:
    """How well a candidate answers; compared field by field, in this order (the highest wins)."""
    shared: int         # the question's words it (with the heading or question line above it) holds
    under_heading: int  # ... that the heading above it holds
    own: int            # ... that it holds itself (0 when the heading holds the whole question)
    gives: bool         # it states the kind of number asked for ("what time do i have to leave on discharge day":
                        # "leave your room by 11:00 am", not a later line's "Your discharge summary is sent ...")
    lead: int           # ... that the first sentence of its line holds and it does not
    beyond_title: int   # ... that the passage's title does not hold
    earlier: int        # minus its place: the earliest
    text: str           # a last, stable tiebreak


@dataclass(frozen=True)
class _Best:
    """The best quote of a passage for a question (`_best_cached`)."""
    shared: int                              # the question's words the best text holds (0: no quote)
    chosen: tuple[tuple[str, int], ...]      # (text, place in the chunk) of the quoted texts
    matched: frozenset[str] = frozenset()    # the question's words they match, with the headings above them
    named: bool = False                      # a heading above one of them holds only words of the question


@lru_cache(maxsize=512)
def _best_cached(question: str, chunk: str, max_sentences: int, title: str, synonyms: str) -> _Best:
    # `synonyms`: the KB synonyms in force (equivalents.synonyms_key), which `quote_words` reads: part of the key
    lines = prose_lines(chunk)
    order = [s for sents in lines for s in sents]
    lead = _line_leads(lines)
    # a question the document asks itself ("How do I book an appointment?") is not quoted: the sentences after
    # it, up to the next such question (at most ANSWER_SPAN), are its answer and are matched with its words too
    asked_by = _asked_above(order)
    # a short table or list with the sentence introducing it, quoted whole where that sentence stands,
    # matched by the sentence and the header
    tables = introduced_tables(chunk) + introduced_lists(chunk)
    # a heading line in the passage names what the lines under it speak of ("一、探视时间" over "普通病房：每天
    # 15:00—20:00"): its words are matched with theirs, so the line under it beats a sentence elsewhere that
    # holds the same words in passing ("探视可不受上述时间限制")
    headed = _under_headings(lines, {(prose_sentences(t.intro) or [""])[0]: t.items for t in tables if t.headed})
    # a sentence opening by referring back ("It is open on Tuesdays ...") speaks of what its line's first sentence
    # names ("The Uniform Shop is in Room C002."), and is matched with its words too (it is quoted with it)
    back = {s: lead[s] for s in order if s in lead and _ANAPHOR.match(s)}
    cands = [_Candidate(i, " ".join(filter(None, (headed.get(i), asked_by.get(i), back.get(s), s))), s)
             for i, s in enumerate(order) if quotable(s) and not _QUESTION_END.search(s)]
    unheaded = {s: " ".join(filter(None, (asked_by.get(i), s))) for i, s in enumerate(order)}  # without the heading
    cands += [_Candidate(order.index(t.intro) if t.intro in order else len(order), t.about, t.quote) for t in tables]
    quotes = {t.quote for t in tables}
    # a list quoted whole with the heading it stands under ("3. Replacement cards" over "Standard delivery: ...")
    list_heading = {t.quote: _HEADING_NUMBER.sub("", t.intro) for t in tables if t.headed}
    q = quote_words(question)
    about_of = {c.text: c for c in cands}

    def matched(texts: list[str]) -> tuple[frozenset[str], bool]:
        """The question's words the quoted texts match (with what they are matched by), and whether a
        heading above one of them, or the heading a list quoted with it stands under, holds only words of
        the question."""
        found = [about_of.get(t) for t in texts]
        words = q & set().union(*(quote_words(c.about if c else t) for c, t in zip(found, texts)))
        headings = [headed.get(c.place, "") for c in found if c is not None] + [list_heading.get(t, "") for t in texts]
        named = any((w := quote_words(h)) and w <= q for h in headings)
        return frozenset(words), named

    kind = asked_kind(question)
    gives = {c.text: bool(kind) and kind in number_kinds(c.text) for c in cands}  # states the kind of number asked
    if kind in _REACH and any(gives.values()):
        # a sentence without a number answers no "which number should I call?", however many words it shares
        cands = [c for c in cands if gives[c.text]]
    # a sentence about the document itself ("This page lists our branches, their opening hours ...") shares
    # the words of many questions and answers none: quoted only when nothing else matches
    plain = [c for c in cands if not _ABOUT_DOCUMENT.match(c.text)]
    if any(q & quote_words(c.about) for c in plain):
        cands = plain
    # of sentences sharing as many words, one under a heading holding more of them comes first ("Free hospital
    # shuttle" over "A free shuttle runs ... Monday to Friday", not "By bus" over "Buses run ... at weekends"),
    # then one holding more of them itself (of the lines under "Mail delivery", "Mail delivery is not available
    # for medicines kept in the fridge" for "Could you mail my insulin?", not the courier's fee; not when the
    # heading holds the whole question: under "一、探视时间" the lines answer "探视时间" in their order), then one
    # stating the kind of number asked for, then one whose line's first sentence holds more of the others
    topic = quote_words(title)

    def score(c: _Candidate) -> _Score:
        heading = quote_words(headed.get(c.place, ""))
        return _Score(shared=len(q & quote_words(c.about)), under_heading=len(q & heading),
                      own=0 if q <= heading else len(q & quote_words(unheaded.get(c.text, c.about))),
                      lead=_lead_shared(q, c.about, None if c.place in asked_by else lead.get(c.text)),
                      beyond_title=len(q & quote_words(c.about) - topic), gives=gives[c.text], earlier=-c.place,
                      text=c.text)

    scored = sorted(map(score, cands), reverse=True)
    best = [x for x in scored[:max_sentences] if x.shared > 0]
    if best and scored[0].lead and not _ABOUT_DOCUMENT.match(lead[best[0].text]):
        # it won by its line's first sentence, which names what it speaks of ("Quayside Main Branch -
        # 200 Quayside Avenue." before "Extended hours: ... on Saturdays."): that one is quoted with it,
        # in place of a second best (not when that one speaks of the document: "本指南介绍 ...")
        first = best[0].text
        return _Best(best[0].shared, ((first, -best[0].earlier), (lead[first], order.index(lead[first]))),
                     *matched([first, lead[first]]))
    # the second must be nearly as relevant (a whole table, as relevant: it is long), about what the first
    # is about, and not part of it (a line of the list quoted first)
    if len(best) > 1 and (best[1].shared < best[0].shared / (1 if best[1].text in quotes else 2)
                          or _other_subject(q, best[0].text, best[1].text, lead) or best[1].text in best[0].text):
        best = best[:1]
    if best and kind and not any(x.gives for x in best):
        # asked for a kind of number the quote does not give: the best sentence that gives one comes second
        # ("Do you charge a fee for using my debit card abroad?": "A foreign transaction fee of 3% ... applies")
        giving = next((x for x in scored if x.gives and x.shared > 0 and not _part_of(x.text, best[0].text)
                       and not _other_subject(q, best[0].text, x.text, lead)), None)
        if giving is not None:
            # a list holding the best sentence is quoted once, whole ("You can send a wire in three ways: ..."
            # gave its first item again after it)
            best = [giving] if _part_of(best[0].text, giving.text) else [best[0], giving]
    if not best:
        return _Best(0, ())
    return _Best(best[0].shared, tuple((x.text, -x.earlier) for x in best), *matched([x.text for x in best]))


def _part_of(sentence: str, quote: str) -> bool:
    """Is `sentence` in `quote`, a list quoted whole (whose items lose their own end: "...passcode;")?"""
    return sentence.rstrip(".。;；") in quote


_ABOUT_DOCUMENT = re.compile(
    r"(?:this|the) (?:help |(?-i:[A-Z][\w-]* ){1,3})?(?:page|notice|guide|article|document|policy|section|leaflet|brochure|faq|manual|"
    r"handbook|overview|chapter) (?:explains|describes|lists|sets out|tells|covers|gives|provides|contains|"
    r"summari[sz]es|answers|introduces|applies)\b|本(?:指南|须知|页|文|说明|政策|手册|章|节)(?:介绍|说明|列出|适用|概述)",
    re.IGNORECASE)


def _other_subject(q: set[str], first: str, second: str, lead: dict[str, str]) -> bool:
    """Is `second` a later sentence of another line (paragraph, list item) than `first`, whose opening
    sentence names less of the question than `first`'s line does, and neither it nor `second` a word of
    the question that `first`'s line names? Then it speaks of something else:
    "Is the Old Town branch open on Saturdays?" matches the Old Town line and, in the Marina Plaza line,
    "Because it is in a shopping center, this branch keeps different hours: Monday to Saturday ...",
    which quoted after the first would give Old Town Marina Plaza's hours."""
    home, there = lead.get(first, first), lead.get(second)
    if there is None or there == home:
        return False
    named = q & quote_words(home)
    return len(q & quote_words(there)) < len(named) and bool(named - quote_words(second) - quote_words(there))


def _lead_shared(q: set[str], sentence: str, lead: str | None) -> int:
    """Content words of the question not in `sentence` but in the first sentence of its line (`lead`),
    which often names what a later sentence speaks of."""
    return len((q - quote_words(sentence)) & quote_words(lead)) if lead else 0


def _line_leads(lines: list[list[str]]) -> dict[str, str]:
    """{sentence: the first sentence of its line} for every sentence after a line's first (`lines`: a
    chunk's `prose_lines`), when that one can be quoted."""
    out: dict[str, str] = {}
    for sents in lines:
        if len(sents) > 1 and quotable(sents[0]):
            for s in sents[1:]:
                out.setdefault(s, sents[0])
    return out


def _with_antecedents(chunk: str, chosen: list[str], at: dict[str, int] | None = None) -> list[str]:
    """`chosen` (in chunk order) and, before a sentence that refers back or that is quoted with a sentence
    of another line, the first sentence of its line; the result in chunk order (`at`: the place of a chosen
    text that is no sentence of the chunk)."""
    lines = prose_lines(chunk)
    order = [s for sents in lines for s in sents]
    lead = _line_leads(lines)
    at = at or {}
    out = list(chosen)
    mixed = len({lead.get(s, s) for s in chosen}) > 1  # sentences of several lines: each names its subject
    for s in chosen:
        if (mixed or _ANAPHOR.match(s)) and s in lead and lead[s] not in out:
            out.append(lead[s])
    return sorted(out, key=lambda x: order.index(x) if x in order else at.get(x, len(order)))


def fallback_answer(question: str, hits: Sequence[Hit], cross=None, max_across: int = 2,
                    min_meaning: float | None = None) -> str | None:
    """An extract of the highest-ranked passage that matches the question at all (passages in prompt
    order: [n] is hits[n-1]). With `cross`, a passage in another script than the question is matched
    by the encoder (`quote_across`, at most `max_across` of them: each costs an encoding of its
    sentences), not by the few Latin words a Chinese question may share with it; and with `min_meaning`
    too, the top passage, when it shares no word the extract can use, is quoted by meaning
    (`meaning_quote`) before lower passages are tried by their words: the rank decides. A question of
    several questions ("银行卡丢了怎么挂失？临时挂失的有效期是多久？") gets an extract for each (`_each_part`)."""
    parts = [p for p in re.split(r"[?？]+", question) if content_tokens(p)]
    if len(parts) > 1 and not any(cross_script(question, h.text) for h in hits):
        return _each_part(parts, hits)
    # a table row the question names (or the tier holding an amount it states), in any passage, before
    # sentences; one found only by the kind of number asked comes in rank order (a lower passage's "Continuous overdraft fee ... after 7 days" is no
    # answer to "how long do I have to fix an overdraft" that the first passage gives)
    row = row_answer(question, hits, named=True)
    if row:
        return row
    steps = _steps_answer(question, hits)
    if steps:
        return steps
    if (kind := asked_kind(question)) in _REACH:
        if text := _contact_answer(question, hits, kind):
            return text
    across = 0
    for n, hit in enumerate(hits, 1):
        if cross is not None and cross_script(question, hit.text):
            if across == max_across:
                continue
            across += 1
            text = quote_across(question, hit.text, n, cross)
        else:
            row = row_quote(hit.text, question, title=hit.title) or alike_rows_quote(hit.text, question)
            text = cite_sentence(row, n) if row else _document_extract(question, hits, n)
            if text is None and n == 1 and cross is not None and min_meaning is not None:
                text = meaning_quote(question, hit.text, n, cross, min_meaning)
        if text:
            return text
    split = _split_joined(question)
    return fallback_answer(split, hits, cross, max_across) if split else None


_PRONOUNS = frozenset({"us", "we", "our", "you", "your", "me", "my", "我们", "您", "你"})  # "How to contact us"


def _contact_answer(question: str, hits: Sequence[Hit], kind: str) -> str | None:
    """For a question asking for a phone number or a way to get in touch: the first passage giving one
    that shares a word with the question (with its section heading), or a lower one whose section the
    question names (every word of its heading, pronouns aside, is the question's: "How do I contact you?"
    names "How to contact us", not "Contacting a regulator") holding as many of its words; quoted as any
    passage is, or, when none of its sentences shares a word, by its first two sentences giving one.
    "挂失电话是多少？": the first passage that matches may give no number (the temporary loss report's
    validity)."""
    asked = quote_words(question)
    found: list[tuple[int, list[str], int, bool]] = []  # (n, sentences giving one, words held, heading named)
    for n, hit in enumerate(hits, 1):
        if cross_script(question, hit.text):
            continue
        sents = [s for s in prose_sentences(hit.text) if kind in number_kinds(s) and quotable(s)]
        heading = quote_words(hit.title.rsplit(" > ", 1)[-1]) - _PRONOUNS if " > " in hit.title else set()
        held = asked & set().union(heading, *map(quote_words, sents))
        if sents and held:
            found.append((n, sents, len(held), bool(heading) and heading <= asked))
    if not found:
        return None
    n, sents, held, _ = found[0]
    named = next((f for f in found[1:] if f[3] and f[2] >= held), None)
    if named and not found[0][3]:
        n, sents = named[0], named[1]
    if text := _document_extract(question, hits, n):
        return text
    order = {s: i for i, s in enumerate(sents)}  # its sentences share no word: those giving one, the first two
    return _quote(hits[n - 1].text, {s: order[s] for s in sents[:2]}, n)


def _document_extract(question: str, hits: Sequence[Hit], n: int) -> str | None:
    """The extract for passage [n], or for a passage of the same document ranked below it whose quote
    (with its section's heading) says more of the question: as many of its words, more that the
    document's title does not hold (the title is what every chunk of the document is about), and all of
    those but the asking words; and the kind of number asked for where [n]'s quote gives it. Where a
    document was cut into chunks is an accident of its length: the branch page's first chunk, ranked
    first for "Which branch is open on Sundays?", opens with "Harbor Bank has five branches" (harbor,
    bank, branch: the title's words); "It is our only branch open on Sundays" is in its second. 一天最多能
    转多少钱？ ranks the transfer guide's arrival times above its section 转账限额 (单日累计限额). Across
    documents the rank decides. None when [n] shares no word with the question."""
    first = hits[n - 1]
    kind = asked_kind(question)
    asked = quote_words(question)

    def scored(h: Hit) -> tuple[tuple[int, int], dict[str, int], bool, int, bool]:
        # by all the words its quote holds (a sentence with the line naming its subject, two sentences, the
        # headings above them)
        _, chosen = _best(question, h.text, title=h.title)
        matched, named = _best_match(question, h.text, h.title)
        document = h.title.split(" > ", 1)[0]
        said = asked & set().union(quote_words(h.title[len(document):]), matched) if chosen else set()
        topic = quote_words(document)
        return ((len(said), len(said - topic)), chosen, bool(kind) and any(kind in number_kinds(s) for s in chosen),
                len(asked - topic), named)

    (shared, beyond), chosen, gives, _, named = scored(first)
    if not chosen:
        return None
    at = n
    for m, h in enumerate(hits[n:], n + 1):
        if h.doc_id != first.doc_id or cross_script(h.text, first.text):
            continue
        (s2, b2), c2, g2, required, named2 = scored(h)
        if not c2 or s2 < shared or not (g2 or not gives) or (named and not named2):
            continue
        # it says more beyond the document's title, or it is the section the question names ("探视时间" over
        # "一、探视时间": the lines under it) where the quote so far is not, or, holding every word of the
        # question, it gives the kind of number asked for where the quote so far does not ("挂失多少钱": the
        # temporary report's validity, then 正式挂失's "手续费为每次10元"; not the card replacement fees, sharing
        # "lost" and "card" with "Somebody used my lost debit card ... How much could I be on the hook for?")
        if (b2 > beyond and b2 == required) or (named2 and not named) or (g2 and not gives and s2 == len(asked)):
            (shared, beyond), chosen, gives, at, named = (s2, b2), c2, g2, m, named2
    return _quote(hits[at - 1].text, chosen, at)


def _steps_answer(question: str, hits: Sequence[Hit]) -> str | None:
    """For a question asking how to do something: the numbered steps of the passage whose section title and
    list introduction hold the most of the question's words, the higher-ranked on a tie (rag.answering.steps),
    a step a line, each citing it. "卡丢了怎么办" ranks "六、发现盗刷怎么办" (怎么办; the steps' "卡在人在"
    holds 卡) above "一、临时挂失", whose list is introduced by "发现卡片丢失后" (卡, 丢)."""
    best: tuple[int, int, list[str]] | None = None  # (question words about, passage number, steps)
    for n, hit in enumerate(hits, 1):
        if cross_script(question, hit.text) or (found := steps_for(question, hit.text, hit.title)) is None:
            continue
        if best is None or found[0] > best[0]:  # strictly more: the higher-ranked keeps a tie
            best = (found[0], n, found[1])
    return None if best is None else "\n".join(cite_sentence(s, best[1]) for s in best[2])


def row_answer(question: str, hits: Sequence[Hit], covering: bool = False, named: bool = False) -> str | None:
    """The table row (or "name: value" line) the question asks about (`row_quote`), from the first
    passage that has one, citing it; None when no passage has one. `covering`: only a row that, with
    its header, holds every word of the question; `named`: only a row the question names (or the tier
    holding an amount it states)."""
    found = _named_row(question, hits, covering, named)
    return cite_sentence(found[1], found[0]) if found else None


def named_row(question: str, hits: Sequence[Hit]) -> tuple[int, str] | None:
    """(passage number, row as a sentence) of the table row the question names, in the first passage that
    has one (or the tier holding an amount it states)."""
    return _named_row(question, hits, named=True)


def _named_row(question: str, hits: Sequence[Hit], covering: bool = False,
               named: bool = False) -> tuple[int, str] | None:
    """(passage number, row as a sentence) of the first same-script passage with a row `row_quote` gives;
    with `named`, for a question asking for no kind of number, not a row holding no more of its words than
    the best sentence of a passage ranked above it ("What information do I need to send an international
    wire?" names the limits row of the fourth passage, while the first says what an international wire
    needs; "How much is the rent for a medium safe deposit box?" keeps its row), and also rows the question
    names equally (`tied_rows_quote`) when they hold more of its words than any passage's best sentence
    (as many, when it asks for a kind of number the rows give)."""
    asked, kind = quote_words(question), asked_kind(question)

    def said(among: Sequence[Hit]) -> int:  # the most question words a quote of these passages holds
        return max((len(_quote_words(question, h.text)) for h in among if not cross_script(question, h.text)),
                   default=-1)

    # rows a higher passage ties on, outdone by a sentence: quoted before a lower passage's row that holds no more
    # of the question's words ("How much does an outgoing international wire cost?": the fee table's two
    # outgoing international rows, not the limits table's "Online and mobile, international wires" row)
    tied_above: tuple[int, int, str] | None = None
    for n, hit in enumerate(hits, 1):
        if cross_script(question, hit.text):
            continue
        if named and not covering and (column := column_quote(hit.text, question)):
            # a table's column the question names through the KB's synonyms: the cell of the row it names too, or
            # the column (never without KB synonyms)
            return n, column
        if row := row_quote(hit.text, question, covering, named, title=hit.title):
            if not named or kind or n == 1 or len(asked & quote_words(row)) > said(hits[:n - 1]):
                if tied_above and len(asked & quote_words(row)) <= tied_above[0]:
                    return tied_above[1], tied_above[2]
                return n, row
        elif named and not covering and (tied := tied_rows_quote(hit.text, question)):
            holds, best = tied[0], said(hits)
            if holds > best or (holds == best and kind):
                return n, tied[1]
            if kind and tied_above is None:
                tied_above = (holds, n, tied[1])
    return None


def _split_joined(question: str) -> str | None:
    """The question's words with each Chinese word of three or more characters in its two-character
    pieces ("补卡要多少钱？": jieba joins 补卡要, which no passage has, where the fee table says 补卡); None
    when it has no such word. Tried when no passage shares a word with the question as cut."""
    words = [w for w in content_tokens(question) if is_cjk(w) and len(w) >= 3]
    if not words:
        return None
    pieces = {w[i:i + 2] for w in words for i in range(len(w) - 1)}
    return " ".join(sorted(content_tokens(question) - set(words) | pieces))


def _each_part(parts: list[str], hits: Sequence[Hit]) -> str | None:
    """For each question of a question of several: the table row it names, else the best sentences of
    the passage that matches it best (the most content words shared, then the higher-ranked passage).
    A later question is matched together with the first, which names what it is about ("有没有办法免掉？"
    after "港湾普卡的年费是多少？"). Each passage's quotes in its own order, passages in the order of their
    first use. The whole question was ranked for, so its first passage may answer only one of them."""
    chosen: dict[int, dict[str, int]] = {}
    for k, part in enumerate(parts):
        asked = part if k == 0 else f"{parts[0]} {part}"
        row = _named_row(asked, hits)  # (every passage is in the question's script here)
        if row is not None:
            chosen.setdefault(row[0], {}).setdefault(row[1], -1)  # a row the question names comes first
            continue
        found = [(shared, -n, best) for n, hit in enumerate(hits, 1)
                 for shared, best in [_best(asked, hit.text)] if shared > 0]
        if found:
            _, neg_n, best = max(found, key=lambda t: (t[0], t[1]))
            for text, place in best.items():
                chosen.setdefault(-neg_n, {}).setdefault(text, place)
    if not chosen:
        return None
    return "".join((" " if i and not is_cjk(q) else "") + q for i, q in
                   enumerate(_quote(hits[n - 1].text, texts, n) for n, texts in chosen.items()))
