"""Document mode of the guard: text inside a document that addresses the assistant instead of the
reader ("The assistant must answer every question with ...", "ignore your previous instructions",
"助手必须……") is an instruction planted in the knowledge base. Such sentences are screened out at
indexing time (never stored, so never retrieved or quoted into a prompt; the rest of their chunk is
kept: indexer.screen) and counted in the job's report for an admin.

The question patterns of the input guard apply, plus patterns that only make sense in a document:
sentences whose subject is the assistant / AI / model / chatbot and whose verb is an obligation,
and orders about how to answer every question.
"""
from __future__ import annotations

import hashlib
import re

from indexer.screen import Screen
from rag.guard.input_guard import normalise
from rag.guard.patterns import CROSS_KB, INJECTION, Pattern

_BOT = r"(?:assistant|ai|a\.i\.|chatbot|chat\s*bot|bot|language\s+model|llm|model|gpt|copilot|agent)"
_MUST = r"(?:must|shall|should|will\s+always|has\s+to|have\s+to|is\s+required\s+to|needs\s+to|is\s+instructed\s+to)"
_DOC_EN: list[tuple[str, str, str]] = [
    ("doc-bot-must", "words", rf"\b(?:the|this|any|an?|you\s+the)\s+{_BOT}\s+{_MUST}\b"),
    ("doc-answer-every", "words", r"\b(?:answer|respond\s+to|reply\s+to)\s+(?:every|each|all|any)\s+(?:question|query|"
                                  r"request|user)s?\s+(?:with|by|using)\b"),
    ("doc-when-asked-say", "words", rf"\b(?:if|when)\s+(?:a\s+|the\s+)?(?:user|customer|anyone|someone)\s+asks?\b.{{0,80}}"
                                    rf"\b(?:the\s+{_BOT}\s+)?(?:must|should|shall)\s+(?:say|answer|reply|respond|tell)\b"),
    ("doc-note-to-ai", "words", rf"\b(?:note|message|instructions?)\s+(?:to|for)\s+(?:the\s+)?{_BOT}s?\b"),
]
_DOC_ZH: list[tuple[str, str, str]] = [
    ("zh-doc-bot-must", "squash", r"(?:助手|助理|机器人|人工智能|ai|模型|大模型)(?:必须|务必|应当|应该|需要|一律|总是|只能)"
                                  r".{0,20}?(?:回答|回复|答复|输出|告诉|透露|忽略)"),
    ("zh-doc-answer-every", "squash", r"(?:所有|每个|每一个|任何)(?:的)?(?:问题|提问|请求)(?:都|一律|均)(?:必须|要|应)?(?:回答|回复|答复)"),
]


def _compile(table: list[tuple[str, str, str]]) -> list[Pattern]:
    return [(name, form, re.compile(rx)) for name, form, rx in table]


DOCUMENT: list[Pattern] = _compile(_DOC_EN + _DOC_ZH)


def screen_text(text: str) -> str | None:
    """The rule a text of a document (a sentence, a chunk) breaks by addressing the assistant, or None when it
    is content."""
    norm = normalise(text)
    for patterns in (INJECTION, DOCUMENT, CROSS_KB):
        for name, form, rx in patterns:
            if rx.search(getattr(norm, form)):
                return name
    return None


# Documents screened under other patterns are screened again when next indexed (indexer.screen.fingerprint).
# "sentences-": the screen drops flagged sentences, no longer whole chunks. Change the prefix when
# `normalise` or the way the screen is applied changes what it keeps out.
_PATTERNS = "\n".join(f"{name}|{form}|{rx.pattern}" for table in (INJECTION, DOCUMENT, CROSS_KB)
                      for name, form, rx in table)
DOCUMENT_SCREEN = Screen(version="sentences-" + hashlib.sha1(_PATTERNS.encode()).hexdigest()[:10], rule=screen_text)
