"""Nested lists of Markdown and HTML pages: a sub-item stays under the item it belongs to.

unstructured gives each <li> as a ListItem of its own, its nesting only as a depth the mapping ignores,
so "需携带身份证" was an element with no link to "1. 办理入院手续", and a chunk could start with it. As
PowerPoint's sub-bullets are (indexer.parse.pptx_bullets), each item is given with its sub-items as one
list item, each sub-item on a line of its own, "- " (an ordered one keeps its number, written by
indexer.parse.ordered_lists) and two spaces a level deeper:

    1. 办理入院手续
    - 需携带身份证
    - 需携带医保卡
      1. 异地医保需先备案

Python-Markdown renders the items of a loose list (blank lines between its items) as paragraphs, which
unstructured gives as text with no depth, and the sub-items after them lost their parent; an item that
holds a list has the paragraphs before its sub-list read as lines of the item first (tighten_items). CMS
editors write every item of an HTML page's list in a <p> (<li><p>办理入院手续</p><ul><li><p>需携带身份证</p>...),
or in a <div> (<li><div>办理入院手续</div><ul>..., which unstructured gave as text, and the sub-items after it
as items of no item), read the same way (tighten_list_items, a step of indexer.parse.html_rewrite).
"""
from __future__ import annotations

import re
from typing import Any

from indexer.parse.html_empty_items import lift_empty_items

_INDENT = "  "
_NUMBERED = re.compile(r"\d{1,9}\. ")  # "2. " as indexer.parse.ordered_lists writes an ordered item's number
# markup a browser shows inside a line: an item's text in <p> or <div> after it is still the item's
_INLINE = frozenset({"a", "abbr", "b", "bdi", "bdo", "br", "cite", "code", "data", "dfn", "em", "font", "i",
                     "img", "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time",
                     "u", "var", "wbr"})
_WRAPPERS = frozenset({"div"})  # no line of its own in a list item: unwrapped in every item
_BLOCKS = _WRAPPERS | {"p"}  # in an item holding a list, its paragraphs are lines of the item too


def tighten_items(html: str) -> str:
    """`html` (a rendered Markdown fragment) with the leading paragraphs of every list item in a list item
    that holds a list made lines of the item (paragraphs after its sub-list stay paragraphs), and its empty
    items holding a list replaced by their sub-items (indexer.parse.html_empty_items); as it came when there
    is none."""
    from lxml import etree
    from lxml import html as lxml_html

    if "<ul" not in html and "<ol" not in html:
        return html
    try:
        root = lxml_html.fragment_fromstring(html, create_parent="div")
    except (etree.LxmlError, ValueError):
        return html
    if not (lift_empty_items(root) | tighten_list_items(root)):  # both run: "- - x" is an empty item holding a list
        return html
    return (root.text or "") + "".join(lxml_html.tostring(child, encoding="unicode") for child in root)


def tighten_list_items(root: Any) -> bool:
    """tighten_items on an lxml tree (an HTML page's: indexer.parse.html_rewrite), in place; whether it
    changed it. An item holding no list has only its <div>s unwrapped: unstructured read "<li><div><p>出院"
    as text, where "<li><p>出院" is a list item already."""
    changed = False
    for top in [li for li in root.iter("li") if not any(a.tag == "li" for a in li.iterancestors())]:
        holds_list = top.find(".//ul") is not None or top.find(".//ol") is not None
        for item in list(top.iter("li")):  # the item itself first, then its sub-items
            changed |= _unwrap_blocks(item, _BLOCKS if holds_list else _WRAPPERS)
    return changed


def _unwrap_blocks(item: Any, tags: frozenset[str]) -> bool:
    from lxml import html as lxml_html

    changed = False
    while (block := _leading_block(item, tags)) is not None:  # a <div> may hold <p>s: they come next
        previous = block.getprevious()
        if previous is not None or (item.text or "").strip():
            block.addprevious(lxml_html.Element("br"))  # a line of its own, as the block was
        block.drop_tag()
        changed = True
    return changed


def _leading_block(item: Any, tags: frozenset[str]) -> Any:
    """The item's first block of `tags` holding its own text (before its first list, code block or table,
    inline markup passed over), or None."""
    for child in item:
        if not isinstance(child.tag, str) or child.tag in _INLINE:  # a comment, <span>, <br>, <a>, ...
            continue
        if child.tag in tags:
            return child
        return None
    return None


def nest_list_items(raw: list[Any]) -> list[Any]:
    """unstructured's elements with each ListItem nested deeper than the ListItem before it (or than the
    item that one was put under) written into that item's text, and left out as an element."""
    out: list[Any] = []
    top: Any = None  # the item open for sub-items, and its depth
    top_depth = 0
    for el in raw:
        depth = getattr(getattr(el, "metadata", None), "category_depth", None)
        is_item = getattr(el, "category", "") == "ListItem" and isinstance(depth, int)
        if is_item and top is not None and depth > top_depth:
            top.text = f"{top.text}\n{_line(el.text or '', depth - top_depth)}"
            continue
        out.append(el)
        top, top_depth = (el, depth) if is_item else (None, 0)
    return out


def _line(text: str, level: int) -> str:
    indent = _INDENT * (level - 1)
    marker = "" if _NUMBERED.match(text) else "- "
    lines = text.split("\n")
    return "\n".join([indent + marker + lines[0]] + [indent + _INDENT + line for line in lines[1:]])
