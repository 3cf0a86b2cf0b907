"""Quoting a passage's own text: which sentences can be quoted, and how a quote cites its passage."""
from __future__ import annotations

import re

from indexer.chunk import ABBREVIATION_END
from indexer.script import is_cjk
from indexer.tokenize import count_tokens as approx_tokens
from rag.text import ITEM_NUMBER, is_heading, is_table_row


def cite_sentence(sentence: str, n: int) -> str:
    """'Call 555-0199.' -> 'Call 555-0199 [1].'; 'Open until 4 p.m.' -> 'Open until 4 p.m. [1]';
    'Select Forgot password?' -> 'Select Forgot password? [1]'"""
    s = sentence.strip()
    if ABBREVIATION_END.search(s):  # its period stays with it: "until 4:00 p.m. [1]", not "p.m [1]."
        return f"{s} [{n}]"
    # ends inside a quotation, or with a question mark (a question, or a label: "select Forgot password?"
    # would read "select Forgot password [1]?"): the marker goes after it
    if re.search(r"[.!?。！？][\"'”’」』）)]+$|[?？]$", s):
        return f"{s}{'' if is_cjk(s) else ' '}[{n}]"
    m = re.search(r"[.!?。！？;；]+$", s)
    body, end = (s[:m.start()], m.group(0)) if m else (s, "。" if is_cjk(s) else ".")
    if end in (";", "；"):  # a clause quoted on its own ends as a sentence
        end = "。" if is_cjk(s) else "."
    return f"{body.rstrip()}{'' if is_cjk(body) else ' '}[{n}]{end}"


def quotable(sentence: str) -> bool:
    """Long enough to say something, short enough to quote: 3-90 words (a sentence listing its items runs
    long: "other codenames that have been already used are: buzz for release 1.1, rex for release 1.2, ..."
    is 84; at 60 the passage's next sentence was quoted instead), or 3-150 Chinese characters
    (a Chinese sentence packs a clause per comma; 60 characters cut off ordinary ones). Not a table
    row: its cells mean little without the header; nor a line introducing a list or table ("...为："),
    which says nothing without it (a table it introduces is quoted with it: `introduced_tables`)."""
    n = approx_tokens(sentence)
    return (not is_table_row(sentence) and not sentence.rstrip().endswith((":", "："))
            and 3 <= n <= (150 if is_cjk(sentence) else 90) and not is_heading(sentence))


def unnumbered(sentence: str) -> str:
    """A list item quoted on its own: without its number, opening with a capital letter (a list's "1.
    acknowledge your complaint ..." continues the line introducing it). Other sentences as they are
    ("apt-get, the APT-based command-line tool ...")."""
    s = ITEM_NUMBER.sub("", sentence)  # its number means nothing without its list ("2. 登录港湾银行手机银行")
    return s[:1].upper() + s[1:] if s != sentence and s[:1].islower() else s
