"""The checks: each fact of an answer sentence against the passage it cites (`check`, `verify`), and a
negation the cited passage backs against the other passages (`contested`)."""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from indexer.script import cross_script, is_cjk
from indexer.tokenize import tokenize
from rag.answering.examples import unlisted
from rag.answering.ranges import ranges, wrong_ends
from rag.answering.verify.facts import Fact, normalise, number_facts
from rag.answering.verify.names import (
    ZH_BRANCH,
    ZH_PRODUCT,
    branch_core,
    code_terms,
    compact_form,
    english_name_starts,
    english_names,
    name_found,
    name_words,
    quotations,
    shorten,
    single_names,
    zh_name_found,
    zh_names,
)
from rag.answering.verify.negation import (
    CONDITION,
    EN_SKIP,
    ZH_CUE,
    Clause,
    Negation,
    antonym_in,
    free_words,
    parse_clause,
)
from rag.answering.verify.passages import ParsedPassage, ParsedSentence, parse_passage


def _matches(a: Fact, p: Fact, passage: ParsedPassage) -> bool:
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
        # the same number, or one written with a country or area code the other leaves out (7 digits at least)
        return short == long_ or (long_.endswith(short) and len(short) >= 7)
    return False


_KIND_WORD = {"money": "the amount", "percent": "the percentage", "time": "the time", "date": "the date",
              "duration": "the number", "phone": "the phone number", "number": "the number"}


@dataclass
class Problem:
    kind: str     # number | negation | name | code
    fact: str     # the sentence's fact as written
    reason: str
    where: str = ""  # contested(): the label of the passage that says otherwise


def _cover(words: set[str], s: ParsedSentence) -> float:
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


def _subjects(sentence: str, p: ParsedPassage) -> list[set[str]]:
    """The branches and products the sentence names, as tokens without their kind word ("Quayside
    Main Branch" -> {quaysid, main}; 上海静安支行 -> 静安), when the passage mentions them: what it
    says about other branches does not bear on them."""
    out = []
    for name in english_names(sentence):
        if _is_entity(name):
            out.append(set(tokenize(name)) - _ENTITY_KINDS)
    for name in zh_names(sentence):
        if ZH_BRANCH.fullmatch(name):
            core = branch_core(name)
            out.append(set(tokenize(core[:2])) or {core[:2]})
        elif ZH_PRODUCT.fullmatch(name):
            out.append(set(tokenize(name)))
    return [x for x in out if x and any(x <= s.clause.tokens | s.context for s in p.sentences)]


def _stance(head: str, ng: Negation, c: Clause) -> str | None:
    """How a passage clause stands to an answer's negation `ng` of `head`: "denies" (it negates the same
    words, says an antonym, or an amount of 0: "NSF fee | $0"; a clause saying both counts here, for the
    answer), "asserts" (`head` with the words that follow it in the answer: "open on Sundays" for "not
    open on Sundays"; an amount of 0 for "not free"), or None."""
    if head in free_words() and c.zero:  # "Coin counting | $0.00" says it is free: "not free" is what it denies
        return "asserts" if ng.words - {head} <= c.tokens else None
    if ng.words & c.negated or any(antonym_in(w, c) for w in ng.words) or c.zero:
        return "denies"
    if head in c.asserted and ng.words <= c.tokens:
        return "asserts"
    return None


def _negation_problems(sentence: str, p: ParsedPassage, n: int) -> list[Problem]:
    a = parse_clause(sentence)
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
        if not others or (is_cjk(head) and re.search(f"(?:{ZH_CUE.pattern}){re.escape(head[0])}", a.text)):
            continue  # (不收违约金 ... 收取: the sentence uses the word both ways, cut apart differently)
        aff, best, said = -1.0, (-1.0, 0), ""
        for s in sentences:
            c = s.clause
            if head in c.asserted:  # (also when it negates it elsewhere: counts for the answer)
                aff = max(aff, _cover(others, s))
                continue
            ng = c.heads.get(head)
            explicit = ng is not None and not ng.conditional and ng.words <= a.tokens
            anti = antonym_in(head, c) if not explicit and not CONDITION.search(c.text) else None
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
        denied = ng.words - {head} - EN_SKIP - _WHEN - named
        if not denied:
            continue
        denying = [(s, need) for s in p.sentences if (need := _denying(s.clause, ng))]
        # the same word denied ("no prepayment penalty" backs "no penalty for paying off ...") or its
        # antonym said ("临时挂失免费" backs "临时挂失不收取费用")
        if any((head in s.clause.negated or antonym_in(head, s.clause)) and need < 1 for s, need in denying):
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
@cache  # made on first use: its Chinese words load jieba
def _denying_words() -> frozenset[str]:
    return frozenset(tokenize("closed declined rejected refused prohibited forbidden unavailable excluded free "
                              "waived without except only instead unable impossible expired "
                              "关闭 拒绝 禁止 免费 免收 除外 仅 只 只能 暂停"))


def _denying(c: Clause, ng: Negation) -> float:
    """How much of what an answer's negation `ng` denies a passage clause `c` must hold to back it: 0.5
    when `c` denies or restricts something (a negation, an amount of 0, a denying word, an antonym of a
    word `ng` negates), 1 when only under a condition, 0 when it denies nothing."""
    restricts = c.zero or bool(c.tokens & _denying_words()) or any(antonym_in(w, c) for w in ng.words)
    if not (c.heads or restricts):
        return 0.0
    unconditional = any(not x.conditional for x in c.heads.values()) or (restricts and not CONDITION.search(c.text))
    return 0.5 if unconditional else 1.0


def contested(sentence: str, cited: str, others: Sequence[tuple[str, str]]) -> Problem | None:
    """A negation of `sentence` that its cited passage backs ("not open on Sundays" by "Sunday:
    closed") while another retrieved passage (`others`: (label, text), e.g. ("[2]", text) or a source
    name) asserts it with the same following words and matches the sentence better than any sentence
    denying it, in any passage: "It is our only branch open on Sundays." The general rule a 135M model
    quotes is then contradicted by the exception the question asks about; the claim is not backed by
    the documents taken together. None when no negation is contested (same-script passages only)."""
    a = parse_clause(sentence)
    if not a.heads or not others:
        return None
    texts = [("", cited)] + [(label, t) for label, t in others if not cross_script(sentence, t)]
    passages = [(label, parse_passage(t)) for label, t in texts]
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
                elif label and stance == "asserts" and not CONDITION.search(s.clause.text):
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
    p = parse_passage(passage)
    others = parse_passage(known) if known else None
    problems: list[Problem] = []
    facts = number_facts(sentence)
    for f in facts:
        if not any(_matches(f, pf, p) for pf in p.facts):
            what = f.text.strip()
            if not any(x.fact == what for x in problems):
                problems.append(Problem("number", what, f"{_KIND_WORD[f.kind]} {what} is not in passage [{n}]"))
    for name, initial in english_name_starts(sentence):
        words = name_words(name)
        if name_found(words, p.words) or (initial and len(words) > 2 and name_found(words[1:], p.words)):
            continue
        if others and not _is_entity(name) and (
                name_found(words, others.words) or (initial and len(words) > 2 and name_found(words[1:], others.words))):
            continue
        problems.append(Problem("name", name, f"names '{name}', which passage [{n}] does not mention"))
    for name in single_names(sentence):  # a word of another passage shown is one the generator was told about
        if all(w in p.word_set or (others and w in others.word_set) for w in name_words(name)):
            continue
        problems.append(Problem("name", name, f"names '{name}', which passage [{n}] does not mention"))
    terms = code_terms(sentence)
    where = p.compact + (others.compact if others else "")
    for term in terms:
        if compact_form(term) not in where:
            problems.append(Problem("code", term, f"gives '{term}', which passage [{n}] does not have"))
    if cross_script(sentence, passage):
        return problems
    if is_cjk(passage):
        for name in zh_names(sentence):
            if not zh_name_found(name, p.compact):
                problems.append(Problem("name", name, f"names '{name}', which passage [{n}] does not mention"))
    problems += _negation_problems(sentence, p, n)
    problems += [Problem("name", item, f"lists '{item}' as an example, which passage [{n}] does not give")
                 for item in unlisted(sentence, passage)]
    problems += [Problem("number", written, f"gives {written} as the {end}, where passage [{n}] has it as the "
                                            f"{'least' if end == 'most' else 'most'} of '{r.text}'")
                 for written, r, end in wrong_ends(sentence, facts, _ranges(passage))]
    reported = {compact_form(pr.fact) for pr in problems}
    for quote in quotations(sentence):  # a quoted name or term already reported is not reported again
        if compact_form(quote) not in where and compact_form(quote) not in reported:
            problems.append(Problem("quote", quote, f"quotes “{shorten(quote)}”, which no passage shown says "
                                                    "word for word"))
    return problems


@lru_cache(maxsize=128)
def _ranges(passage: str) -> tuple:
    """The passage's ranges of numbers (rag.answering.ranges)."""
    return ranges(normalise(passage), parse_passage(passage).facts)


@lru_cache(maxsize=4096)  # a streamed answer is cited again as it grows: its sentences are checked once
def verify(sentence: str, passage: str, n: int = 1, known: str = "") -> str | None:
    """None when every fact of `sentence` is in `passage`, else the reasons, joined by '; '."""
    problems = check(sentence, passage, n, known)
    return "; ".join(p.reason for p in problems) or None
