"""PDF layout on real files written here: tables found from where the text sits (indexer.parse.pdf_tables),
running headers, footers and page numbers dropped (indexer.parse.page_margins), blank and scanned PDFs told
apart, and pypdf's complaints about a damaged file kept off the terminal.

The PDFs are written by hand (no PDF library is a dependency): Helvetica for English, and for Chinese the
Adobe-GB1 CID font STSong-Light through the predefined UniGB-UCS2-H CMap, as reportlab writes it. Text is
drawn as a tester's reportlab document draws it (each table cell in its own BT ... ET, the page footer
first) or as a word processor does (a table row in one BT ... ET, its cells placed with Tm)."""
from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from indexer.chunk import chunk_elements
from indexer.config import ChunkSettings
from indexer.parse.dispatch import ParseError, parse_file
from indexer.parse.minimal_pdf import assemble
from indexer.parse.page_margins import margin_lines, page_number
from indexer.types import Element

REPO = Path(__file__).resolve().parents[2]
FOOTER = "Lakeside Clinic Handbook - page {n}"


@dataclass
class Run:
    """Text drawn at (x, y) on the page, in font size `size`; `cjk`: in STSong-Light."""

    x: float
    y: float
    text: str
    size: float = 10
    cjk: bool = False


def _string(run: Run) -> bytes:
    if run.cjk:
        return b"<" + run.text.encode("utf-16-be").hex().encode() + b">"
    escaped = run.text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("cp1252") + b")"  # WinAnsiEncoding


def _draw(group: list[Run]) -> bytes:
    """One BT ... ET drawing the runs, each placed with Tm."""
    ops = [b"BT"]
    for run in group:
        ops.append(b"/F%d %g Tf 1 0 0 1 %g %g Tm %s Tj" % (3 if run.cjk else 1, run.size, run.x, run.y, _string(run)))
    ops.append(b"ET")
    return b"\n".join(ops)


def write_pdf(path: Path, pages: list[list[list[Run]]], *, rules: list[list[tuple]] | None = None,
              image_on: frozenset[int] = frozenset(), height: float = 842) -> Path:
    """pages: per page, groups of runs, each group one BT ... ET. rules: per page, (x0, y0, x1, y1) lines
    stroked after the text. image_on: pages (0-based) that draw a small grey image XObject. height: of the
    pages, in points (A4's width)."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>", b"",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0 "
        b"/Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
        b"/DescendantFonts [6 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /FontDescriptor 4 0 R /DW 1000 "
        b"/W [1 95 500] /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> >>",
        b"<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray /BitsPerComponent 8 "
        b"/Length 4 >>\nstream\n\x80\x80\x80\x80\nendstream",
    ]
    kids = []
    for number, groups in enumerate(pages):
        content = b"\n".join(_draw(group) for group in groups)
        for x0, y0, x1, y1 in (rules or [[]] * len(pages))[number]:
            content += b"\n0.5 w %g %g m %g %g l S" % (x0, y0, x1, y1)
        if number in image_on:
            content += b"\nq 400 0 0 500 100 150 cm /Im1 Do Q"
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 %g] /Contents %d 0 R /Resources "
                       b"<< /Font << /F1 3 0 R /F3 5 0 R >> /XObject << /Im1 7 0 R >> >> >>" % (height, len(objects)))
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    path.write_bytes(assemble(objects))
    return path


def paragraph(lines: list[str], y: float, x: float = 72, size: float = 10, cjk: bool = False) -> list[list[Run]]:
    return [[Run(x, y - i * 1.4 * size, line, size, cjk)] for i, line in enumerate(lines)]


def footer(n: int, text: str = FOOTER) -> list[Run]:
    return [Run(72, 40, text.format(n=n), 9)]


def cell_per_bt(rows: list[list[str]], xs: list[float], top: float, pitch: float = 18, cjk: bool = False):
    """A table drawn as reportlab draws it: every cell its own BT ... ET."""
    return [[Run(x, top - i * pitch, cell, 10, cjk)] for i, row in enumerate(rows) for x, cell in zip(xs, row) if cell]


def row_per_bt(rows: list[list[str]], xs: list[float], top: float, pitch: float = 18, cjk: bool = False,
               size: float = 10):
    """A table drawn as a word processor draws it: a row in one BT ... ET."""
    return [[Run(x, top - i * pitch, cell, size, cjk) for x, cell in zip(xs, row) if cell]
            for i, row in enumerate(rows)]


PRICES = [["Service", "Price"], ["General consultation", "$30"], ["Specialist consultation", "$50"],
          ["Blood test", "$15"], ["X-ray", "$40"]]
PRICES_ZH = [["项目", "价格"], ["普通门诊", "20元"], ["专家门诊", "50元"], ["血常规", "15元"]]


def clinic_handbook(path: Path) -> Path:
    """The tester's English handbook: 3 pages, a price table on page 2, a footer on every page drawn first."""
    return write_pdf(path, [
        [footer(1), [Run(72, 770, "Lakeside Clinic Handbook", 18)], [Run(72, 740, "Opening hours", 14)],
         *paragraph(["The clinic is open from 8 am to 6 pm on weekdays and from 9 am to noon on Saturdays.",
                     "It is closed on Sundays and public holidays."], 715)],
        [footer(2), [Run(72, 770, "Fees", 14)], *paragraph(["The table below lists the consultation fees."], 745),
         *cell_per_bt(PRICES, [230, 360], 720),
         *paragraph(["Fees are paid at the front desk by card or cash."], 620)],
        [footer(3), [Run(72, 770, "Visitors", 14)],
         *paragraph(["Visitors are welcome from 2 pm to 8 pm.", "Parking is free for patients behind the building."],
                    745)],
    ])


def texts(elements: list[Element]) -> list[str]:
    return [e.text for e in elements]


# ---------------------------------------------------------------- tables

def test_a_pdf_table_becomes_a_table_element_quoted_with_its_header(tmp_path: Path) -> None:
    elements = parse_file(clinic_handbook(tmp_path / "handbook.pdf"))
    table = [e for e in elements if e.kind == "table"]
    assert table == [Element("Service | Price\nGeneral consultation | $30\nSpecialist consultation | $50\n"
                             "Blood test | $15\nX-ray | $40", "table", "Lakeside Clinic Handbook > Fees", 2)]
    # the rest of the page as before, in order, and no cell left behind as a loose line
    page2 = [e.text for e in elements if e.page == 2]
    assert page2 == ["Fees", "The table below lists the consultation fees.", table[0].text,
                     "Fees are paid at the front desk by card or cash."]
    assert not any(line in ("$50", "Price", "Specialist consultation") for e in elements
                   for line in e.text.splitlines())
    # the chunker keeps the table whole: a row comes with its header
    chunks = chunk_elements("d", elements, ChunkSettings())
    row = [c for c in chunks if "Specialist consultation | $50" in c.text]
    assert len(row) == 1 and "Service | Price" in row[0].text and row[0].page == 2


def test_a_chinese_table_drawn_row_by_row_and_one_drawn_cell_by_cell(tmp_path: Path) -> None:
    for draw in (row_per_bt, cell_per_bt):
        pdf = write_pdf(tmp_path / f"fees_{draw.__name__}.pdf", [
            [[Run(72, 770, "收费标准", 16, cjk=True)],
             *paragraph(["下表列出了各项挂号费用。"], 745, cjk=True),
             *draw(PRICES_ZH, [260, 320], 720, cjk=True),
             *paragraph(["挂号费可以用医保卡支付。"], 630, cjk=True)],
        ])
        elements = parse_file(pdf)
        assert texts(elements) == ["收费标准", "下表列出了各项挂号费用。",
                                   "项目 | 价格\n普通门诊 | 20元\n专家门诊 | 50元\n血常规 | 15元", "挂号费可以用医保卡支付。"]
        assert [e.kind for e in elements] == ["title", "text", "table", "text"], draw.__name__


def test_a_wrapped_cell_joins_its_row_and_ruled_tables_read_the_same(tmp_path: Path) -> None:
    """Cells wrapped onto a second line, aligned at the top of their row (the sample mortgage table)."""
    xs = [80, 250, 400]
    groups = [[Run(80, 700, "Requirement"), Run(250, 700, "Conventional"), Run(400, 700, "Jumbo mortgage (loan")],
              [Run(400, 687, "above $750,000)")],
              [Run(80, 666, "Minimum credit score"), Run(250, 666, "620"), Run(400, 666, "680")],
              [Run(80, 645, "Minimum down payment"), Run(250, 645, "5%"), Run(400, 645, "10%")],
              [Run(80, 632, "(primary residence)")],
              [Run(80, 611, "Cash reserves"), Run(250, 611, "2 months"), Run(400, 611, "6 months")]]
    ruled = [[(75, y, 520, y) for y in (712, 680, 657, 624, 603)] + [(x - 5, 603, x - 5, 712) for x in xs]]
    expected = ("Requirement | Conventional | Jumbo mortgage (loan above $750,000)\n"
                "Minimum credit score | 620 | 680\nMinimum down payment (primary residence) | 5% | 10%\n"
                "Cash reserves | 2 months | 6 months")
    for name, rules in (("plain", None), ("ruled", ruled)):
        pdf = write_pdf(tmp_path / f"{name}.pdf", [[*paragraph(["Home mortgages need the following:"], 730), *groups,
                                                     *paragraph(["Rates may change."], 580)]], rules=rules)
        assert texts(parse_file(pdf)) == ["Home mortgages need the following:", expected, "Rates may change."], name


def test_lists_and_text_in_two_columns_are_not_tables(tmp_path: Path) -> None:
    bullets = [[Run(72, 700 - 16 * i, "•"), Run(90, 700 - 16 * i, item)]
               for i, item in enumerate(["a photo ID for every applicant;", "pay stubs for the last 30 days;",
                                         "bank statements for the last 2 months."])]
    numbered = [[Run(72, 600 - 16 * i, f"{i + 1}."), Run(90, 600 - 16 * i, step)]
                for i, step in enumerate(["Sign in to online banking.", "Choose Cards.", "Press Report lost."])]
    left = ["Our branches open at nine in the morning and close", "at five in the afternoon on every weekday, and",
            "at noon on Saturdays; they are closed on Sundays."]
    right = ["Customers can call the help line at any hour to", "report a lost card, ask about a payment or reset",
             "their password for online banking at no charge."]
    columns = [[Run(72, 500 - 14 * i, a), Run(310, 500 - 14 * i, b)] for i, (a, b) in enumerate(zip(left, right))]
    elements = parse_file(write_pdf(tmp_path / "lists.pdf", [bullets + numbered + columns]))
    assert all(e.kind != "table" for e in elements)
    text = "\n".join(texts(elements))
    for line in ["a photo ID for every applicant;", "Choose Cards.", left[1], right[2]]:
        assert line in text


def test_a_page_too_busy_to_search_keeps_its_text_and_parses_quickly(tmp_path: Path) -> None:
    """A page of 1,400 two-cell rows is under the bounds (3,000 runs) and is searched quickly; one of 1,600
    rows (3,200 runs) is over them and is not searched: its text is pypdf's, cell by cell."""
    from indexer.parse.pdf_tables import MAX_RUNS

    rows = [["Item", "Price"]] + [[f"Item {i}", f"${i}"] for i in range(1, 1400)]
    fine = write_pdf(tmp_path / "long.pdf", [row_per_bt(rows, [72, 300], 12_790, 9, size=6)], height=12_800)
    started = time.monotonic()
    elements = parse_file(fine)
    assert time.monotonic() - started < 5
    assert [e.kind for e in elements] == ["table"] * 35 and elements[-1].text.endswith("Item 1399 | $1399")
    many = [["Item", "Price"]] + [[f"Item {i}", f"${i}"] for i in range(1, MAX_RUNS // 2 + 100)]
    busy = write_pdf(tmp_path / "busy.pdf", [row_per_bt(many, [72, 300], 14_390, 8.5, size=6)], height=14_400)
    assert [e.kind for e in parse_file(busy)] == ["text"]


# ---------------------------------------------------------------- headers, footers, page numbers

def test_running_footers_and_page_numbers_are_dropped(tmp_path: Path) -> None:
    elements = parse_file(clinic_handbook(tmp_path / "handbook.pdf"))
    assert not any("Lakeside Clinic Handbook - page" in e.text for e in elements)
    assert elements[0] == Element("Lakeside Clinic Handbook", "title", "Lakeside Clinic Handbook", 1)
    chunks = chunk_elements("d", elements, ChunkSettings())
    assert [(c.title.split(" > ")[-1], c.page) for c in chunks] == [("Opening hours", 1), ("Fees", 2), ("Visitors", 3)]
    assert not any("Handbook - page" in c.text for c in chunks)
    # a header with the chapter and a centred page number of another style, in Chinese
    body = ["门诊时间为周一至周五。", "探视时间为每天下午。", "停车场在楼后。"]
    pages = [[[Run(72, 800, "湖畔诊所手册", 9, cjk=True)], [Run(290, 30, f"- {n + 1} -", 9)],
              *paragraph([line], 760, cjk=True)] for n, line in enumerate(body)]
    assert texts(parse_file(write_pdf(tmp_path / "zh.pdf", pages))) == body


def test_a_one_page_pdf_and_repeated_pages_keep_their_text(tmp_path: Path) -> None:
    one = parse_file(write_pdf(tmp_path / "one.pdf", [[footer(1), *paragraph(["Call us at any time."], 700)]]))
    assert texts(one) == ["Lakeside Clinic Handbook - page 1\nCall us at any time."]
    same = [[[Run(72, 700, "Visitor pass")], [Run(72, 680, "Name:")]]] * 2
    assert texts(parse_file(write_pdf(tmp_path / "twice.pdf", same))) == ["Visitor pass\nName:"] * 2


def test_margin_rules() -> None:
    for text in ("3", "- 3 -", "Page 3 of 10", "3 / 10", "iv", "第 3 页", "第3页 共10页", "p. 12"):
        assert page_number(text), text
    for text in ("Civil", "12.", "page", "Lakeside Clinic Handbook - page 1", "3 items"):
        assert not page_number(text), text
    # repeated on half of the pages (an even page's header), at the top: dropped; in the middle: kept
    words = ["alpha", "beta", "gamma", "delta"]
    pages = [[("Clinic Handbook" if n % 2 else "Chapter 1", 800.0), (f"{words[n]} begins", 780.0),
              ("Note", 500.0), (f"{words[n]} ends", 60.0), (f"Page {n + 1}", 30.0)] for n in range(4)]
    assert margin_lines(pages) == [{0, 4}] * 4  # "Note" repeats too, but mid-page
    unplaced = [[("Clinic Handbook", None), (f"{w} one", None), (f"{w} two", None), (f"{w} three", None)]
                for w in words[:2]]
    assert margin_lines(unplaced) == [{0}, {0}]  # no positions: among the first two and last two lines
    assert margin_lines([[("Page 1", 30.0), ("Only page", 700.0)]]) == [set()]


# ---------------------------------------------------------------- blank, scanned, damaged

def test_a_blank_pdf_has_no_text_and_a_scan_needs_ocr(tmp_path: Path) -> None:
    blank = write_pdf(tmp_path / "blank.pdf", [[]])
    with pytest.raises(ParseError, match=r"blank\.pdf has no text: its pages are blank") as info:
        parse_file(blank)
    assert "scanned" not in str(info.value)
    scan = write_pdf(tmp_path / "scan.pdf", [[], []], image_on={1})
    with pytest.raises(ParseError, match=r"scan\.pdf has no extractable text: it looks like a scanned.*OCR"):
        parse_file(scan)


def test_a_truncated_pdf_gets_its_reason_and_pypdf_says_eof_at_debug_only(tmp_path: Path, root_log) -> None:
    """pypdf's "EOF marker not found" was printed raw during `rag index` (fixed by routing the parsing libraries'
    log lines to our log at DEBUG): the user gets the file's reason, pypdf's line reaches our log only."""
    data = clinic_handbook(tmp_path / "full.pdf").read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(data[:len(data) * 2 // 3])
    with pytest.raises(ParseError, match=r"cut\.pdf could not be read as a PDF"):
        parse_file(cut)
    assert [r.getMessage() for r in root_log if r.levelno >= logging.INFO] == []
    assert any(r.name == "indexer.parse.libraries" and "EOF marker not found" in r.getMessage() for r in root_log)
    script = textwrap.dedent(f"""
        from indexer.parse.errors import ParseError
        from indexer.parse.sandbox import parse_isolated
        try:
            parse_isolated({str(cut)!r})
        except ParseError as exc:
            print("REASON", exc)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "REASON cut.pdf could not be read as a PDF" in done.stdout and "EOF" not in done.stderr + done.stdout


# ---------------------------------------------------------------- a table over a page break

def test_a_table_continued_on_the_next_page_gets_its_header_there(tmp_path: Path) -> None:
    """Page 2 opens with the rest of page 1's price table and no header: its rows are quoted with it."""
    for rows, more, lang in ((PRICES, [["Ultrasound", "$80"], ["MRI scan", "$300"], ["Flu shot", "$10"]], "en"),
                             (PRICES_ZH, [["彩超", "80元"], ["核磁共振", "300元"], ["流感疫苗", "10元"]], "zh")):
        cjk = lang == "zh"
        pdf = write_pdf(tmp_path / f"prices_{lang}.pdf", [
            [footer(1), *paragraph(["Price list" if not cjk else "价格表"], 770, cjk=cjk),
             *row_per_bt(rows, [230, 360], 400, cjk=cjk)],
            [footer(2), *row_per_bt(more, [230, 360], 770, cjk=cjk),
             *paragraph(["Prices include tax." if not cjk else "以上价格含税。"], 700, cjk=cjk)],
            [footer(3), *paragraph(["Opening hours: 8 am to 6 pm." if not cjk else "开放时间：8点至18点。"], 770, cjk=cjk)],
        ])
        tables = [e for e in parse_file(pdf) if e.kind == "table"]
        assert [t.page for t in tables] == [1, 2], lang
        header = " | ".join(rows[0])
        assert tables[1].text == "\n".join([header, *(" | ".join(r) for r in more)]), lang
        assert tables[0].text.splitlines()[0] == header  # the first page's table is as it was


def test_a_new_table_at_the_top_of_a_page_keeps_its_own_header(tmp_path: Path) -> None:
    limits = [["Account", "Daily limit"], ["Everyday Checking", "$2,000"], ["Premier Checking", "$10,000"]]
    pdf = write_pdf(tmp_path / "two_tables.pdf", [
        [footer(1), *paragraph(["Fees"], 770), *row_per_bt(PRICES, [230, 360], 200)],
        [footer(2), *row_per_bt(limits, [230, 360], 770), *paragraph(["Limits reset at midnight."], 700)],
        [footer(3), *paragraph(["Opening hours: 8 am to 6 pm."], 770)],
    ])
    tables = [e.text.splitlines()[0] for e in parse_file(pdf) if e.kind == "table"]
    assert tables == ["Service | Price", "Account | Daily limit"]
