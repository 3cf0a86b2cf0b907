"""A list item with nothing in it but a list (<ul><li><ul><li>x</li></ul></li></ul>): its sub-items take its place.

unstructured gives no element for an item without text, and its sub-items come with their depth only, so
after a list whose last item had sub-items, "x" of `<ul><li>A<ul><li>a1</li></ul></li></ul><ul><li><ul><li>x`
was read as one more sub-item of A (indexer.parse.markdown_lists nests by depth). A browser shows an empty
bullet and "x" under it, in a list of its own: the empty item is replaced by the items of its lists, so "x"
is an item of that list and belongs to no item above it. An item with text of its own (an ordered list's
number included: indexer.parse.ordered_lists writes it before this runs) is left as it is. Markdown's "- - x"
renders to such an item (run there by indexer.parse.markdown_lists.tighten_items).
"""
from __future__ import annotations

from typing import Any

_LISTS = frozenset({"ul", "ol"})


def lift_empty_items(root: Any) -> bool:
    """In place on an lxml tree (a step of indexer.parse.html_rewrite); whether it changed it. Innermost
    first, so an empty item holding only an empty item is lifted twice."""
    empty = [li for li in root.iter("li") if _holds_only_lists(li)]
    for li in reversed(empty):  # document order reversed: an item's empty sub-items before it
        _replace_by_its_items(li)
    return bool(empty)


def _holds_only_lists(li: Any) -> bool:
    if (li.text or "").strip():
        return False
    children = [c for c in li if isinstance(c.tag, str)]  # comments and processing instructions pass
    if not children or any(c.tag not in _LISTS for c in children):
        return False
    return not any((c.tail or "").strip() for c in li) and any(_items(lst) for lst in children)


def _items(lst: Any) -> list[Any]:
    return [item for item in lst if isinstance(item.tag, str)]


def _replace_by_its_items(li: Any) -> None:
    items = [item for lst in li if isinstance(lst.tag, str) for item in _items(lst)]
    tail = li.tail
    for item in items:  # each with its own tail (the whitespace between items)
        li.addprevious(item)
    items[-1].tail = tail
    li.getparent().remove(li)
