"""A quote from a list of prohibitions names the prohibition.

The items under a heading such as "二、严禁行为" or "Not allowed on the wards" say what is forbidden only
through their heading. Quoted alone, an item reads as its opposite: "可以骑电动车上学吗？" was answered
"骑电动车上学(学生可以骑自行车…)[1]。", which reads as a yes. Each quoted sentence of a passage whose own
section heading forbids or requires (严禁, 禁止, 不得, "not allowed", "must not", ...) is given that
heading when it does not say so itself: "严禁行为：骑电动车上学(…)[1]。".
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from indexer.script import is_cjk
from rag.answering.cite import split_sentences
from rag.answering.markers import MARKER
from rag.answering.types import Citation

__all__ = ["name_prohibitions"]

# a heading (or a sentence) that forbids or requires
_RULE = re.compile(r"严禁|禁止|不得|不准|不允许|不可以|请勿|切勿|不要|谢绝|必须"
                   r"|\b(?:prohibited|forbidden|banned|not (?:allowed|permitted)|must not|must|do not|don't"
                   r"|never|no \w+ allowed)\b", re.IGNORECASE)
# the heading's own number: "二、", "3.", "(4)"
_NUMBER = re.compile(r"^\s*(?:[一二三四五六七八九十]+[、.．]|\d{1,2}[.、．)]|[（(][一二三四五六七八九十\d]{1,2}[)）])\s*")


def _heading(title: str) -> str | None:
    """The passage's own section heading (the last of its title path) when it forbids or requires."""
    last = (title or "").rsplit(">", 1)[-1].strip()
    last = _NUMBER.sub("", last)
    return last if last and len(last) <= 60 and _RULE.search(last) else None


def name_prohibitions(answer: str, citations: Sequence[Citation]) -> str:
    """`answer` (a quoted answer: sentences each ending in their [n] markers, `citations` theirs) with the
    heading of a forbidding section put before each sentence quoted from it that does not forbid or require
    itself."""
    if not answer:
        return answer
    titles = {c.n: c.title for c in citations}
    out, changed = [], False
    for start, end in split_sentences(answer):
        sentence = answer[start:end]
        numbers = [int(n) for m in MARKER.finditer(sentence) for n in re.findall(r"\d+", m.group(1))]
        body = sentence.lstrip()
        heading = None
        if numbers and numbers[0] in titles and not _RULE.search(MARKER.sub("", body)):
            heading = _heading(titles[numbers[0]])
        if heading and not body.startswith(heading):
            lead = sentence[: len(sentence) - len(body)]
            sentence = f"{lead}{heading}{'：' if is_cjk(heading) else ': '}{body}"
            changed = True
        out.append(sentence)
    return "".join(out) if changed else answer
