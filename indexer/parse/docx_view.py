"""A .docx rewritten to the document its reader sees, before unstructured reads it.

unstructured reads a paragraph's direct runs and a heading by its English style name, so what Word shows
and what got indexed differed:

* tracked changes: text inserted with Track Changes on (`w:ins`, `w:moveTo`) was lost ("from 10:00 to
  20:00 on weekdays only" indexed as "from 10:00 to 20:00"). Insertions are kept, deletions (`w:del`,
  `w:moveFrom`, rows marked deleted) dropped: the document as it reads with the changes accepted.
* text boxes and shapes (`w:txbxContent`) were lost: their paragraphs now follow the paragraph they are
  anchored in. Word writes each box twice (DrawingML, then a VML fallback): the fallback is dropped.
* content controls (`w:sdt`, used by forms and templates), smart tags, custom XML and simple fields (a
  DATE field's shown date) were skipped with what they hold: they are unwrapped (a table of contents aside).
* a table of contents (a TOC field's result or its content control) repeated every heading with a page
  number ("Visiting hours\t2"): dropped, as page furniture.
* headings named in another language or given by outline level alone were body text: a paragraph style
  named "标题 1" (Chinese Word and WPS) or "标题" is renamed "heading 1" / "Title"; a style or paragraph
  with an outline level 1-9 (`w:outlineLvl` 0-8) and no heading style gets a "heading N" style.
* a table nested in a table cell was joined into one run of words ("Monday 18:00-22:00 Tuesday
  18:00-21:00"): its rows become "; "-separated lines of the cell (indexer.parse.docx_nested_tables).
* footnotes and endnotes were lost: a footnote's text becomes a paragraph "[1] ..." after the block that
  cites it, endnotes such paragraphs at the end, numbered in the order they are cited.

Comments stay out (reviewers' notes, not the document); running headers and footers are dropped later.
Only a document that has one of these is rewritten (a byte search decides); one that cannot be rewritten
is handed over as it is, so nothing is lost that unstructured would have read.
"""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

from lxml import etree

from indexer.parse.docx_nested_tables import flatten_nested_tables, has_nested_table

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_NS = {"w": W, "mc": MC}
_DOCUMENT = "word/document.xml"
_STYLES = "word/styles.xml"
_NOTES = {"footnote": "word/footnotes.xml", "endnote": "word/endnotes.xml"}
# byte markers of what this module rewrites; a document with none of them is passed on untouched
_MARKERS = (b"<w:ins ", b"<w:del ", b"<w:moveTo ", b"<w:moveFrom ", b"txbxContent", b"<w:sdt>", b"<w:sdt ",
            b"TOC", b"<w:smartTag", b"<w:customXml", b"<w:fldSimple", b"outlineLvl", b"footnoteReference", b"endnoteReference")
_CHINESE_HEADING = re.compile(r"标题\s*([1-9])")
_SYNTHETIC_STYLE = "ragOutlineHeading{}"


def _q(tag: str) -> str:
    prefix, name = tag.split(":")
    return f"{{{_NS[prefix]}}}{name}"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


def docx_as_read(path: Path) -> io.BytesIO | None:
    """The rewritten document, or None when it needs no rewriting (or cannot be rewritten)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            document = archive.read(_DOCUMENT)
            styles = archive.read(_STYLES) if _STYLES in names else b""
            if (not any(m in document for m in _MARKERS) and "标题".encode() not in styles
                    and not has_nested_table(document)):
                return None
            notes = {kind: archive.read(name) for kind, name in _NOTES.items() if name in names}
            new_document, new_styles = _rewrite(document, styles, notes)
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
                for info in archive.infolist():
                    if info.filename == _DOCUMENT:
                        target.writestr(info, new_document)
                    elif info.filename == _STYLES and new_styles is not None:
                        target.writestr(info, new_styles)
                    else:
                        target.writestr(info, archive.read(info.filename))
    except Exception:  # damaged or unusual: unstructured reads (or refuses) the file as it is
        return None
    out.seek(0)
    return out


def _rewrite(document: bytes, styles: bytes, notes: dict[str, bytes]) -> tuple[bytes, bytes | None]:
    root = etree.fromstring(document, _parser())
    body = root.find(_q("w:body"))
    if body is None:
        return document, None
    _accept_tracked_changes(root)
    _drop_table_of_contents(root)
    _unwrap_wrappers(root)
    _lift_text_boxes(root)
    flatten_nested_tables(body)
    _place_notes(body, notes)
    new_styles = None
    if styles:
        style_root = etree.fromstring(styles, _parser())
        heading_ids = _name_headings(style_root)
        needed = _mark_outline_paragraphs(body, style_root, heading_ids)
        for level in needed:
            style_root.append(_heading_style(level))
        new_styles = etree.tostring(style_root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True), new_styles


def _remove(element: Any) -> None:
    parent = element.getparent()
    if parent is not None:
        parent.remove(element)


def _unwrap(element: Any) -> None:
    """Put `element`'s children where it stands."""
    parent = element.getparent()
    if parent is None:
        return
    index = parent.index(element)
    for offset, child in enumerate(list(element)):
        parent.insert(index + offset, child)
    parent.remove(element)


def _accept_tracked_changes(root: Any) -> None:
    for row in root.xpath(".//w:tr[w:trPr/w:del]", namespaces=_NS):
        _remove(row)
    for mark in root.xpath(".//w:rPr/w:ins | .//w:rPr/w:del | .//w:rPr/w:moveTo | .//w:rPr/w:moveFrom",
                           namespaces=_NS):
        _remove(mark)  # a paragraph mark's own change: the paragraphs stay as they are
    for gone in root.xpath(".//w:del | .//w:moveFrom", namespaces=_NS):
        _remove(gone)
    for kept in root.xpath(".//w:ins | .//w:moveTo", namespaces=_NS):
        _unwrap(kept)


def _is_toc(instruction: str) -> bool:
    return instruction.strip().upper().startswith("TOC")


def _drop_table_of_contents(root: Any) -> None:
    for control in root.xpath(".//w:sdt[w:sdtPr/w:docPartObj/w:docPartGallery"
                              "[starts-with(@w:val, 'Table of Contents')]]", namespaces=_NS):
        _remove(control)
    for simple in root.xpath(".//w:fldSimple", namespaces=_NS):
        if _is_toc(simple.get(_q("w:instr"), "")):
            _remove(simple)
    # a complex field: begin, instruction runs, separate, result runs, end; it may span paragraphs
    stack: list[list[Any]] = []  # per open field: [instruction, in its result]
    result_runs: list[Any] = []
    for node in root.iter(_q("w:fldChar"), _q("w:instrText"), _q("w:t"), _q("w:tab")):
        tag = etree.QName(node).localname
        if tag == "fldChar":
            kind = node.get(_q("w:fldCharType"))
            if kind == "begin":
                stack.append(["", False])
            elif kind == "separate" and stack:
                stack[-1][1] = True
            elif kind == "end" and stack:
                stack.pop()
        elif tag == "instrText" and stack:
            stack[-1][0] += node.text or ""
        elif any(_is_toc(instr) and shown for instr, shown in stack):
            run = node.getparent()
            if run is not None and etree.QName(run).localname == "r":
                result_runs.append(run)
    for run in result_runs:
        _remove(run)


# wrappers around runs, cells or blocks whose text python-docx does not read through: content controls,
# smart tags, custom XML and simple fields (a DATE or a cross-reference with its shown value inside)
_WRAPPERS = ("sdt", "smartTag", "customXml", "fldSimple")
_WRAPPER_PROPERTIES = ("sdtPr", "sdtEndPr", "smartTagPr", "customXmlPr")


def _unwrap_wrappers(root: Any) -> None:
    for wrapper in root.xpath(" | ".join(f".//w:{tag}" for tag in _WRAPPERS), namespaces=_NS):
        for child in list(wrapper):
            name = etree.QName(child).localname
            if name in _WRAPPER_PROPERTIES:
                wrapper.remove(child)
            elif name == "sdtContent":
                _unwrap(child)
        _unwrap(wrapper)


def _block_of(node: Any, body: Any) -> Any:
    """The paragraph or table directly under `body` that holds `node`."""
    while node.getparent() is not None and node.getparent() is not body:
        node = node.getparent()
    return node


def _lift_text_boxes(root: Any) -> None:
    for fallback in root.xpath(".//mc:AlternateContent/mc:Fallback", namespaces=_NS):
        _remove(fallback)  # the VML copy of a DrawingML shape Word writes for old readers
    # innermost boxes first, so a box inside a box ends up after its host paragraph too
    boxes = sorted(root.xpath(".//w:txbxContent", namespaces=_NS),
                   key=lambda box: -len(list(box.iterancestors())))
    for box in boxes:
        host = next(box.iterancestors(_q("w:p")), None)
        if host is None or host.getparent() is None:
            continue
        blocks = [child for child in box if etree.QName(child).localname in ("p", "tbl")]
        index = host.getparent().index(host)
        for offset, block in enumerate(blocks, 1):
            host.getparent().insert(index + offset, block)
        shape = next((a for a in box.iterancestors() if etree.QName(a).localname in
                      ("AlternateContent", "drawing", "pict")), None)
        _remove(shape if shape is not None else box)


def _note_paragraph(label: str, note: Any) -> list[Any]:
    paragraphs = []
    for i, paragraph in enumerate(note.findall(_q("w:p"))):
        text = "".join(t.text or "" for t in paragraph.iter(_q("w:t"))).strip()
        if not text:
            continue
        p = etree.Element(_q("w:p"))
        r = etree.SubElement(p, _q("w:r"))
        t = etree.SubElement(r, _q("w:t"))
        t.text = f"[{label}] {text}" if i == 0 or not paragraphs else text
        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        paragraphs.append(p)
    return paragraphs


def _place_notes(body: Any, notes: dict[str, bytes]) -> None:
    for kind, xml in notes.items():
        by_id = {n.get(_q("w:id")): n for n in etree.fromstring(xml, _parser()).findall(_q(f"w:{kind}"))}
        references = list(body.iter(_q(f"w:{kind}Reference")))
        trailing: list[Any] = []
        after: dict[int, list[Any]] = {}
        for number, reference in enumerate(references, 1):
            note = by_id.get(reference.get(_q("w:id")))
            if note is None:
                continue
            paragraphs = _note_paragraph(str(number), note)
            if kind == "endnote":
                trailing.extend(paragraphs)
            else:
                after.setdefault(id(block := _block_of(reference, body)), [block]).extend(paragraphs)
        for block, *paragraphs in after.values():
            index = body.index(block)
            for offset, p in enumerate(paragraphs, 1):
                body.insert(index + offset, p)
        last = body[-1] if len(body) and etree.QName(body[-1]).localname == "sectPr" else None
        for p in trailing:
            if last is not None:
                last.addprevious(p)
            else:
                body.append(p)


def _name_headings(styles: Any) -> dict[str, int]:
    """Rename Chinese heading styles to Word's own names; map each heading style's id to its level (1-9)."""
    levels: dict[str, int] = {}
    for style in styles.findall(_q("w:style")):
        if style.get(_q("w:type")) != "paragraph":
            continue
        name = style.find(_q("w:name"))
        value = (name.get(_q("w:val")) if name is not None else "") or ""
        style_id = style.get(_q("w:styleId")) or ""
        if name is not None and (m := _CHINESE_HEADING.fullmatch(value.strip())):
            name.set(_q("w:val"), f"heading {m.group(1)}")
            value = name.get(_q("w:val"))
        elif name is not None and value.strip() == "标题":
            name.set(_q("w:val"), "Title")
        if m := re.fullmatch(r"heading\s*([1-9])", value.strip(), re.IGNORECASE):
            levels[style_id] = int(m.group(1))
        elif value.strip().lower() in ("title", "subtitle"):
            levels[style_id] = 0
    # a custom style with an outline level of its own ("公文标题" at level 1) is a heading of that level
    for style in styles.findall(_q("w:style")):
        style_id = style.get(_q("w:styleId")) or ""
        if style.get(_q("w:type")) != "paragraph" or style_id in levels or style.get(_q("w:default")) == "1":
            continue
        level = style.xpath("./w:pPr/w:outlineLvl/@w:val", namespaces=_NS)
        name = style.find(_q("w:name"))
        if level and level[0].isdigit() and int(level[0]) <= 8 and name is not None:
            name.set(_q("w:val"), f"heading {int(level[0]) + 1}")
            levels[style_id] = int(level[0]) + 1
    return levels


def _mark_outline_paragraphs(body: Any, styles: Any, heading_ids: dict[str, int]) -> set[int]:
    """Give a paragraph with an outline level of its own (and no heading style) a heading style."""
    needed: set[int] = set()
    for level_node in body.xpath(".//w:p/w:pPr/w:outlineLvl", namespaces=_NS):
        value = level_node.get(_q("w:val")) or ""
        properties = level_node.getparent()
        style = properties.find(_q("w:pStyle"))
        if not value.isdigit() or int(value) > 8 or (style is not None and style.get(_q("w:val")) in heading_ids):
            continue
        level = int(value) + 1
        if style is None:
            style = etree.Element(_q("w:pStyle"))
            properties.insert(0, style)
        style.set(_q("w:val"), _SYNTHETIC_STYLE.format(level))
        needed.add(level)
    return needed


def _heading_style(level: int) -> Any:
    style = etree.Element(_q("w:style"))
    style.set(_q("w:type"), "paragraph")
    style.set(_q("w:styleId"), _SYNTHETIC_STYLE.format(level))
    name = etree.SubElement(style, _q("w:name"))
    name.set(_q("w:val"), f"heading {level}")
    return style

