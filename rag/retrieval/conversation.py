"""Follow-up questions: the retrieval query is expanded from the history, without an LLM call.

A follow-up that is short or leans on the previous turn ("what about for students?",
"它的费用是多少？") is searched together with the previous user question; a self-contained
question is searched alone.
"""
from __future__ import annotations

import re

from indexer.tokenize import tokenize

ANAPHORA_EN = re.compile(r"\b(it|its|that|this|those|these|they|them|there|he|she|what about|how about|and if|same)\b", re.I)
ANAPHORA_ZH = re.compile(r"(它|它们|这个|那个|这些|那些|这种|那种|上述|刚才|那么|呢[？?]?$|还有|同样)")


def needs_context(question: str, min_content_tokens: int = 4) -> bool:
    q = question.strip()
    return (len(tokenize(q)) < min_content_tokens or bool(ANAPHORA_EN.search(q)) or bool(ANAPHORA_ZH.search(q)))


# user turns a follow-up of follow-ups reaches back ("When does the Line 7 bus leave?" / "And Line 9?" / "Who
# drives it?": the third needs both before it)
MAX_TURNS_BACK = 3


# a turn that opens by leaning on the one before ("And Line 9?", "Or by card?", "那信用卡呢？")
LEADING_EN = re.compile(r"^\s*(?:and|or|but|also|so)\b", re.I)
LEADING_ZH = re.compile(r"^\s*(?:那么?|还有|另外|那如果)")


def leans_on_previous(question: str) -> bool:
    """Does the question lean on the turn before by its words (a pronoun, "and ...", "那 ...呢"), or hold at
    most one content word? A short question that names its subject ("Where is the school nurse?") does not."""
    q = question.strip()
    return (len(tokenize(q)) < 2 or bool(ANAPHORA_EN.search(q)) or bool(ANAPHORA_ZH.search(q))
            or bool(LEADING_EN.match(q)) or bool(LEADING_ZH.match(q)))


def retrieval_query(question: str, history: list[dict[str, str]] | None) -> str:
    """The text to search for: the question, plus, when it is a follow-up, the user turn before it, and the
    ones before that while each leans on its own previous turn (at most MAX_TURNS_BACK)."""
    if not history or not needs_context(question):
        return question
    previous = [m["content"].strip() for m in history if m.get("role") == "user" and m.get("content", "").strip()]
    taken: list[str] = []
    for turn in reversed(previous[-MAX_TURNS_BACK:]):
        taken.insert(0, turn)
        if not leans_on_previous(turn):
            break
    return " ".join([*taken, question])
