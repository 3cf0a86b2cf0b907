"""Headings on scanned pages (indexer.parse.ocr_headings): a scan's chunks carry its section titles, as its text
twin's do, and a page of plain paragraphs or a list gets none. Real tesseract on pages drawn here
(tests/ocr_scans.py), the real chunker; English and Chinese, an image and a scanned PDF, level and tilted."""
from __future__ import annotations

from pathlib import Path

from indexer.chunk import chunk_elements
from indexer.config import ChunkSettings
from indexer.parse.dispatch import parse_file
from indexer.parse.limits import ParseLimits
from indexer.parse.ocr_options import OcrOptions
from tests.ocr_scans import needs_tesseract, save_pdf, scan, titled_scan

HOSPITAL = ("江州市第一人民医院探视规定", [
    "一、探视时间", "普通病房每天15:00至20:00开放探视。", "重症医学科每天15:30至16:00探视，每次限1名家属。", "",
    "二、住院押金", "住院押金为人民币5000元，出院时结算。", "办理入院需带：", "1. 身份证", "2. 医保卡"])
BANK = ("Harbor Bank Card Fees", [
    "1. Replacement cards", "", "A replacement card costs $29 and arrives within 5 business days.", "",
    "2. Cash withdrawals", "", "Withdrawals at other banks' ATMs cost $3 each. You will need:", "- Photo ID",
    "- Your card number"])


def _titles(path: Path, cache: Path) -> dict[str, str]:
    """Each chunk's text -> its title (section path), as the index stores them; read a second time from the OCR
    cache (indexer.parse.ocr_cache), which keeps what the headings are told by, with the same titles."""
    limits = ParseLimits(ocr=OcrOptions(cache_path=str(cache)))
    elements = parse_file(path, limits=limits)
    assert parse_file(path, limits=limits) == elements
    return {chunk.text: chunk.title for chunk in chunk_elements("doc", elements, ChunkSettings())}


def _title_of(titles: dict[str, str], words: str) -> str:
    return next(title for text, title in titles.items() if words in text)


@needs_tesseract  # ~6 s: three pages read by OCR, one of them straightened first
def test_a_scan_with_a_title_and_numbered_sections_gets_section_titles(tmp_path: Path) -> None:
    """A scanned notice was chunked as flat text: its chunks had no section titles, so retrieval and citations
    lost the "Visiting hours" of a hospital's rules that their text document had."""
    from PIL import Image

    hospital = titled_scan(*HOSPITAL)
    tilted = hospital.rotate(3, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    save_pdf(tmp_path / "探视规定.pdf", hospital)
    save_pdf(tmp_path / "探视规定-歪.pdf", tilted)
    titled_scan(*BANK).save(tmp_path / "fees.png")

    for name in ("探视规定.pdf", "探视规定-歪.pdf"):
        titles = _titles(tmp_path / name, tmp_path / "ocr-cache.sqlite")
        assert _title_of(titles, "普通病房每天15:00至20:00") == "江州市第一人民医院探视规定 > 一、探视时间", (name, titles)
        assert _title_of(titles, "住院押金为人民币5000元") == "江州市第一人民医院探视规定 > 二、住院押金", (name, titles)
        assert _title_of(titles, "2. 医保卡") == "江州市第一人民医院探视规定 > 二、住院押金"  # a list, not headings
    titles = _titles(tmp_path / "fees.png", tmp_path / "ocr-cache.sqlite")
    assert _title_of(titles, "A replacement card costs $29") == "Harbor Bank Card Fees > 1. Replacement cards", titles
    assert _title_of(titles, "ATMs cost $3 each") == "Harbor Bank Card Fees > 2. Cash withdrawals", titles
    assert _title_of(titles, "- Your card number") == "Harbor Bank Card Fees > 2. Cash withdrawals", titles


@needs_tesseract
def test_a_page_of_plain_paragraphs_gets_no_heading(tmp_path: Path) -> None:
    """Short lines closing a paragraph, a short paragraph and a list stay text: a false heading would cut a
    paragraph in two and title the chunks after it with a sentence."""
    path = tmp_path / "notice.png"
    scan(["The branch at 200 Main Street is open from 9 am to 5 pm on weekdays and", "from 9 am to noon on Saturdays.",
          "", "网点工作日营业时间为上午9点至下午5点，周六上午9点至12点营业，", "法定节假日休息。", "",
          "Please call us first.", "", "办理业务请携带：", "身份证", "银行卡"], size=(1240, 700)).save(path)
    elements = parse_file(path)
    assert [e for e in elements if e.kind == "title" or e.section] == [], elements
    assert "from 9 am to noon on Saturdays." in "\n".join(e.text for e in elements)


@needs_tesseract  # ~5 s
def test_a_chinese_title_in_large_type_is_read_and_heads_the_page(tmp_path: Path) -> None:
    """A 22 pt title (二号, a Chinese official notice's) over 14 pt text at 300 DPI was read by the English model
    first (garbage such as "LIN TH SBA RE BER AA E"), left out, and the scan lost its title; its line alone, read
    again with the languages the other way round (indexer.parse.ocr_titles), is kept. The English page of the
    same sizes is read as before."""
    for (title, lines), name in ((HOSPITAL, "通知.png"), (BANK, "fees.png")):
        titled_scan(title, lines, size=(2480, 1500), px=60, title_px=92).save(tmp_path / name, dpi=(300, 300))
    titles = _titles(tmp_path / "通知.png", tmp_path / "ocr-cache.sqlite")
    read_title, section = _title_of(titles, "普通病房每天15:00至20:00").split(" > ")
    assert "第一人民医院" in read_title and section == "一、探视时间", titles  # 18 pt and up: "江州" may read "并州"
    titles = _titles(tmp_path / "fees.png", tmp_path / "ocr-cache.sqlite")
    assert _title_of(titles, "A replacement card costs $29") == "Harbor Bank Card Fees > 1. Replacement cards", titles
