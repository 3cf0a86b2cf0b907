"""PowerPoint slides as a reader sees them: speaker notes after the slide, bullet levels kept."""
from __future__ import annotations

from pathlib import Path

import pytest
from pptx import Presentation
from pptx.util import Inches

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


_BULLETS = {
    "en": ("Orientation", [("Registration", 0), ("September 1 at 8 am", 1), ("Gate 2", 2),
                           ("Bring your admission letter", 1), ("Dormitories", 0), ("Assigned by class", 1)],
           ["Registration\n- September 1 at 8 am\n  - Gate 2\n- Bring your admission letter",
            "Dormitories\n- Assigned by class"]),
    "zh": ("新生入学指南", [("报到时间", 0), ("9月1日上午8点", 1), ("二号门", 2), ("携带录取通知书", 1),
                      ("宿舍分配", 0), ("按班级分配", 1)],
           ["报到时间\n- 9月1日上午8点\n  - 二号门\n- 携带录取通知书", "宿舍分配\n- 按班级分配"]),
}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sub_bullets_stay_under_their_parent(tmp_path: Path, lang: str) -> None:
    title, paragraphs, expected = _BULLETS[lang]
    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[1])
    slide.shapes.title.text = title
    frame = slide.placeholders[1].text_frame
    frame.text = paragraphs[0][0]
    for text, level in paragraphs[1:]:
        paragraph = frame.add_paragraph()
        paragraph.text, paragraph.level = text, level
    prs.save(str(tmp_path / "deck.pptx"))
    elements = parse_file(tmp_path / "deck.pptx")
    assert [(e.text, e.kind) for e in elements] == [(title, "title")] + [(t, "list") for t in expected]
    assert {e.section for e in elements} == {title}


def test_text_boxes_at_one_level_are_read_as_before(tmp_path: Path) -> None:
    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    slide.shapes.title.text = "Process"
    for i, step in enumerate(["Apply online before May", "Interview in June"]):
        box = slide.shapes.add_textbox(Inches(1 + 3 * i), Inches(3), Inches(2), Inches(1))
        box.text_frame.text = step
    prs.save(str(tmp_path / "flat.pptx"))
    assert [(e.text, e.kind) for e in parse_file(tmp_path / "flat.pptx")] == [
        ("Process", "title"), ("Apply online before May", "text"), ("Interview in June", "text")]
