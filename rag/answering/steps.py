"""Procedures: a question asking how to do something ("How do I reset my online banking password?",
"忘记登录密码怎么办？") is answered with the numbered steps the documents give for it, whole and in order,
not with the sentence that shares most of its words (an article's "This help article explains how to
reset ..." opening) nor with steps a small model makes up.

A passage gives the steps for the question when it holds a numbered list ("1. ...", "2、...", "（3）...",
numbered from 1 with no gaps; ordered lists of HTML and Markdown are numbered by the parser) and its
section title, with the line introducing the list, shares two or more of the question's words (or one, and the
steps another).
"""
from __future__ import annotations

import re

from rag.answering.words import quote_words
from rag.text import ITEM_NUMBER

_ASKS_HOW = re.compile(r"\bhow (?:do|can|should|would|to) (?:i|we|you)?\b|\bhow to\b|\bwhat (?:are )?the steps\b"
                      r"|\bprocedure\b|怎么|如何|怎样|步骤|流程", re.IGNORECASE)
MAX_STEPS = 12  # a longer list is a table of contents or a policy, not one procedure


def asks_how(question: str) -> bool:
    return bool(_ASKS_HOW.search(question))


def numbered_steps(text: str) -> tuple[str, list[str]] | None:
    """(the line before the list, the list's lines) of the first run of lines numbered 1, 2, 3 ... (two or
    more) in `text`; None when it has none."""
    lines = [line.strip() for line in text.splitlines()]
    i = 0
    while i < len(lines):
        m = ITEM_NUMBER.match(lines[i])
        if m and int(m.group(1) or m.group(2)) == 1:
            j = i + 1
            while j < len(lines) and (n := ITEM_NUMBER.match(lines[j])) and int(n.group(1) or n.group(2)) == j - i + 1:
                j += 1
            if 2 <= j - i <= MAX_STEPS:
                return (lines[i - 1] if i else ""), lines[i:j]
            i = j
        else:
            i += 1
    return None


def steps_for(question: str, text: str, title: str = "") -> tuple[int, list[str]] | None:
    """The numbered steps of `text` that answer a question asking how to do something, with how many of the
    question's words its section title and the line introducing the list hold: its list, when they hold two
    or more of them. Words are matched as quotes are (rag.answering.words: a group of equivalents is one
    word, so "密码忘了怎么办" meets "一、忘记登录密码")."""
    if not asks_how(question) or (found := numbered_steps(text)) is None:
        return None
    intro, steps = found
    asked = quote_words(question)
    about = asked & quote_words(f"{title.rsplit('>', 1)[-1]} {intro}")
    # or one of them, and another the steps hold: "how do i report my son absent" under "REPORTING AN
    # ABSENCE" (absent is no absence to the stemmer), whose third step speaks of a student "absent through illness"
    if len(about) >= 2 or (about and (asked - about) & quote_words(" ".join(steps))):
        return len(about), steps
    return None
