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


def retrieval_query(question: str, history: list[dict[str, str]] | None) -> str:
    """The text to search for: the question, plus the last user turn when it is a follow-up."""
    if not history or not needs_context(question):
        return question
    previous = [m["content"] for m in history if m.get("role") == "user" and m.get("content", "").strip()]
    return f"{previous[-1]} {question}" if previous else question
