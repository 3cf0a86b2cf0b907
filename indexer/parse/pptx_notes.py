"""PowerPoint speaker notes, indexed after their slide's content.

Teachers and trainers put the substance of a talk in the notes; unstructured leaves them out (and, asked
to include them, puts them before the slide's content with nothing saying where they come from). Each
slide's notes become one paragraph at the end of the slide's section, opening "Notes: " (or "备注：" when
the notes are Chinese), so a reader of a quoted passage knows it was said, not shown.
"""
from __future__ import annotations

from pathlib import Path

from indexer.script import is_cjk
from indexer.types import Element

# The prompt Office and WPS show in an empty notes box, when a template saved it as text.
_PLACEHOLDERS = {"click to add notes", "单击此处添加备注", "點擊此處新增備忘稿", "单击此处添加备注。"}


def slide_notes(path: Path) -> dict[int, str]:
    """The notes of each slide that has some, by 1-based slide number (unstructured's page number)."""
    import pptx

    notes: dict[int, str] = {}
    for number, slide in enumerate(pptx.Presentation(str(path)).slides, start=1):
        if not slide.has_notes_slide:  # reading .notes_slide would create one
            continue
        frame = slide.notes_slide.notes_text_frame
        if frame is None:
            continue
        lines = [" ".join(p.text.split()) for p in frame.paragraphs]
        text = "\n".join(line for line in lines if line)
        if text and text.lower() not in _PLACEHOLDERS:
            notes[number] = text
    return notes


def with_notes(elements: list[Element], notes: dict[int, str]) -> list[Element]:
    """`elements` with each slide's notes after the slide's last element, in the section of its title."""
    if not notes:
        return elements
    out: list[Element] = []
    pending = dict(notes)
    for i, el in enumerate(elements):
        for number in sorted(n for n in pending if el.page is not None and n < el.page):
            out.append(_note(pending.pop(number), "", number))  # a slide with notes and nothing shown
        out.append(el)
        nxt = elements[i + 1] if i + 1 < len(elements) else None
        if el.page in pending and (nxt is None or nxt.page != el.page):
            first = next(e for e in elements if e.page == el.page)
            out.append(_note(pending.pop(el.page), first.section, el.page))
    out.extend(_note(pending[n], "", n) for n in sorted(pending))
    return out


def _note(text: str, section: str, page: int | None) -> Element:
    label = "备注：" if is_cjk(text) else "Notes: "
    return Element(label + text, "text", section, page)
