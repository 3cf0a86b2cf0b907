"""Degenerate generation: a small model sometimes repeats itself ("The answer to the question is:"
over and over) until its token limit. `is_looping` spots an exact repeat at the end of the generated
ids, so the local generator stops there (a stopping criterion) instead of spending the rest of its
budget; `collapse_repeats` drops the repeated sentences from the final text, `trim_unfinished`
the few words the token limit cut off after the last whole sentence ("... or more [1]. You"), and
`drop_hollow_lines` the lines that say nothing: a list's number with no item ("2.", "3.", ... to the
token limit), a lead-in starting an answer that never comes ("The answer is:" as the last line), or a
last sentence introducing what does not follow ("Visit the website [1]:").
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from rag.answering.cite import LEAD_IN, content_tokens, split_sentences
from rag.text import ITEM_NUMBER

MAX_PERIOD = 48   # longest repeated unit looked for, in tokens
MIN_SPAN = 18     # a repeat must cover at least this many tokens ...
MIN_REPEATS = 3   # ... and this many copies ("very very" or a list's "[1]. [1]." is not a loop)


def is_looping(ids: Sequence[int], max_period: int = MAX_PERIOD, min_span: int = MIN_SPAN,
               min_repeats: int = MIN_REPEATS) -> bool:
    """True when the last tokens are one unit of 2..max_period tokens repeated back to back, at least
    min_repeats times and min_span tokens in all."""
    n = len(ids)
    for period in range(2, max_period + 1):
        copies = max(min_repeats, -(-min_span // period))
        span = period * copies
        if span > n:
            break
        tail = ids[n - span:]
        if all(tail[i] == tail[i - period] for i in range(period, span)):
            return True
    return False


# the same item listed three or more times in a row ("students, students, and students"; "网点、网点、网点"):
# a loop inside a sentence, too short for is_looping; two copies stay ("New York, New York")
_LISTED = re.compile(r"\b(\w+(?: \w+){0,2})(?:,\s*(?:and\s+|or\s+)?\1\b){2,}")
_LISTED_ZH = re.compile(r"([\u4e00-\u9fff]{1,8})(?:[、，,]\1){2,}")  # no word boundaries in Chinese text


# a sentence of at least this many content words, all said before, says nothing new
RESTATED_MIN_WORDS = 3


def collapse_repeats(text: str) -> str:
    """`text` with each sentence or line kept only the first time it occurs (compared without
    whitespace, case or end punctuation), a sentence of RESTATED_MIN_WORDS or more content words that
    earlier sentences all hold left out (a loop rewording itself: "The loan cancellation is a permanent
    hardship [1]." after "... a loan cancellation, which can be a permanent hardship [1]."), and an item
    listed three or more times in a row kept once; everything else, line breaks included, is kept as it is."""
    text = _LISTED_ZH.sub(r"\1", _LISTED.sub(r"\1", text))
    seen, said, out = set(), set(), []
    left_out = False  # the piece before was left out: the line break after it goes with it
    for a, b in split_sentences(text):
        piece = text[a:b]
        if not piece.strip():
            if not left_out:
                out.append(piece)
            left_out = False
            continue
        item = ITEM_NUMBER.sub("", piece.strip())  # a list's "7. <item 6 again>" repeats item 6
        key = " ".join(item.split()).lower().rstrip(".!?。！？")
        words = content_tokens(item)
        left_out = bool(key and key in seen or len(words) >= RESTATED_MIN_WORDS and words <= said)
        if left_out:
            continue
        seen.add(key)
        said |= words
        out.append(piece)
    return "".join(out).strip()


# what ends a sentence (or a line of a list), closing quotes and brackets after it included
_ENDED = re.compile(r"[.!?。！？…:：;；)）\]】”’\"'»]\s*$")
# a period that ends no sentence: a list's number on its own line, a title before a name
_NOT_AN_END = re.compile(r"(?:^|\n)\s*\d+[.)]$|\b(?:mr|mrs|ms|dr|prof|st|jr|sr)\.$", re.IGNORECASE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
UNFINISHED_MAX_WORDS = 3   # a cut-off tail this short says nothing ("You", "This fee is"); longer ones stay


# a numbered list's last line that is only a number: the token limit cut the next item's number
_CUT_ITEM = re.compile(r"(?<=\S)\n[ \t]*\d{1,3}\Z")


def trim_unfinished(text: str) -> str:
    """`text` without a short unfinished tail: a last sentence (rag.answering.cite.split_sentences,
    which knows abbreviations) with no end punctuation, no number and no citation marker, of at most
    UNFINISHED_MAX_WORDS words (or as many Chinese characters + 1): what a generation stopped by its
    token limit leaves, and a last line that is only a number (a list's next "11." cut after its first
    digit). A text that is only such a tail is kept as it is."""
    stripped = text.rstrip()
    if cut := _CUT_ITEM.search(stripped):  # the next item's "11." cut after its first digit: "...\n1"
        return stripped[:cut.start()]
    if not stripped or _ENDED.search(stripped):
        return text
    spans = split_sentences(stripped)
    if len(spans) < 2:
        return text
    start = spans[-1][0]
    tail = stripped[start:]
    cjk = _CJK.findall(tail)
    words = re.findall(r"[^\W\d_]+", _CJK.sub(" ", tail))
    if re.search(r"\d|\[", tail) or len(words) > UNFINISHED_MAX_WORDS or len(cjk) > UNFINISHED_MAX_WORDS + 1:
        return text
    kept = stripped[:start].rstrip()
    if not re.search(r"[^\W\d_]{2}", kept) or _NOT_AN_END.search(kept):
        return text  # what was split off may not be a sentence ("Mr. Smith can", "1. Tap")
    return kept


# A line that is only a list's number or bullet, or only a lead-in ("The answer is:", "Answer:", "答案："),
# up to its line break or the end of the text: nothing of it can be checked or read.
# A lead-in followed by a list's number alone ("The answer is: 1.") is as hollow.
_HOLLOW = re.compile(rf"^[ \t]*(?:\d{{1,3}}[.)、]|[-*•]|(?:{LEAD_IN})(?:[ \t]*\d{{1,3}}[.)、]?)?)[ \t]*(?:\n|\Z)",
                     re.IGNORECASE | re.MULTILINE)


def drop_hollow_lines(text: str) -> str:
    """`text` without hollow lines (_HOLLOW), without a last sentence ending in a colon, and with at most
    one blank line in a row. A last line that is only "2." or a last sentence ending in ':' is dropped
    too: in a stream it is held back until what it introduces comes (the text shown then still begins
    the final answer)."""
    out = _HOLLOW.sub("", text).rstrip()
    # a last sentence that introduces what does not follow ("1. Visit the Harbor Bank website [1]:" once
    # the invented address after it is removed; "To send a wire, you need to:" cut by the token limit)
    while out.endswith((":", "：")):
        out = _HOLLOW.sub("", out[:split_sentences(out)[-1][0]]).rstrip()  # "1. ...:" leaves "1."
    return re.sub(r"\n{3,}", "\n\n", out)


_ITEM = re.compile(r"^[ \t]*(\d{1,3})[.)、][ \t]", re.MULTILINE)


def renumber_lists(text: str) -> str:
    """A numbered list whose items were taken out ("1. ...", "4. ...", "5. ...") numbered 1, 2, 3 again.
    Items of one list: numbered lines in increasing order (a number not above the one before starts a
    new list)."""
    out, last, count, pos = [], 0, 0, 0
    for m in _ITEM.finditer(text):
        n = int(m.group(1))
        count = count + 1 if last and n > last else 1
        last = n
        out.append(text[pos:m.start(1)] + str(count))
        pos = m.end(1)
    return "".join(out) + text[pos:]
