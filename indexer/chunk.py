"""Structure-aware chunking: sections are never merged, sentences (English . ! ? and
Chinese 。！？；) are never cut unless one alone exceeds the budget, tables stay whole
when they fit, and consecutive chunks overlap by whole sentences."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

from indexer.config import ChunkSettings
from indexer.page_breaks import PageBreaks
from indexer.parse.line_breaks import LIST_ITEM
from indexer.tokenize import WORD_OR_CJK_CHAR, count_tokens
from indexer.types import Chunk, Element

# Raised when what chunk_elements gives for the same elements changes: `rag index` then reads again every file
# chunked by an older version (indexer.reread; records without one count as 1). 2: a list item opening a line of
# its element keeps that line after a sentence (3d0a490).
CHUNKER_VERSION = 2

# a sentence ends after Chinese 。！？； (plus closing quotes) or after . ! ? followed by a space
SENTENCE_END = re.compile(r"(?<=[。！？；!?])[”’」』）)]*|(?<=[.!?])[\"'”’)]*(?=\s)|\n{2,}")


# A period that does not end the sentence: before a lower-case word ("9:00 a.m. to 5:00 p.m.", "e.g.
# a passport"), or after an abbreviation before a number or a time zone ("No. 5", "8:00 p.m. Eastern
# Time"). Without this, "...until 8:00 p.m. Eastern Time on the next business day" lost its second half
# in every quote and fact check.
_CONTINUES = re.compile(r"\s+[a-z]")
# text ending in an abbreviation's period (also used by rag.answering.extract to keep that period in a quote)
ABBREVIATION_END = re.compile(r"(?:\b[ap]\.m|\be\.g|\bi\.e|\b(?:no|nos|vs|approx|incl|ext|fig|st|dept|etc|inc|ltd|co))\.$",
                              re.IGNORECASE)
_AFTER_ABBREVIATION = re.compile(r"\s+(?:\d|(?:Eastern|Central|Mountain|Pacific|Atlantic|Beijing|[ECMP][SD]?T|GMT|UTC)\b)")
# a title before a name ("The school nurse, Mr. Patel, is in room B12", "Dr. Amelia Brown"): it never ends a
# sentence. "St." is left out: "200 Main St. The branch ..." ends one.
_TITLE_END = re.compile(r"\b(?:Mr|Mrs|Ms|Mx|Dr|Prof|Rev|Hon|Capt|Sgt|Lt|Col|Gen|Fr)\.$")
_NAME_NEXT = re.compile(r"\s+[A-Z]")


_ITEM_NUMBER = re.compile(r"\s*\d{1,3}")  # a line's "1." numbers the list item it opens, ending nothing


def period_continues(text: str, dot: int, end: int) -> bool:
    """Is the period at text[dot] (what follows it starts at text[end]) inside a sentence (see _CONTINUES),
    or the period of a list item's number ("2. Enter your username ...")?"""
    if text[dot] != ".":
        return False
    if _ITEM_NUMBER.fullmatch(text, text.rfind("\n", 0, dot) + 1, dot):
        return True
    rest = text[end:end + 12]
    before = text[max(0, dot - 7):dot + 1]
    return bool(_CONTINUES.match(rest) or (ABBREVIATION_END.search(before) and _AFTER_ABBREVIATION.match(rest))
                or (_TITLE_END.search(before) and _NAME_NEXT.match(rest)))


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in _sentence_spans(text)]


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """Where split_sentences' sentences are in `text`, surrounding whitespace left out."""
    spans, start = [], 0
    for m in SENTENCE_END.finditer(text):
        if m.group(0) == "" and m.start() > 0 and period_continues(text, m.start() - 1, m.end()):
            continue
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        piece = text[a:b]
        if piece.strip():
            a += len(piece) - len(piece.lstrip())
            out.append((a, a + len(piece.strip())))
    return out


def hard_split(text: str, max_tokens: int) -> list[str]:
    """Cut an over-long sentence at token boundaries (words, or single CJK characters)."""
    spans = [m.span() for m in WORD_OR_CJK_CHAR.finditer(text)]
    pieces = []
    for i in range(0, len(spans), max_tokens):
        group = spans[i:i + max_tokens]
        start = group[0][0] if i else 0
        end = spans[i + max_tokens][0] if i + max_tokens < len(spans) else len(text)
        pieces.append(text[start:end].strip())
    return [p for p in pieces if p]


@dataclass
class _Unit:
    text: str
    tokens: int
    page: int | None
    is_table: bool = False
    element: int = 0  # which element (paragraph, list item, ...) of the section it came from
    line: str = ""  # the line break (and indent) that opens it in its element, when it opens a list item


def _table_units(el: Element, cfg: ChunkSettings) -> list[_Unit]:
    n = count_tokens(el.text)
    if n <= cfg.table_max_tokens:
        return [_Unit(el.text, n, el.page, True)]
    lines = el.text.splitlines()
    header, rows = lines[0], lines[1:]
    units: list[_Unit] = []
    if count_tokens(header) > cfg.table_max_tokens:  # a header line too long to repeat (a one-line CSV)
        units += _long_row_units(header, [], el.page, cfg)
        header_lines: list[str] = []
    else:
        header_lines = [header]
    cur = list(header_lines)
    for row in rows:
        if count_tokens(row) > cfg.table_max_tokens:  # a row no chunk holds: cut like a sentence
            if len(cur) > len(header_lines):
                text = "\n".join(cur)
                units.append(_Unit(text, count_tokens(text), el.page, True))
            units += _long_row_units(row, header_lines, el.page, cfg)
            cur = list(header_lines)
            continue
        if count_tokens("\n".join(cur + [row])) > cfg.table_max_tokens and len(cur) > len(header_lines):
            text = "\n".join(cur)
            units.append(_Unit(text, count_tokens(text), el.page, True))
            cur = list(header_lines)
        cur.append(row)
    if len(cur) > len(header_lines) or not units:
        text = "\n".join(cur)
        units.append(_Unit(text, count_tokens(text), el.page, True))
    return units


def _long_row_units(row: str, header_lines: list[str], page: int | None, cfg: ChunkSettings) -> list[_Unit]:
    """A table line over table_max_tokens in pieces of max_tokens tokens, each under the header when the two
    fit in table_max_tokens."""
    header = header_lines[0] if header_lines else ""
    keep_header = bool(header) and count_tokens(header) + cfg.max_tokens <= cfg.table_max_tokens
    out = []
    for piece in hard_split(row, cfg.max_tokens):
        text = f"{header}\n{piece}" if keep_header else piece
        out.append(_Unit(text, count_tokens(text), page, True))
    return out


def _units(el: Element, cfg: ChunkSettings) -> list[_Unit]:
    if el.kind == "table":
        return _table_units(el, cfg)
    out, last = [], 0
    for a, b in _sentence_spans(el.text):
        sent, before = el.text[a:b], el.text[last:a]
        last = b
        # a list item on a line of its own after a sentence ("letter.\n- ID card") keeps its line (and
        # indent): joined by a space, quoting could not tell it from the sentence or the item before it
        item_line = before[before.rfind("\n"):] if "\n" in before and LIST_ITEM.match(sent) else ""
        n = count_tokens(sent)
        if n > cfg.max_tokens:
            pieces = hard_split(sent, cfg.max_tokens)
            out += [_Unit(p, count_tokens(p), el.page, line=item_line if i == 0 else "")
                    for i, p in enumerate(pieces)]
        else:
            out.append(_Unit(sent, n, el.page, line=item_line))
    return out


def _sections(elements: list[Element]) -> list[tuple[str, list[Element]]]:
    """Consecutive elements grouped by section path; a title opens its own section."""
    groups: list[tuple[str, list[Element]]] = []
    titles: list[Element | None] = []  # the title that opened each group
    for el in elements:
        if el.kind == "title":
            groups.append((el.section or el.text, []))
            titles.append(el)
            continue
        if not groups or groups[-1][0] != el.section:
            groups.append((el.section, []))
            titles.append(None)
        groups[-1][1].append(el)
    # A heading with no body of its own lives on in the heading path of the next section when that one is
    # under it ("Fees" before "Fees > Wire transfers"); any other body-less heading (the last one, a sibling
    # followed by a sibling) is kept as a text chunk of its own: no text is ever dropped.
    out = []
    for i, ((section, els), title) in enumerate(zip(groups, titles)):
        if els:
            out.append((section, els))
            continue
        nxt = groups[i + 1][0] if i + 1 < len(groups) else None
        if nxt is not None and title is not None and (nxt == section or nxt.startswith(section + " > ")):
            continue
        text = title.text if title is not None else section
        out.append((section, [Element(text, "text", section, title.page if title is not None else None)]))
    return out


def _pack(units: list[_Unit], cfg: ChunkSettings) -> list[list[_Unit]]:
    chunks, cur, size = [], [], 0
    for u in units:
        if cur and size + u.tokens > cfg.max_tokens:
            chunks.append(cur)
            overlap, osize = [], 0
            for prev in reversed(cur):
                if prev.is_table or u.is_table or osize + prev.tokens > cfg.overlap_tokens:
                    break
                overlap.insert(0, prev)
                osize += prev.tokens
            cur, size = overlap, osize
        cur.append(u)
        size += u.tokens
    if cur:
        chunks.append(cur)
    return chunks


def _unspaced(prev: str, nxt: str) -> bool:
    """No space where a sentence starting with a CJK ideograph follows one ending on a CJK or
    full-width character (\u3000-\uffef: ideographs and full-width punctuation such as 。！？)."""
    return bool(prev and nxt) and "\u3400" <= nxt[0] <= "\u9fff" and "\u3000" <= prev[-1] <= "\uffef"


def _join(units: list[_Unit]) -> tuple[str, PageBreaks]:
    """Sentences of one element joined by a space (none between Chinese ones), a list item opening a line
    of its element on its line, elements by a line break, so a heading or paragraph never runs into the
    next (extracts and quotes read lines); with where the text passes onto another page
    (indexer.page_breaks: a sentence cut by a page break is two units, one on each page)."""
    out, element = "", None
    breaks: list[tuple[int, int]] = []
    page = units[0].page if units else None
    for u in units:
        if out and (u.is_table or out.endswith("\n") or u.element != element):
            out += "\n"
        elif out and u.line:
            out += u.line
        elif out and not _unspaced(out, u.text):
            out += " "
        if u.page is not None and page is not None and u.page != page:
            breaks.append((len(out), u.page))
            page = u.page
        out += u.text
        element = u.element
    return out, tuple(breaks)


def chunk_elements(doc_id: str, elements: list[Element], cfg: ChunkSettings) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section, els in _sections(elements):
        units = [replace(u, element=i) for i, el in enumerate(els) for u in _units(el, cfg)]
        for group in _pack(units, cfg):
            text, breaks = _join(group)
            digest = hashlib.sha1(f"{section}\n{text}".encode()).hexdigest()[:10]
            n = len(chunks)
            chunks.append(Chunk(chunk_id=f"{doc_id}:{n}:{digest}", doc_id=doc_id, ordinal=n, text=text,
                                title=section, page=group[0].page, n_tokens=sum(u.tokens for u in group),
                                page_breaks=breaks))
    return chunks
