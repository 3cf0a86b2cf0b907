"""PowerPoint bullet levels: a sub-bullet stays under its parent.

unstructured gives each paragraph of a text box as an element of its own and keeps the bullet level
only as a depth the mapping ignores; the bullets of a body placeholder (whose bullet characters come
from the slide master) were plain text, so "Registration" / "September 1 at 8 am" / "Dormitories" /
"Assigned by class" read as four unrelated lines. install() teaches unstructured's shape reader, for a
text box that has paragraphs below the first level, to give each top-level paragraph with its
sub-bullets as one list item, each sub-bullet on a line of its own, "- " and two spaces a level deeper:

    Registration
    - September 1 at 8 am
    - Bring your admission letter

A text box whose paragraphs are all at one level is read by unstructured as before.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_INDENT = "  "


def nested_items(paragraphs: list[tuple[int, str]]) -> list[str]:
    """(level, text) paragraphs of one text box -> one text per top-level paragraph, its sub-bullets under it.
    Sub-bullets before any top-level paragraph make items of their own."""
    lines = [(level, " ".join(text.split())) for level, text in paragraphs]
    lines = [(level, text) for level, text in lines if text]
    if not lines:
        return []
    top = min(level for level, _ in lines)
    items: list[list[str]] = []
    for level, text in lines:
        if level == top or not items:
            items.append([text])
        else:
            items[-1].append(_INDENT * (level - top - 1) + "- " + text)
    return ["\n".join(item) for item in items]


def install() -> None:
    """Wrap unstructured's text-box reader once: nested text boxes here, the rest as before."""
    from unstructured.partition import pptx as unstructured_pptx

    partitioner: Any = getattr(unstructured_pptx, "_PptxPartitioner", None)
    original = getattr(partitioner, "_iter_shape_elements", None)
    list_item = getattr(unstructured_pptx, "ListItem", None)
    if original is None or list_item is None or getattr(original, "_nested", False):
        return  # another unstructured version (no such reader), or installed already

    def iter_shape_elements(self: Any, shape: Any) -> Iterator[Any]:
        paragraphs = [(p.level or 0, p.text) for p in shape.text_frame.paragraphs]
        levels = {level for level, text in paragraphs if text.strip()}
        if len(levels) < 2 or self._shape_is_off_slide(shape):
            yield from original(self, shape)
            return
        for text in nested_items(paragraphs):
            yield list_item(text=text, metadata=self._opts.text_metadata(category_depth=0),
                            detection_origin="pptx")

    iter_shape_elements._nested = True  # type: ignore[attr-defined]
    partitioner._iter_shape_elements = iter_shape_elements
