"""md / html / txt / docx / pptx through `unstructured`, mapped to our Element kinds.

Text formats are decoded by indexer.parse.encoding and handed to unstructured as `text=`, so it
never guesses an encoding. unstructured is imported lazily, after indexer.parse.offline_nlp has
switched off its telemetry and its spaCy model download. docx/pptx are checked for ZIP bombs
(indexer.parse.zipcheck) before unstructured opens them. Over-long lines of plain text and Markdown
are cut into pieces first (indexer.parse.long_lines), so no element is a megabyte of text.
"""
from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from indexer.parse import docx_numbering, pptx_bullets
from indexer.parse.docx_view import docx_as_read
from indexer.parse.encoding import read_text
from indexer.parse.errors import ParseError
from indexer.parse.extension import file_extension
from indexer.parse.html_boilerplate import trailing_licence_lines
from indexer.parse.html_depth import check_depth
from indexer.parse.html_doctype import drop_internal_subset
from indexer.parse.html_rewrite import rewrite_html
from indexer.parse.limits import ParseLimits
from indexer.parse.line_breaks import html_source_text, keep_line_breaks
from indexer.parse.long_lines import bound_lines
from indexer.parse.markdown_lists import nest_list_items, tighten_items
from indexer.parse.markdown_source import drop_front_matter, nest_lists
from indexer.parse.offline_nlp import ensure_offline_nlp
from indexer.parse.ordered_lists import markdown_html, number_ordered_lists
from indexer.parse.pptx_notes import slide_notes, with_notes
from indexer.parse.sentence_end import ENDS_LIKE_SENTENCE
from indexer.parse.table_spans import html_table_rows
from indexer.parse.tabular import table_elements
from indexer.parse.text_title import BLANK_LINE_AFTER, NUMBERED_HEADING, with_document_title
from indexer.parse.xml_dtd import entity_refusal
from indexer.parse.zipcheck import check_zip
from indexer.script import is_cjk
from indexer.types import Element, ElementKind

# raise when what this parser gives for a file changes (text, sections, pages, tables): `rag index` then
# reads again the files it read before (indexer.parse.versions; vectors of unchanged chunks are reused)
# per format: a fix to Markdown lists raises markdown's only, so Word files are not read again for it
# markdown 2: an ordered list cut in two by a stray block keeps the source's numbers (8e2edd4)
# html 2: an item written as <li><div> keeps its sub-items and its number (f0659e9)
# html 3: the sub-items of an empty item (<li><ul>...) are not put under the item of the list before it
# markdown 3: the same for Markdown's empty items ("- - x")
# text 3: an opening line with a heading right after it is the title too, that heading's section under it
# markdown 4, html 4, docx 2, pptx 2: a table row's blank first cell under a named row carries that name
# (indexer.parse.row_names, in tabular.table_elements)
# markdown 5, html 5, docx 3, pptx 3: a year in the first column names the rows under it; a grand total row does
# not take the group's name above it (indexer.parse.row_names)
PARSER_VERSIONS = {"markdown": 5, "html": 5, "text": 3, "docx": 3, "pptx": 3}

# Running headers/footers and page numbers repeat on every page: noise for retrieval.
_SKIPPED = {"PageBreak", "PageNumber", "Header", "Footer"}
_KINDS: dict[str, ElementKind] = {"Title": "title", "Table": "table", "ListItem": "list"}
# a plain-text "heading" that ends like a sentence (ENDS_LIKE_SENTENCE) is a short sentence unstructured's
# heuristics (no verb found) mistook for a title
_HEADING_MAX_CHARS = 80
# Plain-text layout: a heading underlined with a rule ("Fees\n====", setext style; unstructured
# hands it over as one element "Fees ====") and rule lines standing alone ("----------").
_UNDERLINED = re.compile(r"(.+?)\s+([=\-~_*#])\2{2,}")
_RULE_ONLY = re.compile(r"[=\-~_*#\s]{3,}")

# unstructured runs langdetect over every text document to fill `metadata.languages`, which no
# Element carries (indexer.script detects the script where it matters). [""] switches it off: the
# elements are unchanged (checked on 173 md/html/txt files), a tenth of the parse time of md goes,
# and langdetect's "No features in text." lines leave the log.
_NO_LANGUAGE_DETECTION = [""]

_OFFICE_NAMES = {".docx": "Word document (.docx)", ".pptx": "PowerPoint presentation (.pptx)"}


def parse_with_unstructured(path: Path, limits: ParseLimits | None = None) -> list[Element]:
    suffix = file_extension(path)
    if suffix in _OFFICE_NAMES:
        check_zip(path, limits)
    ensure_offline_nlp()
    if suffix in (".md", ".markdown", ".html", ".htm"):
        # the HTML a Markdown file renders to, as unstructured's partition_md renders it; ordered lists
        # numbered in both (a procedure's steps keep their order: indexer.parse.ordered_lists)
        from unstructured.partition.html import partition_html
        text = read_text(path)
        # indexer.parse.markdown_source, then loose items holding a list read as lines (markdown_lists)
        html = (tighten_items(markdown_html(bound_lines(nest_lists(drop_front_matter(text)))))
                if suffix in (".md", ".markdown")
                else number_ordered_lists(drop_internal_subset(text)))  # indexer.parse.html_doctype
        check_depth(html, path)
        if suffix in (".html", ".htm"):
            html = rewrite_html(html)  # page chrome dropped, merged table cells spread (indexer.parse.html_rewrite)
        raw = partition_html(text=html, languages=_NO_LANGUAGE_DETECTION)
        if suffix in (".html", ".htm"):  # copyright and ICP licence lines at the page's end
            raw = raw[:len(raw) - trailing_licence_lines([getattr(e, "text", "") or "" for e in raw])]
        _keep_breaks(raw, html_source_text(html))  # soft line breaks in Chinese (indexer.parse.line_breaks)
        raw = nest_list_items(raw)  # sub-items under their item (indexer.parse.markdown_lists)
    elif suffix in (".txt", ".text"):
        from unstructured.cleaners.core import auto_paragraph_grouper
        from unstructured.partition.text import partition_text
        text = read_text(path)
        # unstructured's own grouping (one paragraph a line after it), then over-long paragraphs cut
        paragraphs = bound_lines(auto_paragraph_grouper(text))
        raw = partition_text(text=paragraphs, paragraph_grouper=False, languages=_NO_LANGUAGE_DETECTION)
        _keep_breaks(raw, text)  # a heading's and a list item's line breaks (indexer.parse.line_breaks)
    elif suffix == ".docx":
        from unstructured.partition.docx import partition_docx
        docx_numbering.install()  # "一、" and "（二）" labels (indexer.parse.docx_numbering)
        raw = _office(partition_docx, path, docx_as_read(path))  # as Word shows it (indexer.parse.docx_view)
    elif suffix == ".pptx":
        from unstructured.partition.pptx import partition_pptx
        pptx_bullets.install()  # sub-bullets under their parent (indexer.parse.pptx_bullets)
        raw = _office(partition_pptx, path)
    else:
        raise ValueError(f"not an unstructured format: {suffix}")
    elements = to_elements(raw, heuristic_titles=suffix in (".txt", ".text"),
                           slides=suffix == ".pptx", source=text if suffix in (".txt", ".text") else None)
    # speaker notes after each slide's content (indexer.parse.pptx_notes)
    return with_notes(elements, slide_notes(path)) if suffix == ".pptx" else elements


def _keep_breaks(raw: list[Any], source: str) -> None:
    """Put the line breaks of `source` that carry structure back into the text of unstructured's elements
    (tables aside: their rows are rendered from their HTML)."""
    texts = [(getattr(e, "text", "") or "") if getattr(e, "category", "") != "Table" else "" for e in raw]
    for item, text, kept in zip(raw, texts, keep_line_breaks(texts, source)):
        if kept != text:
            item.text = kept


def _office(partition: Callable[..., list[Any]], path: Path, rewritten: io.BytesIO | None = None) -> list[Any]:
    try:
        return partition(filename=str(path)) if rewritten is None else partition(file=rewritten)
    except Exception as exc:  # BadZipFile, PackageNotFoundError, KeyError, lxml errors, ...
        if (refused := entity_refusal(path, exc)) is not None:  # a DTD, with the zip check off
            raise refused from exc
        kind = _OFFICE_NAMES[file_extension(path)]
        raise ParseError(f"{path.name} could not be opened as a {kind}: it may be damaged, "
                         "password-protected or saved in the old binary format (.doc/.ppt). "
                         "Open it in Office and save it again in the current format.") from exc


def to_elements(raw: Iterable[Any], *, heuristic_titles: bool = False,
                slides: bool = False, source: str | None = None) -> list[Element]:
    """Map unstructured elements to ours, tracking the heading path.

    heuristic_titles: titles come from guessing (plain text), so drop sentence-like ones.
    slides: pptx, where only the slide-title shape (depth 0) is a heading and each
    slide starts a new section.
    """
    out: list[Element] = []
    path: list[str] = []
    last_page: int | None = None
    for item in raw:
        category = getattr(item, "category", "")
        text = (getattr(item, "text", "") or "").strip()
        if category in _SKIPPED or not text or _RULE_ONLY.fullmatch(text):
            continue
        text = _tidy_joins(text)
        underlined = _UNDERLINED.fullmatch(text)
        if underlined and len(underlined.group(1)) <= _HEADING_MAX_CHARS:
            text, category = underlined.group(1).strip(), "Title"
        meta = getattr(item, "metadata", None)
        page = getattr(meta, "page_number", None)
        depth = getattr(meta, "category_depth", None)
        if slides and page != last_page:
            path.clear()
        last_page = page
        kind = _KINDS.get(category, "text")
        if kind == "title" and not underlined and not _is_heading(text, depth, heuristic_titles, slides):
            kind = "text"
        if kind == "title":
            level = depth if isinstance(depth, int) and depth >= 0 else 0
            path[:] = path[:level] + [" ".join(text.split())]
        section = " > ".join(path)
        if kind == "table":
            html = getattr(meta, "text_as_html", None)
            rows = html_table_rows(html) if html else []
            tables = table_elements(rows, section, page)
            out.extend(tables or [Element(text, "table", section, page)])
        else:
            out.append(Element(text, kind, section, page))
    if not heuristic_titles:
        return out
    out = _bodyless_titles_as_text(out, source)
    return with_document_title(out, source) if source is not None else out


_DATUM = re.compile(r"\d|[:：]")


def _bodyless_titles_as_text(elements: list[Element], source: str | None = None) -> list[Element]:
    """Plain text: a guessed heading with nothing under it (the next element is another guessed heading, or
    there is none) is a content line. Short Chinese lines without punctuation ("9月1日 开学", "学生3600人") look
    like headings to unstructured, each on a line of its own; as titles of empty sections they were dropped.
    Each element keeps the section of the heading left above it."""
    out: list[Element] = []
    path = ""
    for i, el in enumerate(elements):
        nxt = elements[i + 1] if i + 1 < len(elements) else None
        # a Chinese line among other lines ("我校创办于1956年" over "现有教职工320人") is content: a Chinese
        # heading stands alone, a blank line under it, or is numbered ("一、药房位置与开放时间"), or holds no
        # figure and no "key: value" pair ("医院地址" over the address)
        inline = (source is not None and el.kind == "title" and is_cjk(el.text)
                  and not NUMBERED_HEADING.match(el.text) and _DATUM.search(el.text) is not None
                  and re.search(re.escape(el.text) + BLANK_LINE_AFTER, source) is None)
        if el.kind == "title" and (nxt is None or nxt.kind == "title" or inline):
            el = Element(el.text, "text", path, el.page)
        elif el.kind == "title":
            path = el.section
        else:
            el = Element(el.text, el.kind, path, el.page)
        out.append(el)
    return out


# unstructured joins inline markup's text with spaces: "select **Forgot password?**." became "select
# Forgot password? ." and "see `apt-get`, then" "see apt-get , then"
_SPACE_BEFORE_PUNCT = re.compile(r"(?<=[^\s.,;:!?])\s+([.,;:])(?=\s|$)")
_DOT_AFTER_MARK = re.compile(r"(?<=[?!])\s*\.(?=\s|$)")


def _tidy_joins(text: str) -> str:
    return _SPACE_BEFORE_PUNCT.sub(r"\1", _DOT_AFTER_MARK.sub("", text))


def _is_heading(text: str, depth: object, heuristic: bool, slides: bool) -> bool:
    if slides:
        return depth in (0, None)
    if heuristic:
        return len(text) <= _HEADING_MAX_CHARS and ENDS_LIKE_SENTENCE.search(text) is None
    return True
