"""PowerPoint slides as a reader sees them: speaker notes after the slide, bullet levels kept."""
from __future__ import annotations

from pathlib import Path

import pytest
from pptx import Presentation

from indexer.parse.dispatch import parse_file

_SLIDES = {
    "en": ("New student orientation", "Remind parents where to park: lot B behind the gym", "Tuition",
           "Notes: Remind parents where to park: lot B behind the gym"),
    "zh": ("新生入学指南", "提醒家长停车位置：体育馆后面的B停车场", "学费",
           "备注：提醒家长停车位置：体育馆后面的B停车场"),
}


def _deck(path: Path, title: str, notes: str, second: str, placeholder_notes: str | None) -> Path:
    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[1])
    slide.shapes.title.text = title
    slide.placeholders[1].text_frame.text = "9:00"
    slide.notes_slide.notes_text_frame.text = notes
    other = prs.slides.add_slide(prs.slide_layouts[1])
    other.shapes.title.text = second
    other.placeholders[1].text_frame.text = "5000"
    if placeholder_notes is not None:
        other.notes_slide.notes_text_frame.text = placeholder_notes
    prs.save(str(path))
    return path


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_speaker_notes_follow_their_slide_in_its_section(tmp_path: Path, lang: str) -> None:
    title, notes, second, expected = _SLIDES[lang]
    placeholder = "Click to add notes" if lang == "en" else "单击此处添加备注"
    elements = parse_file(_deck(tmp_path / f"talk_{lang}.pptx", title, notes, second, placeholder))
    texts = [e.text for e in elements]
    assert expected in texts
    note = elements[texts.index(expected)]
    assert (note.section, note.page) == (title, 1)
    # after the slide's content, before the next slide
    assert texts.index("9:00") < texts.index(expected) < texts.index(second)
    # the empty box's prompt adds nothing
    assert not any(placeholder in t for t in texts)
    assert texts[-1] == "5000"


def test_slide_without_notes_gets_none(tmp_path: Path) -> None:
    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[1])
    slide.shapes.title.text = "Agenda"
    slide.placeholders[1].text_frame.text = "Welcome"
    slide.notes_slide.notes_text_frame.text = "  "
    prs.save(str(tmp_path / "a.pptx"))
    assert [e.text for e in parse_file(tmp_path / "a.pptx")] == ["Agenda", "Welcome"]
