"""Fact-level verification: the facts of an answer sentence must be in the passage it cites.

Word overlap (rag.answering.cite) tells whether a sentence is about what a passage says; it cannot
tell "8 days" from "8:00 p.m.", "$30" from "$20", "not open" from "open", nor "Premium Checking"
from "Premier Checking". `check(sentence, passage, n, known)` compares three kinds of facts, found by
regular expressions in both languages, and returns one Problem (with a reason a person can read)
per fact of the sentence that the passage does not back:

  * numbers, by normalised value + unit + kind (full-width digits, thousands separators, 万/亿,
    small Chinese numerals such as 三 or 十二, English number words such as "five"):
      money      $25, USD 25, 25 dollars; 25元, ¥25, RMB 25, 人民币25元; 5万美元, €, £, HK$, CAD 9.75, S$, 加元 ...
      percent    3%, 3 percent, 百分之三
      time       8:00 p.m., 8pm, noon, 17:00, 下午5点 (a time without a.m./p.m. matches either)
      date       March 1, 2025; 1 March; 2025-03-01; 2025年3月1日; 3月1日
      duration   8 days, 5 business days, 24-hour, 3 years (= 36 months), 五天, 7个工作日, 72小时
      phone      1-800-555-0142, 400-106-9588, +86-21-6188-9588
      number     any other number (a count, an age, an address): its value must occur in the
                 passage as some number, amount, duration or hour
    A duration is not a clock time: "8 days" is not backed by "8:00 p.m.".
  * negation (not, no, never, none, cannot, n't, unless; 不, 没有, 无, 未, 非, 不能, 除非 ...): the
    word a cue negates (its "head", after modal words: "not open" -> open, 不能使用 -> 使用, 不收取 ->
    收取) with the next two words of its clause is compared with the passage sentences that mention
    it, each scored by how many of the answer sentence's other words it holds (words of the passage
    sentence count 1, words of its block's first line or the heading above it 1/2, so that "Closed on
    Saturdays and Sundays." under "Northgate Branch - ..." is about Northgate):
      - the answer negates what the best-matching passage sentence asserts, with the same following
        words ("not open on Sundays" against "open on Sundays", not against "open until 7 p.m."), and
        no sentence denying it matches as well: "says 'not open' where passage [2] says it is open";
      - the answer asserts a word that a passage sentence negates without a condition ("not charged
        if overdrawn by $50 or less" says nothing about other cases), with the words that follow it
        there, and that sentence matches the answer better than any asserting one and holds most of
        the answer's words: "says '收取' where passage [1] says '不收取'".
    A few antonyms count as negations (closed = not open, 免收 = 不收取), and so does an amount of 0
    ("NSF fee | $0" = no NSF fee). A passage sentence that says both counts for the answer, and an
    answer sentence that uses the word both ways is not judged on it. A sentence naming one branch or
    product ("the Northgate Branch", 上海静安支行) is compared only with the passage sentences about it.
  * named things: English capitalised multi-word names ("Premium Checking", "Harbor Bank", "Marina
    Plaza Branch"; a name may be the passage's names run together, or the passage's name with words
    left out, in order), Chinese terms in quotes (「」“”《》『』) and Chinese branch and card names
    (...支行, ...分行, ...营业部; 港湾金卡, 借记卡, 信用卡 ...): "names 'Premium Checking', which
    passage [1] does not mention". A name that is not one branch or product ("Harbor Bank") may come
    from another passage the generator was shown (`known`): a passage seldom repeats the bank's name.
    A single capitalised word inside a clause is a name too ("the latest version of Ubuntu"), unless
    it starts the clause, belongs to an amount or a time zone, or the sentence is a denial; it passes
    when the cited passage or another passage shown has the word.
  * code: what the answer gives the user to type, paths, file names, snake_case names and the
    hyphenated or dotted words of a command or `code span` ("sudo apt-get install deabi-debian"), must
    be in the cited passage or another passage shown, spaces aside: "gives 'deabi-debian', which
    passage [1] does not have".

Same-script pairs are checked for all three; a sentence and a passage in different scripts (a
Chinese answer over an English passage) only for numbers and English names.

`contested(sentence, cited, others)` looks past the cited passage: a negation that passage backs
("not open on Sundays" by "Sunday: closed", the general rule) is contested when another retrieved
passage asserts the negated word with the same following words and matches the sentence better than
any sentence denying it ("It is our only branch open on Sundays.", the exception the question asked
about). rag.answering.cite then treats it like a contradicted fact.
"""
from __future__ import annotations

from rag.answering.verify.checks import NO_DENIAL, Problem, check, contested, verify
from rag.answering.verify.facts import HEADER_CURRENCY, Fact, normalise, number_facts
from rag.answering.verify.names import ADDRESS, code_terms, english_names, quotations, single_names
from rag.answering.verify.negation import charge_words, denies_charge

__all__ = ["ADDRESS", "HEADER_CURRENCY", "NO_DENIAL", "Fact", "Problem", "charge_words", "check", "code_terms", "contested",
           "denies_charge", "english_names", "normalise", "number_facts", "quotations", "single_names", "verify"]
