"""Hostile documents: parsing in a sandboxed child process, ZIP bombs, PDF page bombs, bounds per file."""
from __future__ import annotations

import io
import struct
import threading
import time
import zipfile
import zlib
from pathlib import Path

import psutil
import pytest

from indexer.parse import sandbox
from indexer.parse.dispatch import ParseError, parse_file
from indexer.parse.limits import ParseLimits
from indexer.parse.minimal_pdf import assemble
from indexer.parse.sandbox import SandboxLimits, parse_isolated
from tests.ocr_scans import needs_tesseract

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
MB = 1024 * 1024


# ---------------------------------------------------------------- hostile files

def docx_bomb(path: Path, spaces_mb: int = 200) -> Path:
    """A valid .docx (python-docx) whose word/document.xml holds `spaces_mb` MB of spaces inside a
    paragraph's text: ~200 KB on disk."""
    import docx

    document = docx.Document()
    document.add_heading("Fees", 1)
    document.add_paragraph("The monthly fee is 5 dollars.")
    plain = io.BytesIO()
    document.save(plain)
    block = b" " * MB
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in source.infolist():
            data = source.read(info)
            if info.filename != "word/document.xml":
                bomb.writestr(info, data)
                continue
            cut = data.index(b"The monthly fee")
            with bomb.open(info.filename, "w", force_zip64=True) as member:
                member.write(data[:cut])
                for _ in range(spaces_mb):
                    member.write(block)
                member.write(data[cut:])
    return path


def repeated_page_pdf(path: Path, references: int, declared: int | None = None) -> Path:
    """One page, listed `references` times in the page tree (the same page object), built with pypdf."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, NumberObject

    writer = PdfWriter()
    writer.add_page(PdfReader(io.BytesIO(text_pdf(1))).pages[0])
    pages = writer._root_object["/Pages"].get_object()
    kids = pages["/Kids"]
    kids.extend([kids[0]] * (references - 1))
    pages[NameObject("/Count")] = NumberObject(references if declared is None else declared)
    with open(path, "wb") as out:
        writer.write(out)
    return path


def text_pdf(n_pages: int) -> bytes:
    """`n_pages` distinct page objects sharing one content stream: a heading and a line of text."""
    stream = b"BT /F1 18 Tf 72 740 Td (Fees) Tj ET\nBT /F1 11 Tf 72 712 Td (The monthly fee is 5 dollars.) Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
                   b" ".join(b"%d 0 R" % (5 + i) for i in range(n_pages)), n_pages),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                b"/Resources << /Font << /F1 3 0 R >> >> >>"] * n_pages
    return assemble(objects)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = docx_bomb(tmp_path_factory.mktemp("bomb") / "statement.docx")
    assert path.stat().st_size < 1 * MB
    return path


class PeakRSS:
    """This process's highest RSS while the block runs (sampled every 5 ms)."""

    def __enter__(self) -> "PeakRSS":
        self.proc, self.stop = psutil.Process(), threading.Event()
        self.before = self.peak = self.proc.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.wait(0.005):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


# ---------------------------------------------------------------- zip bombs

def test_docx_bomb_is_refused_by_the_zip_check(bomb: Path) -> None:
    expected = r"statement\.docx: word/document\.xml expands to 200 MB \(limit 100 MB\): refused as a zip bomb"
    started = time.monotonic()
    with PeakRSS() as rss, pytest.raises(ParseError, match=expected):
        parse_file(bomb)  # in this process: the check reads only the zip's directory
    assert time.monotonic() - started < 2 and rss.peak - rss.before < 20 * MB
    with pytest.raises(ParseError, match=expected):
        parse_isolated(bomb)


def test_docx_bomb_without_the_zip_check_hits_the_sandbox_memory_limit(bomb: Path) -> None:
    # 256 MB: with the default 1024 MB this 200 MB bomb stops at lxml's own 10 MB text-node guard
    # (a "damaged file" error) after inflating ~350 MB; a lower limit shows the sandbox's.
    with PeakRSS() as rss, pytest.raises(ParseError, match=r"statement\.docx needed more than 256 MB of memory "
                                                           r"to parse and was stopped \(parse_memory_mb"):
        parse_isolated(bomb, limits=ParseLimits(zip_check=False), sandbox=SandboxLimits(memory_mb=256))
    assert rss.peak - rss.before < 200 * MB, f"caller grew by {(rss.peak - rss.before) / MB:.0f} MB"
    # the caller and the next file are unaffected
    good = SAMPLE / "en" / "privacy_policy.docx"
    assert parse_isolated(good) == parse_file(good)


def test_a_lying_zip_header_cannot_get_past(tmp_path: Path) -> None:
    """document.xml declares 2,000 bytes (with the CRC of its first 2,000) but inflates to 46 MB.
    zipfile reads it without complaint, inflating all 46 MB in one call before truncating; the zip
    check inflates it in bounded steps and refuses it; with the check off, the sandbox's memory
    limit stops it."""
    import docx

    document = docx.Document()
    document.add_paragraph("The monthly fee is 5 dollars.")
    plain, packed = io.BytesIO(), io.BytesIO()
    document.save(plain)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                cut = data.index(b"<w:body>") + len(b"<w:body>")
                data = data[:cut] + (b"<w:p><w:r><w:t>" + b"fee " * 2000 + b"</w:t></w:r></w:p>") * 6000 + data[cut:]
                crc = zlib.crc32(data[:2000])
            out.writestr(info.filename, data)
    raw, name = bytearray(packed.getvalue()), b"word/document.xml"
    for signature, name_length_at, crc_at, header in ((b"PK\x01\x02", 28, 16, 46), (b"PK\x03\x04", 26, 14, 30)):
        at = raw.find(signature)
        while at >= 0:
            n = struct.unpack_from("<H", raw, at + name_length_at)[0]
            if raw[at + header:at + header + n] == name:
                struct.pack_into("<I", raw, at + crc_at, crc)  # CRC-32, compressed size, uncompressed size
                struct.pack_into("<I", raw, at + crc_at + 8, 2000)
            at = raw.find(signature, at + 4)
    liar = tmp_path / "liar.docx"
    liar.write_bytes(bytes(raw))
    with zipfile.ZipFile(liar) as archive:
        assert archive.getinfo("word/document.xml").file_size == 2000
        assert len(archive.read("word/document.xml")) == 2000  # no error: the lie goes unnoticed
    with PeakRSS() as rss, pytest.raises(ParseError, match=r"liar\.docx: word/document\.xml inflates to more than "
                                                           r"the 2000 bytes it declares: refused as a zip bomb"):
        parse_file(liar)
    assert rss.peak - rss.before < 20 * MB
    with pytest.raises(ParseError, match=r"liar\.docx needed more than 32 MB of memory to parse"):
        parse_isolated(liar, limits=ParseLimits(zip_check=False), sandbox=SandboxLimits(memory_mb=32))


def test_ratio_and_total_bounds(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("The monthly fee is 5 dollars.")
    path = tmp_path / "padded.docx"
    document.save(path)
    with pytest.raises(ParseError, match=r"padded\.docx: its files expand to .* MB in all \(limit 0\.01 MB\): "
                                         r"refused as a zip bomb"):
        parse_file(path, limits=ParseLimits(zip_total_mb=0.01))
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/pad.bin", b"\0" * (20 * MB))
    with pytest.raises(ParseError, match=r"word/media/pad\.bin expands \d+ times \(20 MB from \d+ bytes; "
                                         r"limit 100:1\): refused as a zip bomb"):
        parse_file(path)
    assert parse_file(path, limits=ParseLimits(zip_check=False))[0].text == "The monthly fee is 5 dollars."


def office_with_dtd(path: Path, dtd: str, reference: str, encoding: str = "utf-8",
                    compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A .docx/.pptx/.xlsx written by its library whose text-bearing XML part declares `dtd` and uses
    `reference` in place of the word "Fees"."""
    import docx
    import openpyxl
    import pptx

    plain = io.BytesIO()
    if path.suffix == ".docx":
        document = docx.Document()
        document.add_paragraph("Fees: 5 dollars a month.")
        document.save(plain)
        part = "word/document.xml"
    elif path.suffix == ".pptx":
        deck = pptx.Presentation()
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = "Fees: 5 dollars a month."
        deck.save(plain)
        part = "ppt/slides/slide1.xml"
    else:
        book = openpyxl.Workbook()
        book.active.append(["Fees", "Amount"])
        book.active.append(["monthly", "5 dollars"])
        book.save(plain)
        part = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", compression) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == part:
                text = data.decode().replace("Fees", reference)
                end = text.index("?>") + 2 if text.startswith("<?xml") else 0
                text = text[:end] + dtd + text[end:]
                if encoding != "utf-8":
                    text = text.replace('encoding="UTF-8"', f'encoding="{encoding}"')
                data = text.encode(encoding)
            out.writestr(info.filename, data)
    return path


_LAUGHS = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "lol"}">' for i in range(10))


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".xlsx"])
def test_office_xml_declaring_entities_is_refused_as_such_not_as_damaged(tmp_path: Path, suffix: str) -> None:
    """Billion laughs and an external entity: both were refused as 'damaged', 'undefined entity' or
    'empty'. The reason names the part and what to do, in this process and in the sandbox."""
    reason = r"declares XML entities \(a <!DOCTYPE> section\), which are refused for safety.*save it again"
    laughs = office_with_dtd(tmp_path / f"laughs{suffix}", f"<!DOCTYPE r [{_LAUGHS}]>", "&l9;")
    external = office_with_dtd(tmp_path / f"external{suffix}",
                               '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "&x;")
    for path in (laughs, external):
        with pytest.raises(ParseError, match=rf"{path.stem}\{suffix} was refused: \S+\.xml {reason}"):
            parse_file(path)
        with pytest.raises(ParseError, match=rf"{path.stem}\{suffix} was refused: \S+\.xml {reason}"):
            parse_isolated(path)
    # with the zip check off the parser's own entity error gets the same reason
    with pytest.raises(ParseError, match=rf"laughs\{suffix} was refused: one of its XML parts {reason}"):
        parse_file(laughs, limits=ParseLimits(zip_check=False))


def test_a_dtd_is_found_in_utf16_and_stored_parts(tmp_path: Path) -> None:
    dtd = '<!DOCTYPE r [<!ENTITY x "Fees">]>'
    for name, encoding, compression in (("utf16.docx", "utf-16", zipfile.ZIP_DEFLATED),
                                        ("stored.xlsx", "utf-8", zipfile.ZIP_STORED)):
        path = office_with_dtd(tmp_path / name, dtd, "&x;", encoding, compression)
        with pytest.raises(ParseError, match=r"\.xml declares XML entities"):
            parse_file(path)
    # the same documents without a DTD parse
    for name in ("plain.docx", "plain.pptx", "plain.xlsx"):
        assert "Fees" in " ".join(e.text for e in parse_file(office_with_dtd(tmp_path / name, "", "Fees")))


# ---------------------------------------------------------------- PDF page bombs

def test_pdf_repeating_one_page_is_bounded(tmp_path: Path) -> None:
    from pypdf import PdfReader

    # The defect: one page listed 99,000 times. Before the bound, 5,000 repeats alone took ~3.7 s
    # and gave 10,000 elements; every repeat was extracted again.
    honest = repeated_page_pdf(tmp_path / "honest.pdf", 99_000)
    started = time.monotonic()
    with pytest.raises(ParseError, match=r"honest\.pdf declares 99000 pages, over the limit of 2000 pages per PDF "
                                         r"\(parse_max_pages"):
        parse_isolated(honest)
    # refused from the declared count, not after extracting (~70 s for 99,000 repeats); 30 s leaves room
    # for the parser process's start on a busy machine
    assert time.monotonic() - started < 30
    # a page count that lies: the page tree is walked, still refused by the same bound
    liar = repeated_page_pdf(tmp_path / "liar.pdf", 5_000, declared=1)
    assert len(PdfReader(liar).pages) == 5_000
    with pytest.raises(ParseError, match=r"liar\.pdf has 5000 pages \(its first 2000 are just 1 page object "
                                         r"listed again and again.*over the limit of 2000 pages"):
        parse_file(liar)
    # under the bound: every distinct page object is read once
    few = repeated_page_pdf(tmp_path / "few.pdf", 1_500)
    single = repeated_page_pdf(tmp_path / "single.pdf", 1)
    elements = parse_isolated(few)
    assert elements == parse_file(single) and [e.text for e in elements] == ["Fees", "The monthly fee is 5 dollars."]


# ---------------------------------------------------------------- time limits

def test_a_pdf_stream_past_the_readers_inflate_limit_is_refused_with_that_reason(tmp_path: Path) -> None:
    """80 MB of spaces after a line of text, deflated to ~80 KB: pypdf stops at its 75 MB limit, and its
    'LimitReachedError: Limit reached while decompressing. 4864 bytes remaining.' reached the user."""
    content = b"BT /F1 12 Tf 72 720 Td (The monthly fee is 5 dollars.) Tj ET\n" + b" " * (80 * 1_000_000)
    data = zlib.compress(content, 9)
    path = tmp_path / "inflates.pdf"
    path.write_bytes(assemble([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(data), data),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]))
    expected = (r"inflates\.pdf was refused: a compressed stream on page 1 expands to more than 75 MB, the most "
                r"the PDF reader inflates from one stream\..*print it to a new PDF or split it")
    with pytest.raises(ParseError, match=expected):
        parse_file(path)
    with pytest.raises(ParseError, match=expected):
        parse_isolated(path)


def test_a_parse_past_the_timeout_is_killed(tmp_path: Path) -> None:
    slow = tmp_path / "slow.pdf"
    slow.write_bytes(text_pdf(20_000))  # 20,000 distinct pages: many seconds of real work
    limits = ParseLimits(pdf_max_pages=100_000)
    started = time.monotonic()
    with pytest.raises(ParseError, match=r"slow\.pdf took more than 1 s to parse and was stopped "
                                         r"\(parse_timeout_s / RAG_PARSE_TIMEOUT_S\)"):
        parse_isolated(slow, limits=limits, sandbox=SandboxLimits(timeout_s=1))
    assert time.monotonic() - started < 6
    with pytest.raises(ParseError, match=r"slow\.pdf needed more than 1 s of CPU time to parse and was stopped "
                                         r"\(parse_cpu_s / RAG_PARSE_CPU_S\)"):
        parse_isolated(slow, limits=limits, sandbox=SandboxLimits(cpu_s=1, timeout_s=60))
    assert time.monotonic() - started < 20
    good = SAMPLE / "en" / "mortgage_and_loan_policy.pdf"
    assert parse_isolated(good) == parse_file(good)


# ---------------------------------------------------------------- ordinary files

def test_sample_files_parse_the_same_with_isolation_on_and_off() -> None:
    files = sorted(p for lang in ("en", "zh") for p in (SAMPLE / lang).iterdir() if p.is_file())
    assert len(files) >= 20
    for path in files:
        assert parse_isolated(path) == parse_file(path), path.name


@pytest.mark.slow  # ~13 s: make test-all runs it
def test_a_text_file_of_one_long_line_parses_within_a_fraction_of_the_limits(tmp_path: Path) -> None:
    """2.6 MB of ordinary sentences on one line (and 1 MB of Chinese on one line): spaCy's tagger and parser ran
    over the first million characters, ~75 s on a busy machine, then the sandbox stopped it at 1024 MB. Cut into
    pieces (indexer.parse.long_lines), it parses in ~1 s within a quarter of that memory."""
    import random

    rng = random.Random(1)
    words = ("the bank opens at nine and closes at five on weekdays customers may call the branch to report a "
             "lost card fees apply for replacement cards").split()
    sentences = []
    while sum(map(len, sentences)) < 2_600_000:
        sentences.append(" ".join(rng.choice(words) for _ in range(rng.randint(8, 20))).capitalize() + ".")
    english = tmp_path / "oneline.txt"
    english.write_text(" ".join(sentences) + "\n", encoding="utf-8")
    chinese = tmp_path / "zh_oneline.txt"
    chinese.write_text("".join(rng.choice("银行营业时间为每周一至周五上午九点至下午五点客户可以拨打电话挂失银行卡")
                               for _ in range(340_000)) + "\n", encoding="utf-8")
    limits = SandboxLimits(memory_mb=256, cpu_s=30, timeout_s=30)
    elements = parse_isolated(english, sandbox=limits)
    assert len(elements) > 100 and " ".join(e.text for e in elements) == " ".join(sentences)
    zh = parse_isolated(chinese, sandbox=limits)
    assert len(zh) > 10 and "".join(e.text for e in zh) == chinese.read_text(encoding="utf-8").strip()


def test_isolated_errors_are_the_parsers_errors(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_bytes(bytes(range(256)) * 16)
    with pytest.raises(ParseError, match=r"notes\.txt does not contain readable text"):
        parse_isolated(junk)
    with pytest.raises(ParseError, match=r"gone\.pdf was not found"):
        parse_isolated(tmp_path / "gone.pdf")
    big = tmp_path / "big.md"
    big.write_text("# Fees\n\n" + "The fee is five dollars. " * 2000)
    with pytest.raises(ParseError, match=r"produced more than 0\.01 MB of parsed text .*parse_max_output_mb"):
        parse_isolated(big, sandbox=SandboxLimits(max_output_mb=0.01))


# ---------------------------------------------------------------- ingestion and settings

def test_ingest_fails_hostile_files_alone(tmp_path: Path, minilm, bomb: Path) -> None:
    import shutil

    from indexer.config import IndexerSettings
    from indexer.ingest import Ingestor
    from indexer.kbs import KBManager

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(bomb, docs / "statement.docx")
    repeated_page_pdf(docs / "pages.pdf", 5_000)
    shutil.copy(SAMPLE / "en" / "account_fees.md", docs / "account_fees.md")  # 6 chunks
    shutil.copy(SAMPLE / "en" / "lost_or_stolen_cards.txt", docs / "cards.txt")  # 4 chunks
    settings = IndexerSettings(home=tmp_path / "home", embed_model="minilm", max_chunks_per_file=5,
                               parse_isolation=True)
    store = KBManager(settings, encoders={"minilm": minilm}).open("t", writable=True, create=True)
    try:
        report = Ingestor(store, minilm, settings).index_paths([str(docs)], progress=False)
    finally:
        store.close()
    results = {Path(r.source).name: (r.status, r.reason) for r in report.results}
    assert results["statement.docx"][0] == "failed" and "refused as a zip bomb" in results["statement.docx"][1]
    assert results["pages.pdf"][0] == "failed" and "over the limit of 2000 pages" in results["pages.pdf"][1]
    assert results["account_fees.md"] == ("failed", "it gives 6 chunks, over the limit of 5 chunks per file "
                                                    "(max_chunks_per_file / RAG_MAX_CHUNKS_PER_FILE); split it into "
                                                    "smaller files, or ask an administrator to raise the limit")
    assert results["cards.txt"][0] == "indexed"


def test_settings_from_the_environment(monkeypatch) -> None:
    from indexer.config import IndexerSettings

    monkeypatch.setenv("RAG_PARSE_ISOLATION", "false")
    monkeypatch.setenv("RAG_PARSE_MEMORY_MB", "512")
    monkeypatch.setenv("RAG_PARSE_TIMEOUT_S", "30")
    monkeypatch.setenv("RAG_PARSE_MAX_PAGES", "100")
    monkeypatch.setenv("RAG_MAX_CHUNKS_PER_FILE", "50")
    settings = IndexerSettings.load(config_file=None)
    assert (settings.parse_isolation, settings.parse_memory_mb, settings.parse_timeout_s, settings.parse_max_pages,
            settings.max_chunks_per_file) == (False, 512, 30, 100, 50)
    defaults = IndexerSettings()
    monkeypatch.delenv("RAG_PARSE_ISOLATION")
    assert IndexerSettings().parse_isolation and defaults.parse_cpu_s == 120 and defaults.parse_zip_check


@pytest.mark.slow  # a long robustness or end-to-end run: make test-all
def test_a_dead_parser_process_is_replaced() -> None:
    good = SAMPLE / "en" / "fee_schedule.csv"
    assert parse_isolated(good) == parse_file(good)
    zygotes = [p for p in psutil.Process().children() if "indexer.parse.sandbox" in " ".join(p.cmdline())]
    assert zygotes
    for zygote in zygotes:
        zygote.kill()
    psutil.wait_procs(zygotes, timeout=5)
    assert parse_isolated(good) == parse_file(good)
    sandbox.shutdown()
    assert parse_isolated(good) == parse_file(good)


@pytest.mark.slow  # ~10 s: two pages through tesseract in a sandboxed child
@needs_tesseract
def test_a_scanned_pdfs_pages_are_reported_and_a_failing_progress_callback_stops_nothing(tmp_path):
    # the sandboxed child writes OCR's progress to a file the caller reads; a callback that raised (a closed
    # progress bar, a broken terminal) ended the file's parse, where the unsandboxed path ignores it
    from tests.ocr_scans import FEE_EN, FEE_ZH, save_pdf, scan

    path = save_pdf(tmp_path / "scan.pdf", scan([FEE_EN], size=(1000, 300)), scan([FEE_ZH], size=(1000, 300)))
    seen: list[tuple[int, int]] = []
    elements = parse_isolated(path, on_progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (2, 2)
    text = "\n".join(e.text for e in elements)
    assert FEE_EN in text and FEE_ZH in text

    def broken(done: int, total: int) -> None:
        raise BrokenPipeError("the terminal went away")

    assert parse_isolated(path, on_progress=broken) == elements
