"""Answers within a platform's message size, counted in UTF-8 bytes: split at a paragraph, line,
sentence or word break where one is near, never inside a character or a citation marker ([3])."""
from __future__ import annotations

import re

# the documented limits (bytes of UTF-8): WeCom text content 2048 bytes; DingTalk markdown text is
# kept to 5000 bytes (the robot API documents no byte count for markdown; 5000 stays clear of the
# message limits DingTalk does document and of its 20 KB request body)
WECOM_TEXT_BYTES = 2048
DINGTALK_MARKDOWN_BYTES = 5000
ELLIPSIS = "…"

_ATOM = re.compile(r"\[\d{1,4}(?:\s*[,，]\s*\d{1,4})*\]|\r\n|.", re.S)
_BREAKS = (("\n\n",), ("\n",), ("。", "！", "？", ". ", "! ", "? ", "；", "; "), (" ", "，", ", ", "、"))


def _nbytes(s: str) -> int:
    return len(s.encode("utf-8"))


def _cut(atoms: list[str], limit: int) -> int:
    """How many atoms make the longest head within `limit` bytes, ending at a break if one lies in
    its second half."""
    total, n = 0, 0
    for a in atoms:
        b = _nbytes(a)
        if total + b > limit:
            break
        total += b
        n += 1
    if n == len(atoms):
        return n
    if n == 0:
        return 1  # one atom over the limit on its own (cannot happen for limit >= 64): let it through whole
    head = "".join(atoms[:n])
    for group in _BREAKS:
        best = -1
        for sep in group:
            i = head.rfind(sep)
            if i >= 0:
                best = max(best, i + len(sep))
        if best >= len(head) // 2:
            # the atom count whose text ends at `best`
            length, k = 0, 0
            while k < n and length + len(atoms[k]) <= best:
                length += len(atoms[k])
                k += 1
            if k > 0:
                return k
    return n


def split_message(text: str, limit: int) -> list[str]:
    """`text` as parts of at most `limit` UTF-8 bytes each (whitespace at the cuts dropped)."""
    if limit < 16:
        raise ValueError("limit must be at least 16 bytes")
    atoms = _ATOM.findall(text)
    parts: list[str] = []
    while atoms:
        k = _cut(atoms, limit)
        part = "".join(atoms[:k]).strip()
        atoms = atoms[k:]
        while atoms and atoms[0].isspace():
            atoms = atoms[1:]
        if part:
            parts.append(part)
    return parts


def truncate_message(text: str, limit: int) -> str:
    """The head of `text` within `limit` bytes, ending in '…' when something was cut."""
    if _nbytes(text) <= limit:
        return text
    head = split_message(text, limit - _nbytes(ELLIPSIS))[0]
    return head + ELLIPSIS
