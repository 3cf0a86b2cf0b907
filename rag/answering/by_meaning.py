"""Quotes chosen by meaning, under the KB's encoder, where shared words cannot choose: a Chinese question
over an English passage (`quote_across`), and a top passage that answers in other words than the
question's (`meaning_quote`). `cross` is a rag.answering.cite_semantic.CrossLingualSupport."""
from __future__ import annotations

import re

from rag.answering.markers import MARKER
from rag.answering.quoting import cite_sentence, quotable, unnumbered
from rag.answering.table_rows import row_sentences
from rag.text import prose_sentences


def _answering(sentence: str) -> bool:
    """Quotable, and no question: the questions a text asks itself are not its answers."""
    return quotable(sentence) and not sentence.endswith(("?", "？"))


# The cosine a sentence must reach against a question in another script to be quoted. 0.80: nearly
# as many on-topic questions get a quote as at 0.78, while most off-topic ones, which 0.78 lets
# through, are refused; 0.82 refuses on-topic questions too. Figures: docs/design-notes.md.
QUESTION_MIN_COSINE = 0.80


def quote_across(question: str, chunk: str, n: int, cross, min_cosine: float = QUESTION_MIN_COSINE,
                 max_sentences: int = 2) -> str | None:
    """For a question in another script than the chunk (a Chinese question over an English
    document), which shares no words with it: the chunk's sentences closest to the question under the
    KB's multilingual encoder (`cross`, a rag.answering.cite_semantic.CrossLingualSupport), at most
    `max_sentences` (questions in the text are not answers), in chunk order, each citing [n]; None
    when none reaches `min_cosine`."""
    best = [t for t in cross.ranked(question, chunk) if t[0] >= min_cosine and _answering(t[2])][:max_sentences]
    return " ".join(cite_sentence(unnumbered(s), n) for _, _, s in sorted(best, key=lambda t: t[1])) or None


# How far above the KB's refusal threshold (for the question's language) the top passage's closest
# sentence or row must be for a quote by meaning (`meaning_quote`). 0.035: the off-topic questions that
# pass the threshold reach at most +0.03 against the sentences of their top passage (demo KB, both
# languages, and the English FAQ), while the paraphrases it is for reach +0.04 to +0.09 ("What's the fee if
# I bounce a check?" -> "Returned deposited item (a check you deposited bounces)", 二套房首付 -> 第二套住房
# 最低首付比例). Figures: docs/answers.md.
MEANING_MARGIN = 0.035
# ... and ahead of the next closest by this much: three safe deposit box rows within 0.001 of each other
# are no answer to "Which branches have safe deposit boxes and how much do they cost?" (the next passage's
# sentence is); the paraphrases lead by 0.014-0.022
MEANING_LEAD = 0.01


def meaning_quote(question: str, chunk: str, n: int, cross, min_cosine: float) -> str | None:
    """The chunk's sentence or table row (with its column headers) closest to the question under the KB's
    encoder (`cross`), citing [n], when it reaches `min_cosine` and is clearly the closest (by
    MEANING_LEAD); None otherwise. For a top passage that answers in other words than the question's
    ("bounce a check" over "Returned deposited item"), where the shared-words extract finds nothing in it."""
    texts = [s for s in prose_sentences(chunk) if _answering(s)]
    texts = list(dict.fromkeys(texts + row_sentences(chunk)))
    if not texts:
        return None
    ranked = cross.closest(question, texts)
    score, _, text = ranked[0]
    if score < min_cosine or (len(ranked) > 1 and score - ranked[1][0] < MEANING_LEAD):
        return None
    return cite_sentence(unnumbered(text), n)


# How far above the KB's refusal threshold (for the question's language) the best sentence of a quote
# must be, under the KB's encoder, for the quote to be given (`quote_support`); below it the question is
# refused. The threshold is reached by the passage; a quote that shares a word or two with an in-domain
# question the documents do not answer ("Is there a gift shop?" -> the lost property office's number) is
# further from the question than a quote that answers it. 0.015, chosen on the dev halves of two KBs of
# other domains (data/eval/domains: a school's and a hospital's, English and Chinese, with unanswerable
# questions), fold A of the Debian FAQ and the demo KB's labelled questions: it refused 8 of the 19
# unanswerable questions quoted there and 6 of 95 wrong quotes, and lost 1 of 140 right ones (0.020 lost
# 4). Figures: docs/answers.md.
QUOTE_MARGIN = 0.015

_MARKER = re.compile(r"\s*" + MARKER.pattern)  # a citation marker and the space before it


def quote_support(question: str, quote: str, cross) -> float:
    """The cosine, under the KB's encoder (`cross`), between the question and the closest sentence of a quote
    (its citation markers left out)."""
    text = _MARKER.sub("", quote)
    sentences = [" ".join(s.split()) for s in prose_sentences(text)] or [text]
    return cross.closest(question, sentences)[0][0]
