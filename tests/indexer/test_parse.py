"""Tests for indexer.parse.dispatch: every format on real files built in tmp_path, failure messages,
encoding detection, and parsing with the network blocked (no spaCy download, no telemetry)."""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.parse.dispatch import SUPPORTED_EXTENSIONS, ParseError, parse_file
from indexer.parse.encoding import decode_bytes
from indexer.parse.minimal_pdf import assemble
from indexer.types import Element

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process guard: parsing must never open a connection or resolve a name."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted during parsing: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def by_text(elements: list[Element], text: str) -> Element:
    matches = [e for e in elements if e.text == text]
    assert matches, f"{text!r} not among {[e.text for e in elements]}"
    return matches[0]


def make_pdf(pages: list[list[tuple[int, str]]]) -> bytes:
    """A minimal PDF with a text layer: per page, (font size, line) pairs drawn top-down
    in Helvetica (Helvetica-Bold from 14 pt). An empty page list draws no text."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
                            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
                            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>"]
    kids = []
    for lines in pages:
        ops, y = [], 740
        for size, line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"BT /F{2 if size >= 14 else 1} {size} Tf 72 {y} Td ({escaped}) Tj ET")
            y -= size + 10
        stream = "\n".join(ops).encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R"
                       b" /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> >>" % len(objects))
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    return assemble(objects)


# ---------------------------------------------------------------- formats

def test_markdown_headings_become_section_paths(tmp_path: Path) -> None:
    md = write(tmp_path / "fees.md", textwrap.dedent("""\
        # Fees

        Our fees are listed below.

        ## Wire transfers

        A wire transfer costs 15 dollars.

        - Domestic: 1 day
        - International: 3 days

        # 退款政策

        ## 申请流程

        客户可以在三十天内申请退款。
        """))
    elements = parse_file(md)
    assert by_text(elements, "Fees") == Element("Fees", "title", "Fees")
    assert by_text(elements, "A wire transfer costs 15 dollars.").section == "Fees > Wire transfers"
    assert by_text(elements, "Domestic: 1 day").kind == "list"
    chinese = by_text(elements, "客户可以在三十天内申请退款。")
    assert (chinese.kind, chinese.section) == ("text", "退款政策 > 申请流程")
    assert all(e.page is None for e in elements)


def test_ordered_list_items_keep_their_numbers(tmp_path: Path) -> None:
    """A procedure's steps keep their order in the text (unstructured drops the numbers a browser shows);
    bullet items stay as they are, and inline markup leaves no space before the punctuation after it."""
    md = write(tmp_path / "reset.md", textwrap.dedent("""        # Resetting a password

        1. Select **Forgot password?**.
        2. Enter your username.

            Use the one on your card.

        3. Create a new password.

        Notes:

        * Passwords do not expire.
        """))
    texts = [e.text for e in parse_file(md)]
    assert texts[1:5] == ["1. Select Forgot password?", "2. Enter your username.", "Use the one on your card.",
                          "3. Create a new password."]
    assert texts[-1] == "Passwords do not expire."
    html = write(tmp_path / "steps.html", '<h1>Complaints</h1><ol start="3"><li>Call us.</li><li><p>Write to '
                 '<b>us</b>.</p></li></ol><ol reversed><li>Two</li><li>One</li></ol><ul><li>A bullet</li></ul>')
    assert [e.text for e in parse_file(html) if e.kind == "list"] == [
        "3. Call us.", "4. Write to us.", "1. Two", "0. One", "A bullet"]


def test_html_table_is_rendered_row_by_row(tmp_path: Path) -> None:
    html = write(tmp_path / "fees.html", """<html><head><title>x</title></head><body>
        <h1>Fees</h1><h2>Wire transfers</h2><p>Prices per transfer are below.</p>
        <table><tr><th>Type</th><th>Fee</th></tr>
        <tr><td>Domestic</td><td>15 USD</td></tr><tr><td>国际汇款</td><td>45 USD</td></tr></table>
        </body></html>""")
    elements = parse_file(html)
    tables = [e for e in elements if e.kind == "table"]
    assert len(tables) == 1
    assert tables[0].text.splitlines() == ["Type | Fee", "Domestic | 15 USD", "国际汇款 | 45 USD"]
    assert tables[0].section == "Fees > Wire transfers"


def test_docx_heading_styles_become_sections(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Account fees", level=1)
    document.add_paragraph("Monthly maintenance costs 5 dollars.")
    document.add_heading("Wire transfers", level=2)
    document.add_paragraph("电汇需要两个工作日才能到账。")
    document.add_heading("Closing an account", level=1)
    document.add_paragraph("Closing is free of charge.")
    document.save(tmp_path / "fees.docx")

    elements = parse_file(tmp_path / "fees.docx")
    assert by_text(elements, "Account fees").kind == "title"
    assert by_text(elements, "Monthly maintenance costs 5 dollars.").section == "Account fees"
    assert by_text(elements, "电汇需要两个工作日才能到账。").section == "Account fees > Wire transfers"
    assert by_text(elements, "Closing is free of charge.").section == "Closing an account"


def test_pptx_slides_give_page_numbers(tmp_path: Path) -> None:
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    for title, body in [("Quarterly results", "Revenue grew by ten percent."),
                        ("退款政策", "客户可以申请退款。")]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    untitled = deck.slides.add_slide(deck.slide_layouts[6])  # blank layout: no title shape
    box = untitled.shapes.add_textbox(Inches(1), Inches(1), Inches(6), Inches(1))
    box.text_frame.text = "Questions are welcome at any time."
    deck.save(tmp_path / "deck.pptx")

    elements = parse_file(tmp_path / "deck.pptx")
    assert by_text(elements, "Quarterly results") == Element(
        "Quarterly results", "title", "Quarterly results", 1)
    assert by_text(elements, "Revenue grew by ten percent.").page == 1
    second = by_text(elements, "客户可以申请退款。")
    assert (second.page, second.section) == (2, "退款政策")
    third = by_text(elements, "Questions are welcome at any time.")
    assert (third.page, third.section) == (3, "")  # a new slide starts a new section


def test_pdf_pages_and_headings(tmp_path: Path) -> None:
    pdf = tmp_path / "guide.pdf"
    pdf.write_bytes(make_pdf([
        [(18, "Fees"), (11, "The monthly fee is 25 dollars."), (14, "Wire transfers"),
         (11, "A wire costs 15 dollars (domestic).")],
        [(18, "Support"), (11, "Call us at any time.")],
    ]))
    elements = parse_file(pdf)
    assert {e.page for e in elements} == {1, 2}
    assert by_text(elements, "The monthly fee is 25 dollars.").page == 1
    wire = by_text(elements, "A wire costs 15 dollars (domestic).")
    assert (wire.page, wire.section) == (1, "Fees > Wire transfers")
    assert by_text(elements, "Support") == Element("Support", "title", "Support", 2)
    assert by_text(elements, "Call us at any time.").page == 2


def test_csv_is_split_into_tables_that_repeat_the_header(tmp_path: Path) -> None:
    rows = ["客户;金额;city"] + [f"client{i};{i * 10};Zürich" for i in range(95)]
    csv_file = write(tmp_path / "clients.csv", "\r\n".join(rows) + "\r\n")
    elements = parse_file(csv_file)
    assert [e.kind for e in elements] == ["table"] * 3  # 40 + 40 + 15 rows
    for element in elements:
        lines = element.text.splitlines()
        assert lines[0] == "客户 | 金额 | city"
        assert len(lines) <= 41
    assert elements[0].text.splitlines()[1] == "client0 | 0 | Zürich"
    assert elements[2].text.splitlines()[-1] == "client94 | 940 | Zürich"


def test_gbk_csv_is_decoded(tmp_path: Path) -> None:
    text = "姓名,部门,电话\n张伟,财务部,8801\n李娜,人力资源部,8802\n王芳,信息技术部,8803\n"
    elements = parse_file(write(tmp_path / "staff.csv", text, encoding="gbk"))
    assert elements[0].text.splitlines() == [
        "姓名 | 部门 | 电话", "张伟 | 财务部 | 8801", "李娜 | 人力资源部 | 8802", "王芳 | 信息技术部 | 8803"]


def test_xlsx_has_one_section_per_sheet(tmp_path: Path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    fees = workbook.active
    fees.title = "Fees"
    fees.append(["Service", "Fee", "Currency"])
    fees.append(["Wire", 15.0, "USD"])
    fees.append(["电汇", 45, "CNY"])
    rates = workbook.create_sheet("Rates")
    rates.append(["Term", "Rate"])
    rates.append(["12 months", 0.035])
    rates.append(["Valid from", dt.datetime(2024, 1, 31)])
    workbook.save(tmp_path / "book.xlsx")

    elements = parse_file(tmp_path / "book.xlsx")
    assert [(e.kind, e.section) for e in elements] == [("table", "Fees"), ("table", "Rates")]
    assert elements[0].text.splitlines() == [
        "Service | Fee | Currency", "Wire | 15 | USD", "电汇 | 45 | CNY"]
    assert elements[1].text.splitlines() == [
        "Term | Rate", "12 months | 0.035", "Valid from | 2024-01-31"]


def test_plain_text_sentences_are_not_mistaken_for_headings(tmp_path: Path) -> None:
    txt = write(tmp_path / "notes.txt",
                "Fee schedule\n\nThe monthly fee is 25 dollars.\n\nCall us at any time.\n\n"
                "客户可以在三十天内申请退款。\n")
    elements = parse_file(txt)
    assert by_text(elements, "Fee schedule").kind == "title"
    for sentence in ("The monthly fee is 25 dollars.", "Call us at any time.", "客户可以在三十天内申请退款。"):
        assert (by_text(elements, sentence).kind, by_text(elements, sentence).section) == (
            "text", "Fee schedule")


def test_plain_text_underlined_headings_and_rules(tmp_path: Path) -> None:
    txt = write(tmp_path / "branches.txt",
                "HARBOR BANK - BRANCH OPENING HOURS\n==================================\n\n"
                "Our branches open at nine on weekdays.\n\n----------\n\n"
                "挂失须知\n========\n\n借记卡丢失请立即致电挂失。\n")
    elements = parse_file(txt)
    assert [e.text for e in elements if e.kind == "title"] == ["HARBOR BANK - BRANCH OPENING HOURS", "挂失须知"]
    assert by_text(elements, "Our branches open at nine on weekdays.").section == "HARBOR BANK - BRANCH OPENING HOURS"
    assert by_text(elements, "借记卡丢失请立即致电挂失。").section == "挂失须知"
    assert not any(set(e.text) <= set("=- ") for e in elements)  # rule lines are layout, not text
    assert not any("===" in e.text for e in elements)


def test_a_plain_text_files_opening_lines_are_its_title(tmp_path: Path) -> None:
    """The notice's first line, alone above the body, had been body text (its chunk's first sentence, and
    "银行卡丢了怎么办？" was answered with it). Lines that end like a sentence and a numbered heading are left as they
    were."""
    zh = parse_file(write(tmp_path / "loss.txt",
                          "港湾银行银行卡挂失与补卡须知\n\n借记卡丢失、被盗时，请第一时间办理挂失。\n\n"
                          "一、临时挂失\n\n拨打客服热线即可挂失。\n", encoding="gbk"))
    assert (zh[0].kind, zh[0].text, zh[0].section) == ("title", "港湾银行银行卡挂失与补卡须知", "港湾银行银行卡挂失与补卡须知")
    assert by_text(zh, "借记卡丢失、被盗时，请第一时间办理挂失。").section == "港湾银行银行卡挂失与补卡须知"
    assert by_text(zh, "拨打客服热线即可挂失。").section == "一、临时挂失"
    first = parse_file(write(tmp_path / "sentence.txt",
                             "Please read this first.\n\nThe fee is 5 dollars a month, charged on the 1st.\n"))[0]
    assert (first.kind, first.section) == ("text", "")
    numbered = parse_file(write(tmp_path / "numbered.txt", "一、第一学期\n\n七年级新生报到：2024年8月26日。\n"))
    assert [e.section for e in numbered] == ["一、第一学期", "一、第一学期"]  # a section's heading, no title over it


@pytest.mark.parametrize("name, text, title, heading, body", [
    ("guide.txt", "江州市第一人民医院\n\n来院交通与停车指南\n一、公交线路\n乘坐12路公交车到“人民医院站”下车即到。\n\n"
     "二、停车\n院内停车场前30分钟免费。\n", "江州市第一人民医院 来院交通与停车指南", "一、公交线路", "乘坐12路公交车到“人民医院站”下车即到。"),
    ("visits.txt", "江州市第一人民医院\n\n一、探视时间\n普通病房：每天 15:00—20:00。\n\n二、陪护\n每位患者限一名陪护。\n",
     "江州市第一人民医院", "一、探视时间", "普通病房：每天 15:00—20:00。"),
    ("parking.txt", "RIVERBEND GENERAL HOSPITAL\nGetting Here and Parking\n\nAddress\n"
     "Riverbend General Hospital, 1200 Riverside Drive.\n\nREPORT CARDS\n\nNone here.\n",
     "RIVERBEND GENERAL HOSPITAL", "Getting Here and Parking", "Address\nRiverbend General Hospital, 1200 Riverside Drive."),
    ("exams.txt", "ASSESSMENT, EXAMS AND REPORTS\n\nGRADING SCALES\n\nKindergarten to Grade 5 use standards-based "
     "grades.\n\nREPORT CARDS\n\nReports go home in January and June.\n", "ASSESSMENT, EXAMS AND REPORTS",
     "GRADING SCALES", "Kindergarten to Grade 5 use standards-based grades."),
], ids=["zh-two-title-lines", "zh-numbered-heading", "en-heading-on-the-next-line", "en-heading-after-a-blank-line"])
def test_a_plain_text_title_with_a_heading_right_after_it(tmp_path: Path, name, text, title, heading, body) -> None:
    """A title line with a heading straight after it (on the next line, or after a blank line) had been left as
    body text with no section: a chunk of its own ("江州市第一人民医院", "RIVERBEND GENERAL HOSPITAL"), and
    "来院交通与停车指南", over "一、公交线路", the only line of the title's section. It is the title; the heading stays
    a heading, its section under the title; the next heading's is its own."""
    from indexer.chunk import chunk_elements
    from indexer.config import ChunkSettings

    elements = parse_file(write(tmp_path / name, text))
    assert (elements[0].kind, elements[0].text, elements[0].section) == ("title", title, title)
    opening = by_text(elements, heading)
    assert (opening.kind, opening.section) == ("title", f"{title} > {heading}")
    assert by_text(elements, body).section == f"{title} > {heading}"
    later = elements[3]
    assert later.kind == "title" and later.section == later.text
    chunks = chunk_elements("d", elements, ChunkSettings())
    assert [(c.title, c.text) for c in chunks][:1] == [(f"{title} > {heading}", body)]
    assert len(chunks) == 2  # the two sections: no chunk of the title line alone


@pytest.mark.parametrize("name, text", [
    ("colon.txt", "Welcome to Maple Grove, we are glad you are here:\n\nTERM DATES\n\nTerm starts on Monday.\n"),
    ("sentence.txt", "Please read this first.\n\nTERM DATES\n\nTerm starts on Monday.\n"),
    ("long.txt", "This guide is for parents and guardians of pupils in every year group of the primary and the "
     "secondary school\n\nTERM DATES\n\nTerm starts on Monday.\n"),
    ("two-lines.txt", "MAPLE GROVE INTERNATIONAL SCHOOL\nSCHOOL CALENDAR 2024-2025\n\nTERM DATES\n\n"
     "New student orientation: Monday 26 August 2024.\n"),
    ("须知.txt", "请先阅读以下须知。\n\n一、报名条件\n年满六周岁。\n"),
    ("家长.txt", "各位家长，\n\n一、报名条件\n年满六周岁。\n"),
], ids=["en-colon", "en-sentence", "en-long", "en-two-lines", "zh-sentence", "zh-comma"])
def test_an_opening_line_over_a_heading_that_is_no_title_stays_text(tmp_path: Path, name, text) -> None:
    """A first line that ends like a sentence (a greeting's comma, an intro's colon), one too long for a title, or
    two lines of text one under the other, over a heading: body text, as before."""
    elements = parse_file(write(tmp_path / name, text))
    assert elements[0].kind == "text" and elements[0].section == ""
    heading = next(e for e in elements if e.kind == "title")
    assert heading.section == heading.text


def test_plain_text_headings_and_list_items_keep_their_lines(tmp_path: Path) -> None:
    # unstructured joins a block's lines with spaces: "Your bill After a hospital stay ...", "Ways to pay -
    # Online ... - By phone ..."; the heading's and the items' breaks come back, a wrapped line stays joined
    txt = write(tmp_path / "billing.txt",
                "Your bill\nAfter a hospital stay we send the charges to your insurer. Payment is due\n"
                "within 30 days of the statement date.\n\n"
                "Ways to pay\n- Online at any time.\n- In person: Cashier's Office. Cash is accepted only there.\n\n"
                "一、探视时间\n普通病房：每天 15:00—20:00。\n1. 每次限两人。\n2. 儿童须由成人陪同。\n")
    texts = [e.text for e in parse_file(txt)]
    assert ("Your bill\nAfter a hospital stay we send the charges to your insurer. Payment is due within 30 days "
            "of the statement date.") in texts
    assert "Ways to pay\n- Online at any time.\n- In person: Cashier's Office. Cash is accepted only there." in texts
    assert [line for t in texts for line in t.splitlines()][-4:] == [
        "一、探视时间", "普通病房：每天 15:00—20:00。", "1. 每次限两人。", "2. 儿童须由成人陪同。"]


def test_line_breaks_are_looked_for_near_where_the_last_element_ended() -> None:
    from indexer.parse.line_breaks import keep_line_breaks

    source = "Fees\nThe fee is 5 dollars.\n\n" + "filler words here. " * 2000 + "\nLate\nA late fee applies."
    # an element unstructured changed (not in the source) is left as it is, and the search stays bounded
    assert keep_line_breaks(["Fees The fee is 5 dollars.", "Changed text entirely", "Late A late fee applies."],
                            source) == ["Fees\nThe fee is 5 dollars.", "Changed text entirely", "Late A late fee applies."]


def test_words_are_found_where_the_regular_expression_finds_them() -> None:
    """keep_line_breaks looks for an element's words without compiling them into one pattern (a 20,000-character
    piece's took 0.1 s); it finds the same place re.search finds."""
    import re

    from indexer.parse.line_breaks import _find_words

    rng = random.Random(0)
    vocab = ["a", "ab", "b", "ba", "费用", "费", "x.y", "(1)"]
    for _ in range(5000):
        source = "".join(rng.choice(vocab + [" ", "\n", "  ", "\t", "\u3000"]) for _ in range(rng.randint(1, 30)))
        words = [rng.choice(vocab) for _ in range(rng.randint(2, 4))]
        start = rng.randint(0, len(source))
        end = rng.randint(start, len(source))
        found = re.search(r"\s+".join(map(re.escape, words)), source[start:end])
        expected = None if found is None else (start + found.start(), start + found.end())
        assert _find_words(words, source, start, end) == expected, (source, words, start, end)


# ---------------------------------------------------------------- over-long lines

def _sentences(count: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    words = ("the bank opens at nine and closes at five on weekdays customers may call the branch to report a "
             "lost card fees apply for replacement cards").split()
    return " ".join(" ".join(rng.choice(words) for _ in range(rng.randint(8, 20))).capitalize() + "."
                    for _ in range(count))


def test_cut_line_cuts_at_sentence_ends_then_spaces_then_anywhere() -> None:
    from indexer.parse.long_lines import cut_line

    line = _sentences(40)
    pieces = cut_line(line, 500)
    assert len(pieces) > 1 and all(len(p) <= 500 for p in pieces)
    assert all(p.endswith(".") for p in pieces)  # every cut after a sentence
    assert " ".join(pieces) == line  # nothing lost, nothing added
    assert min(map(len, pieces)) > 500 // 4  # near-equal: no scrap at the end that could pass for a heading
    words = "fee " * 300
    assert all(len(p) <= 500 and p.endswith("fee") for p in cut_line(words, 500))  # no sentence end: at a space
    assert " ".join(cut_line(words, 500)) == words.strip()
    chinese = "跨行转账收费五元" * 200  # no space, no punctuation: right at the size
    assert "".join(cut_line(chinese, 500)) == chinese and max(map(len, cut_line(chinese, 500))) <= 500
    sentences = "跨行转账收费五元。本行转账免费！" * 60
    assert all(p.endswith(("。", "！")) for p in cut_line(sentences, 500))
    assert cut_line("short line", 500) == ["short line"]


def test_a_text_file_of_one_long_line_is_cut_into_paragraphs(tmp_path: Path) -> None:
    """One 300,000-character line: spaCy ran over all of it (~30 s and ~3 GB a million characters; a 2.6 MB line
    was stopped at the sandbox's 1024 MB). Now pieces of at most 20,000 characters, ending sentences."""
    from indexer.parse.long_lines import MAX_LINE_CHARS

    line = _sentences(3500)
    assert len(line) > 250_000
    path = write(tmp_path / "oneline.txt", "Fees\n\n" + line + "\n")
    elements = parse_file(path)
    body = elements[1:]
    assert elements[0].text == "Fees" and elements[0].kind == "title"
    assert len(body) >= len(line) // MAX_LINE_CHARS and all(len(e.text) <= MAX_LINE_CHARS for e in body)
    assert all(e.kind == "text" and e.section == "Fees" and e.text.endswith(".") for e in body)
    assert " ".join(e.text for e in body) == line


def test_a_long_line_of_chinese_without_spaces(tmp_path: Path) -> None:
    from indexer.parse.long_lines import MAX_LINE_CHARS

    rng = random.Random(2)
    chars = "银行营业时间为每周一至周五上午九点至下午五点客户可以拨打电话挂失银行卡补办需要支付工本费"
    no_punctuation = "".join(rng.choice(chars) for _ in range(150_000))
    with_punctuation = "".join("".join(rng.choice(chars) for _ in range(rng.randint(10, 40))) + "。"
                               for _ in range(5000))
    for name, line in (("plain.txt", no_punctuation), ("sentences.txt", with_punctuation)):
        elements = parse_file(write(tmp_path / name, line + "\n"))
        assert len(elements) > 1 and all(len(e.text) <= MAX_LINE_CHARS and e.kind == "text" for e in elements)
        assert "".join(e.text for e in elements) == line
    assert all(e.text.endswith("。") for e in parse_file(tmp_path / "sentences.txt"))


def test_a_markdown_file_of_one_long_line_is_cut_too(tmp_path: Path) -> None:
    from indexer.parse.long_lines import MAX_LINE_CHARS

    line = _sentences(1200, seed=3)
    elements = parse_file(write(tmp_path / "oneline.md", "# Fees\n\n" + line + "\n\nCall us at any time.\n"))
    assert elements[0].text == "Fees" and elements[-1].text == "Call us at any time."
    body = elements[1:-1]
    assert len(body) > 1 and all(len(e.text) <= MAX_LINE_CHARS and e.section == "Fees" for e in body)
    assert " ".join(e.text for e in body) == line


def test_long_text_is_classified_without_the_tagger() -> None:
    """unstructured's spaCy pipeline: the tagger and parser up to 10,000 characters, the rule-based sentencizer
    above (no tags: ~0.25 s and ~45 MB a million characters instead of ~30 s and ~3 GB)."""
    from unstructured.nlp import tokenize

    from indexer.parse.offline_nlp import FULL_PIPELINE_MAX_CHARS, ensure_offline_nlp

    ensure_offline_nlp()
    nlp = tokenize._get_nlp()
    short = "Call us at any time. We open at nine."
    long = _sentences(1000)
    assert len(long) > FULL_PIPELINE_MAX_CHARS
    assert nlp(short).has_annotation("DEP") == ("parser" in nlp.full.pipe_names)
    doc = nlp(long)
    assert not doc.has_annotation("TAG") and not doc.has_annotation("DEP")
    assert len(list(doc.sents)) > 500


def test_parsing_libraries_log_at_debug_only(tmp_path: Path, root_log) -> None:
    """pypdf's "invalid pdf header" reached the terminal; the file's reason is what the user gets, the library's
    lines reach the root logger's handlers (the CLI's terminal) as our DEBUG records only."""
    import logging

    with pytest.raises(ParseError, match="could not be read as a PDF"):
        parse_file(write(tmp_path / "fake.pdf", "not a pdf"))
    assert [r for r in root_log if r.levelno >= logging.INFO] == []
    assert any(r.name == "indexer.parse.libraries" and "pypdf._reader: invalid pdf header" in r.getMessage()
               for r in root_log)


def test_the_parser_sandbox_keeps_library_warnings_off_the_terminal(tmp_path: Path) -> None:
    """The sandboxed parser's processes write to the caller's terminal: nothing a library says reaches it."""
    fake = write(tmp_path / "fake.pdf", "not a pdf")
    page = write(tmp_path / "page.html", "<h1>Fees</h1><p>" + _sentences(9000) + "</p>")  # over spaCy's 1,000,000
    script = textwrap.dedent(f"""
        from indexer.parse.sandbox import parse_isolated
        from indexer.parse.errors import ParseError
        try:
            parse_isolated({str(fake)!r})
        except ParseError as exc:
            print("REASON", exc)
        print("ELEMENTS", len(parse_isolated({str(page)!r})))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "REASON fake.pdf could not be read as a PDF" in done.stdout and "ELEMENTS 2" in done.stdout
    assert done.stderr == ""


# ---------------------------------------------------------------- encodings

def test_gbk_chinese_text_file(tmp_path: Path) -> None:
    text = "退款政策\n\n客户可以在三十天内申请退款。电汇需要两个工作日才能到账，请耐心等待。\n"
    elements = parse_file(write(tmp_path / "policy.txt", text, encoding="gbk"))
    joined = "\n".join(e.text for e in elements)
    assert "客户可以在三十天内申请退款。" in joined and "请耐心等待" in joined


def test_latin1_text_file(tmp_path: Path) -> None:
    elements = parse_file(write(tmp_path / "menu.txt",
                                "Le café est fermé le dimanche, crème brûlée incluse.\n",
                                encoding="latin-1"))
    assert elements[0].text == "Le café est fermé le dimanche, crème brûlée incluse."


@pytest.mark.parametrize(("text", "encoding"), [
    ("café", "latin-1"),
    ("Price: 5€ – “quoted”", "cp1252"),
    ("Zażółć gęślą jaźń. Przykładowy tekst w języku polskim.", "cp1250"),
    ("Привет, это тестовый текст на русском языке.", "cp1251"),
    ("退款政策：三十天内", "gbk"),
    ("with a byte-order mark", "utf-8-sig"),
    ("UTF-16 with BOM, naïve", "utf-16"),
])
def test_decode_bytes(text: str, encoding: str) -> None:
    assert decode_bytes(text.encode(encoding)) == text


@pytest.mark.parametrize(("text", "encoding"), [
    ("退款手續費為五元。", "big5"),  # charset-normalizer: Korean, "컃닥ㅲ쿱턔Оㄽㅈ좧"
    ("退款手续费为五元€。", "gb18030"),  # charset-normalizer: Thai, then Latin-1 "ÍË¿îÊÖÐø·Ñ…"
    ("退款手续费为五元。", "gbk"),
    ("香港分行的營業時間為星期一至五。", "cp950"),
    ("营业时间：周一至周五 9:00-17:00，电话 95555。", "gb18030"),
    ("한국어 텍스트는 띄어쓰기를 사용합니다. 은행 수수료는 오천 원입니다.", "euc-kr"),  # not read as Chinese
    ("日本語のテキストです。手数料は五百円です。", "euc-jp"),
])
def test_short_legacy_cjk_text_is_not_mojibake(text: str, encoding: str) -> None:
    assert decode_bytes(text.encode(encoding)) == text


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("text", ["退款手续费为五元。\n信用卡挂失请拨打客服电话。\n", "The fee is five dollars.\r\nCall us.\r\n",
                                  "项目\t费用\nWire transfer\t$25\n"])
def test_utf16_without_a_byte_order_mark_is_read(tmp_path: Path, text: str, encoding: str) -> None:
    """Excel's "Unicode Text" and Notepad's "Unicode" are UTF-16; without their BOM the NUL bytes of the
    ASCII characters had the file refused as binary, upload (415) and CLI alike."""
    from api.sniff import check_type

    assert decode_bytes(text.encode(encoding)) == text
    check_type("notes.txt", text.encode(encoding)[:2047])  # the upload's first bytes, cut mid-character
    elements = parse_file(write(tmp_path / "fees.txt", text, encoding=encoding))
    assert "".join("".join(e.text for e in elements).split()) == "".join(text.split())


@pytest.mark.parametrize(("charset", "body"), [("gbk", "年费为一百元。"), ("koi8-r", "Привет")])
def test_html_declared_charset_is_used(tmp_path: Path, charset: str, body: str) -> None:
    page = f'<html><head><meta charset="{charset}"></head><body><p>{body}</p></body></html>'
    elements = parse_file(write(tmp_path / "page.htm", page, encoding=charset))
    assert [e.text for e in elements] == [body]


# ---------------------------------------------------------------- failures

def test_empty_and_blank_files_are_rejected(tmp_path: Path) -> None:
    for name, content in [("empty.txt", b""), ("blank.md", b"  \n\n \t\n"),
                          ("empty.csv", b"\n\n")]:
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ParseError, match=rf"{name} is empty"):
            parse_file(tmp_path / name)


def test_binary_junk_with_text_extension(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_bytes(random.Random(7).randbytes(4096))
    with pytest.raises(ParseError, match="binary") as info:
        parse_file(junk)
    assert "notes.txt" in str(info.value)
    no_nul = tmp_path / "data.md"
    no_nul.write_bytes(random.Random(8).randbytes(4096).replace(b"\x00", b"a"))
    with pytest.raises(ParseError, match="binary"):
        parse_file(no_nul)


@pytest.mark.parametrize(("first", "deep", "last"), [("First paragraph.", "The fee is five dollars.", "Last paragraph."),
                                                      ("第一段。", "手续费为五元。", "最后一段。")])
def test_html_nested_past_the_parser_depth_is_refused_not_cut_short(tmp_path: Path, first: str, deep: str,
                                                                     last: str) -> None:
    """libxml2 stops at 256 levels and dropped the rest of the page in silence (100,000 nested <div>s read
    as an empty file); 200 levels parse whole."""
    def page(depth: int) -> str:
        return f"<html><body><p>{first}</p>{'<div>' * depth}<p>{deep}</p>{'</div>' * depth}<p>{last}</p></body></html>"
    assert [e.text for e in parse_file(write(tmp_path / "ok.html", page(200)))] == [first, deep, last]
    for depth in (300, 100_000):
        with pytest.raises(ParseError, match="more than 256 levels deep"):
            parse_file(write(tmp_path / "deep.html", page(depth)))
    with pytest.raises(ParseError, match="deep.md nests its elements"):
        parse_file(write(tmp_path / "deep.md", f"{first}\n\n{'>' * 300} {deep}\n\n{last}\n"))


@pytest.mark.parametrize(("title", "body"), [("Fees", "The monthly fee is 5 dollars &x;."),
                                             ("收费", "月费为5元 &x;。")])
def test_html_doctype_internal_subset_leaves_no_stray_text(tmp_path: Path, title: str, body: str) -> None:
    """The HTML parser ends the DOCTYPE at its first ">", inside the subset: "]>" (and any declaration after
    the first) was indexed as a paragraph. HTML expands no declared entity: "&x;" stays as written."""
    subsets = ['<!DOCTYPE html [ <!ENTITY x "y"> ]>',
               '\ufeff<!-- saved -->\n<!doctype html [\n<!ENTITY x "a ]> b">\n<!-- it\'s ]> -->\n<!ELEMENT p ANY>\n]  >']
    for n, doctype in enumerate(subsets):
        page = write(tmp_path / f"page{n}.html", f"{doctype}\n<html><body><h1>{title}</h1><p>{body}</p></body></html>")
        assert [(e.kind, e.text) for e in parse_file(page)] == [("title", title), ("text", body)], doctype


def test_corrupt_pdf(tmp_path: Path) -> None:
    good = make_pdf([[(11, "hello")]])
    bad = tmp_path / "report.pdf"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(ParseError, match="could not be read as a PDF"):
        parse_file(bad)


def test_pdf_without_text_or_images_has_no_text(tmp_path: Path) -> None:
    """Pages that draw nothing are blank, not a scan (a scan, an image of a page, needs OCR: test_pdf_layout)."""
    blank = tmp_path / "blank.pdf"
    blank.write_bytes(make_pdf([[], []]))
    with pytest.raises(ParseError, match=r"blank\.pdf has no text: its pages are blank"):
        parse_file(blank)


def test_corrupt_office_file(tmp_path: Path) -> None:
    bad = tmp_path / "letter.docx"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip archive" * 10)
    with pytest.raises(ParseError, match=r"letter\.docx could not be opened as a Word document"):
        parse_file(bad)


def test_unsupported_extension_names_supported_types(tmp_path: Path) -> None:
    odd = write(tmp_path / "drawing.xyz", "some text")
    with pytest.raises(ParseError, match=r'"\.xyz" files are not supported') as info:
        parse_file(odd)
    for extension in (".pdf", ".docx", ".md", ".csv", ".xlsx"):
        assert extension in SUPPORTED_EXTENSIONS and extension in str(info.value)


def test_a_name_that_is_only_an_extension_is_that_type(tmp_path: Path) -> None:
    """'.txt' was read as a hidden file without an extension ("files without an extension are not supported")."""
    (tmp_path / "en").mkdir()
    (tmp_path / "zh").mkdir()
    english = write(tmp_path / "en" / ".txt", "The monthly fee is 5 dollars.\n")
    chinese = write(tmp_path / "zh" / ".MD", "# 收费\n\n月费为5元。\n")
    table = write(tmp_path / ".tsv", "服务\t价格\n挂失\t10元\n")
    assert [e.text for e in parse_file(english)] == ["The monthly fee is 5 dollars."]
    assert [(e.kind, e.text) for e in parse_file(chinese)] == [("title", "收费"), ("text", "月费为5元。")]
    assert parse_file(table)[0].text == "服务 | 价格\n挂失 | 10元"
    with pytest.raises(ParseError, match=r'\.bashrc cannot be indexed: "\.bashrc" files are not supported'):
        parse_file(write(tmp_path / ".bashrc", "export A=1\n"))


def test_oversized_file_is_rejected_before_reading(tmp_path: Path) -> None:
    # Binary junk: had the parser read it, the error would be about binary content.
    big = tmp_path / "big.txt"
    big.write_bytes(random.Random(1).randbytes(2_500_000))
    with pytest.raises(ParseError, match=r"too large.*2\.5 MB \(2500000 bytes\).*"
                                         r"limit is 1\.0 MB \(1000000 bytes\)"):
        parse_file(big, max_bytes=1_000_000)
    small = write(tmp_path / "small.txt", "Just a short note about fees.\n")
    assert parse_file(small, max_bytes=1_000_000)[0].text == "Just a short note about fees."


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="not found"):
        parse_file(tmp_path / "gone.pdf")


# ---------------------------------------------------------------- offline

def test_blank_fallback_pipeline_needs_no_data() -> None:
    from indexer.parse.offline_nlp import _build_pipeline

    nlp, description = _build_pipeline(use_packaged_model=False)
    assert description == "blank:en+sentencizer"
    assert [s.text for s in nlp("Fees are due. Pay on time.").sents] == [
        "Fees are due.", "Pay on time."]


_SITECUSTOMIZE = '''
import importlib.abc, os, socket, sys
_LOG = os.environ["NET_ATTEMPT_LOG"]

def _blocked(what):
    def refuse(*args, **kwargs):
        with open(_LOG, "a") as log:
            log.write(f"{what} {args[1:3] if what == 'connect' else args[:2]!r}\\n")
        raise OSError(101, "network is unreachable (blocked by test)")
    return refuse

socket.getaddrinfo = _blocked("getaddrinfo")
socket.create_connection = _blocked("create_connection")
socket.socket.connect = _blocked("connect")
socket.socket.connect_ex = _blocked("connect")

class _Hide(importlib.abc.MetaPathFinder):
    """en_core_web_sm: absent even where it happens to be installed (the case under test).
    torch: only spaCy's thinc imports it, optionally; hiding it halves this process's start."""
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("en_core_web_sm", "torch"):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by test)")
        return None

sys.meta_path.insert(0, _Hide())
'''

_OFFLINE_SCRIPT = '''
import importlib.util, json, os, sys, tempfile
from pathlib import Path
log = Path(os.environ["NET_ATTEMPT_LOG"])
try:
    model_importable = importlib.util.find_spec("en_core_web_sm") is not None
except ModuleNotFoundError:
    model_importable = False
report = {"model_importable": model_importable}

# Importing indexer.parse.dispatch must switch telemetry off before anything loads unstructured.
from indexer.parse.dispatch import parse_file
report["parsed"] = {name: [e.text for e in parse_file(Path(sys.argv[1]) / name)]
                    for name in ("a.txt", "b.html", "c.md")}
report["attempts_while_parsing"] = log.read_text() if log.exists() else ""

# Harness check: the hook sees both ways unstructured reaches out (requests for telemetry,
# urllib for the model download), so an empty log above means something.
from unstructured.nlp import tokenize
from unstructured.utils import scarf_analytics
del os.environ["DO_NOT_TRACK"], os.environ["SCARF_NO_ANALYTICS"]
scarf_analytics()
report["telemetry_seen"] = "getaddrinfo" in (log.read_text() if log.exists() else "")
log.unlink(missing_ok=True)
try:  # .invalid never resolves: nothing can be fetched even if the hook failed
    tokenize._download_with_timeout("https://example.invalid/m.whl", tempfile.mktemp())
except Exception:
    pass
report["download_seen"] = log.exists() and log.read_text() != ""
print(json.dumps(report))
'''


@pytest.fixture(scope="module", autouse=True)
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[str]]:
    """Start the network-blocked parse in a subprocess before this module's first test, so
    its slow start (importing unstructured, spaCy, torch) overlaps with the other tests."""
    root = tmp_path_factory.mktemp("offline")
    (root / "hooks").mkdir()
    (root / "hooks" / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    docs = root / "docs"
    docs.mkdir()
    write(docs / "a.txt", "Fee schedule\n\nThe monthly fee is 25 dollars and is charged on the "
                          "first day. Premium accounts pay nothing.\n\n退款需要三个工作日。\n")
    write(docs / "b.html", "<h1>Fees</h1><p>Call us at any time.</p><p>电汇需要两个工作日。</p>")
    write(docs / "c.md", "# Fees\n\nThe fee is waived for students.\n")
    env = {key: value for key, value in os.environ.items()
           if key not in ("DO_NOT_TRACK", "SCARF_NO_ANALYTICS", "PYTHONPATH")}
    env.update(PYTHONPATH=f"{root / 'hooks'}{os.pathsep}{REPO}",
               NET_ATTEMPT_LOG=str(root / "net.log"))
    command = [sys.executable, "-c", _OFFLINE_SCRIPT, str(docs)]
    if shutil.which("unshare") and subprocess.run(
            ["unshare", "-n", "true"], capture_output=True).returncode == 0:
        command = ["unshare", "-n", *command]  # no network namespace at all, on top of hooks
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    yield process
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_parsing_works_with_network_blocked_and_no_spacy_model(
        offline_run: subprocess.Popen[str]) -> None:
    stdout, stderr = offline_run.communicate(timeout=120)
    assert offline_run.returncode == 0, stderr[-3000:]
    report = json.loads(stdout.strip().splitlines()[-1])

    assert report["model_importable"] is False
    assert report["attempts_while_parsing"] == ""
    assert report["telemetry_seen"], "the socket hook did not see unstructured's telemetry ping"
    assert report["download_seen"], "the socket hook did not see a urllib download"
    assert "The monthly fee is 25 dollars" in " ".join(report["parsed"]["a.txt"])
    assert "退款需要三个工作日。" in report["parsed"]["a.txt"]
    assert report["parsed"]["b.html"] == ["Fees", "Call us at any time.", "电汇需要两个工作日。"]
    assert report["parsed"]["c.md"] == ["Fees", "The fee is waived for students."]
