"""Markdown as people write it, made into the Markdown that Python-Markdown (what unstructured renders
with) reads the same way.

* Front matter: the YAML block of static-site and wiki pages ("---\\ntitle: ...\\ntags: [...]\\n---") is
  metadata no reader sees; it was indexed as a paragraph "title: Lab safety rules author: ...". It is
  dropped (also TOML "+++" blocks) when the file starts with one whose first line is a "key:" pair.
* Nested lists: Python-Markdown nests a list only when it is indented four spaces; GitHub, Typora, Obsidian
  and VS Code (CommonMark) nest it at the parent item's text, two or three spaces in. A 2-space nested
  bullet list became items of its parent list, numbered with it ("1. Wear goggles", "2. Always in the wet
  lab", ..., "4. Wash hands" for the second step). Lines inside list items are re-indented so each level
  is four spaces deeper than its parent's marker. Python-Markdown also reads fenced code only at the margin
  (in an item, the next item joined the code's line) and runs a bullet list on into an ordered list before
  it: fenced code in an item becomes an indented block, and a list of the other kind starts a new list.
  It also runs the next item on into an item's second paragraph ("   More about step 1." over "2. Pay",
  no blank line between): steps 2 to 5 of a procedure became one paragraph of step 1. A blank line is put
  before such an item.
* Lists in block quotes ("> - 办理入院手续" over ">   - 需携带身份证"): the lines a quote holds (a run of lines
  opening with ">" at the margin, blank lines between them included, as Python-Markdown joins them into one
  quote) are nested as above and quoted again; a quote whose lines nothing changes is left as written.
"""
from __future__ import annotations

import re
from itertools import groupby

_FRONT_MATTER = re.compile(r"\A\ufeff?(---|\+\+\+)[ \t]*\r?\n(?P<body>.*?)^(?:\1|\.\.\.)[ \t]*(?:\r?\n|\Z)",
                           re.DOTALL | re.MULTILINE)
_KEY = re.compile(r"\s*[\w\-\"']+\s*[:=]")
_FRONT_MATTER_MAX_CHARS = 20_000  # front matter is a few lines; a long "---" block is a document's own
_ITEM = re.compile(r"( *)([-*+]|\d{1,9}[.)])( +|$)")
_FENCE = re.compile(r" *(`{3,}|~{3,})")
_QUOTES_NESTED = 8  # lists are nested in quotes up to 8 deep ("> > > ..."); a deeper one is left as written


def drop_front_matter(text: str) -> str:
    m = _FRONT_MATTER.match(text[:_FRONT_MATTER_MAX_CHARS])
    if m is None:
        return text
    first = next((line for line in m.group("body").splitlines() if line.strip()), "")
    return text[m.end():] if _KEY.match(first) else text


def nest_lists(text: str) -> str:
    """Re-indent the lines of list items, in block quotes too, so that Python-Markdown nests them as
    CommonMark does."""
    return _nest(text, _QUOTES_NESTED)


def _nest(text: str, quotes_left: int) -> str:
    if quotes_left <= 0:  # a quote in more quotes than people write: as it is (no recursion without end)
        return text
    out: list[str] = []
    for lines, quoted in _quote_runs(text.split("\n")):
        out.extend(_nest_quoted(lines, quotes_left - 1) if quoted else _nest_unquoted("\n".join(lines)).split("\n"))
    return "\n".join(out)


def _quote_runs(lines: list[str]) -> list[tuple[list[str], bool]]:
    """`lines` cut into runs of quoted lines (">" at the margin, outside fenced code, and the blank lines
    between two of them) and runs of the lines between: [(lines, quoted)], in order."""
    marks: list[bool] = []
    fence: str | None = None
    for line in lines:
        marks.append(fence is None and line.startswith(">"))
        stripped = line.strip()
        if fence is not None:
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = None
        elif not marks[-1] and (fenced := _FENCE.match(line.expandtabs(4))):
            fence = fenced.group(1)
    last: int | None = None  # the quoted line before the blank lines seen since
    for i, line in enumerate(lines):
        if marks[i] and last is not None:
            marks[last + 1:i] = [True] * (i - last - 1)  # only blank lines between two quoted lines
        last = i if marks[i] else (last if not line.strip() else None)
    return [([line for _, line in run], quoted)
            for quoted, run in groupby(zip(marks, lines), key=lambda pair: pair[0])]


def _nest_quoted(lines: list[str], quotes_left: int) -> list[str]:
    """A quote's lines with the lists it holds nested (its own quotes too), quoted again; as written where
    that changes nothing."""
    # ">" and the one space after it that Python-Markdown strips; the blank lines between stay blank
    inner = [line[2:] if line.startswith("> ") else line[1:] for line in lines]
    nested = _nest("\n".join(inner), quotes_left).split("\n")
    return lines if nested == inner else [">" + (" " + line if line.strip() else "") for line in nested]


def _nest_unquoted(text: str) -> str:
    """nest_lists for text that holds no quote at the margin."""
    out: list[str] = []
    stack: list[tuple[int, int]] = []  # open items: (column its text starts at, its marker's new indent)
    fence: str | None = None
    shift = 0  # how far the open fence's code lines move
    converted = False  # the open fence was in a list item: its fence lines go, its code is indented
    top_kind: str | None = None  # "ordered" or "bullet": the list open at the left margin
    previous_blank = True
    loose_paragraph = False  # in a paragraph an item's blank line opened: the next item would join it
    for line in text.split("\n"):
        expanded = line.expandtabs(4)
        indent = len(expanded) - len(expanded.lstrip(" "))
        if fence is not None:  # inside fenced code, up to the closing fence
            if expanded.strip().startswith(fence) and not expanded.strip().strip(fence[0]):
                fence = None
                out.append("" if converted else line)
            else:
                out.append(" " * shift + expanded if shift >= 0 else expanded[min(-shift, indent):])
            continue
        if not expanded.strip():
            out.append(line)
            previous_blank = True
            loose_paragraph = False
            continue
        item = _ITEM.match(expanded)
        open_items = len(stack)
        if item or previous_blank:
            while stack and indent < stack[-1][0]:
                stack.pop()  # not inside that item any more (a lazy continuation line keeps it open)
        if item and loose_paragraph and len(stack) < open_items:
            out.append("")  # the item closes the one the paragraph is in: Python-Markdown ran it on into it
        loose_paragraph = (not item and bool(stack) and indent >= stack[-1][0] and previous_blank) or (
            loose_paragraph and not item)
        if not stack and not item:
            top_kind = None
        fenced = _FENCE.match(expanded)
        if fenced and stack and indent >= stack[-1][0]:
            # Python-Markdown reads fences at the margin only: in a list item the code becomes an indented
            # block (eight spaces past the item's marker), or the item's next sibling joined the code's line
            fence, shift, converted = fenced.group(1), stack[-1][1] + 8 - indent, True
            out.append("")
            continue
        if item:
            kind = "bullet" if item.group(2) in "-*+" else "ordered"
            if not stack:
                if top_kind is not None and kind != top_kind:
                    out.extend(["", "<!-- -->", ""])  # CommonMark starts a new list; Python-Markdown ran on
                top_kind = kind
            marker_indent = stack[-1][1] + 4 if stack else indent
            content = indent + len(item.group(2)) + max(len(item.group(3)), 1)
            stack.append((content, marker_indent))
            new = " " * marker_indent + expanded.lstrip(" ")
        elif stack and indent >= stack[-1][0]:
            new = " " * (stack[-1][1] + 4 + indent - stack[-1][0]) + expanded.lstrip(" ")
        else:
            new = line
        if fenced:
            fence, shift, converted = fenced.group(1), 0, False
        out.append(new)
        previous_blank = False
    return "\n".join(out)
