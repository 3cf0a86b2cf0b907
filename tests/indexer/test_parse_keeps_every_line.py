"""No line of a document may vanish between the file and its chunks, in any format: the tester's
Chinese .txt files lost most of their lines (short unpunctuated lines became body-less "titles", dropped)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from indexer.chunk import chunk_elements
from indexer.config import ChunkSettings
from indexer.parse.dispatch import parse_file

CALENDAR = ["2025学年校历", "9月1日 开学", "10月1日—10月7日 国庆放假", "11月12日 期中考试", "1月20日 期末考试"]
PROFILE = ["学校简介", "我校创办于1956年", "现有教职工320人", "学生3600人", "占地面积150亩"]
ENGLISH = ["School calendar", "Sept 1 opening day", "Nov 12 midterm exams", "Jan 20 final exams"]
HEADINGS = ["收费标准", "门诊", "住院"]  # sibling headings, the first two with nothing under them


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _indexed(path: Path) -> list[str]:
    """What each chunk of `path` is indexed as (its title and its text, as indexer.ingest embeds it)."""
    chunks = chunk_elements("d", parse_file(path), ChunkSettings())
    return [_squash(f"{c.title}\n{c.text}") for c in chunks]


def _assert_all_lines_kept(path: Path, lines: list[str]) -> None:
    indexed = _indexed(path)
    missing = [line for line in lines if not any(_squash(line) in text for text in indexed)]
    assert not missing, f"{path.name}: lines lost {missing}; chunks: {indexed}"


def _write_txt(path: Path, lines: list[str]) -> Path:
    path.write_text(lines[0] + "\n\n" + "\n".join(lines[1:]), encoding="utf-8")
    return path


def _write_md(path: Path, lines: list[str]) -> Path:
    path.write_text(lines[0] + "\n\n" + "\n".join(lines[1:]) + "\n", encoding="utf-8")
    return path


def _write_html(path: Path, lines: list[str]) -> Path:
    body = "".join(f"<p>{line}</p>" for line in lines[1:])
    path.write_text(f"<html><body><h1>{lines[0]}</h1>{body}</body></html>", encoding="utf-8")
    return path


def _write_docx(path: Path, lines: list[str]) -> Path:
    import docx

    doc = docx.Document()
    doc.add_heading(lines[0], level=1)
    for line in lines[1:]:
        doc.add_paragraph(line)
    doc.save(str(path))
    return path


def _write_pptx(path: Path, lines: list[str]) -> Path:
    from pptx import Presentation

    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[1])
    slide.shapes.title.text = lines[0]
    frame = slide.placeholders[1].text_frame
    frame.text = lines[1]
    for line in lines[2:]:
        frame.add_paragraph().text = line
    prs.save(str(path))
    return path


def _write_xlsx(path: Path, lines: list[str]) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    for line in lines:
        ws.append(line.split(" ", 1))
    wb.save(str(path))
    return path


def _write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(",".join(line.split(" ", 1)) for line in lines) + "\n", encoding="utf-8")
    return path


WRITERS = {".txt": _write_txt, ".md": _write_md, ".html": _write_html, ".docx": _write_docx,
           ".pptx": _write_pptx, ".xlsx": _write_xlsx, ".csv": _write_csv}


@pytest.mark.parametrize("suffix", sorted(WRITERS))
@pytest.mark.parametrize("lines", [CALENDAR, PROFILE, ENGLISH], ids=["calendar", "profile", "english"])
def test_every_line_reaches_a_chunk(tmp_path: Path, suffix: str, lines: list[str]) -> None:
    path = WRITERS[suffix](tmp_path / f"doc{suffix}", lines)
    # spreadsheets render "a b" as the cells "a | b"
    expected = [" | ".join(line.split(" ", 1)) for line in lines] if suffix in (".xlsx", ".csv") else lines
    _assert_all_lines_kept(path, expected)


def test_tester_calendar_txt_is_one_chunk_with_every_date(tmp_path: Path) -> None:
    path = _write_txt(tmp_path / "校历简表.txt", CALENDAR)
    chunks = chunk_elements("d", parse_file(path), ChunkSettings())
    texts = [c.text for c in chunks]
    assert any("11月12日 期中考试" in t and "1月20日 期末考试" in t and "9月1日 开学" in t for t in texts), texts


@pytest.mark.parametrize("suffix", [".md", ".html", ".docx"])
def test_sibling_headings_with_nothing_under_them_are_kept(tmp_path: Path, suffix: str) -> None:
    if suffix == ".md":
        path = tmp_path / "fees.md"
        path.write_text("## 收费标准\n\n## 门诊\n\n## 住院\n\n押金5000元。\n", encoding="utf-8")
    elif suffix == ".html":
        path = tmp_path / "fees.html"
        path.write_text("<h2>收费标准</h2><h2>门诊</h2><h2>住院</h2><p>押金5000元。</p>", encoding="utf-8")
    else:
        import docx

        doc = docx.Document()
        for heading in HEADINGS:
            doc.add_heading(heading, level=2)
        doc.add_paragraph("押金5000元。")
        path = tmp_path / "fees.docx"
        doc.save(str(path))
    _assert_all_lines_kept(path, HEADINGS + ["押金5000元。"])


BULLETS = ["2025年10月1日至10月8日国庆节、中秋节放假，共8天", "2025年11月10日至11月12日期中考试",
           "2026年1月19日期末考试"]


@pytest.mark.parametrize("suffix", [".txt", ".md", ".pptx", ".docx"])
def test_each_unpunctuated_line_stays_its_own_line(tmp_path: Path, suffix: str) -> None:
    lines = ["校历", *BULLETS]
    path = WRITERS[suffix](tmp_path / f"cal{suffix}", lines)
    chunk_lines = [line for c in chunk_elements("d", parse_file(path), ChunkSettings())
                   for line in c.text.splitlines()]
    for bullet in BULLETS:
        assert bullet in chunk_lines, (bullet, chunk_lines)


def test_key_value_lines_in_english_text_stay_lines(tmp_path: Path) -> None:
    """A calendar's "Holiday: date" lines were joined by the text parser into one 500-character sentence
    that no answer could quote ("when is spring break" was refused); the line after the list stays apart."""
    lines = ["Labour Day: Monday 2 September 2024", "Winter break: Monday 16 December 2024 to Friday 3 January 2025",
             "Spring break: Monday 31 March to Friday 11 April 2025", "F: below 50% (fail)"]
    path = tmp_path / "calendar.txt"
    path.write_text("HOLIDAYS\n\nThe school is closed on these days.\n" + "\n".join(lines)
                    + "\nThe calendar may change.\n", encoding="utf-8")
    element_lines = [line for e in parse_file(path) for line in e.text.splitlines()]
    for line in [*lines, "The calendar may change."]:
        assert line in element_lines, (line, element_lines)
    # a paragraph wrapped by hand, with a colon inside a line, stays one paragraph
    prose = tmp_path / "prose.txt"
    prose.write_text("Refunds\n\nIf you cancel within 14 days we refund the whole fee. Note: after that\n"
                     "date only half of it is refunded, and only by the original payment method.\n", encoding="utf-8")
    assert any("Note: after that date only half" in c.text for c in chunk_elements("d", parse_file(prose), ChunkSettings()))
