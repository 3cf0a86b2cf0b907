"""Body lines OCR left out for low confidence, read a second time on their own (indexer.parse.ocr_reread): a
scanned PDF lost an ordinary line its PNG kept, and noise stays left out. Real tesseract, run through the PATH
wrapper of test_ocr_cache that logs each run, on pages drawn here (tests/ocr_scans.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexer.parse.dispatch import parse_file
from indexer.parse.limits import ParseLimits
from indexer.parse.ocr_options import OcrOptions
from indexer.parse.ocr_pages import read_pages
from indexer.parse.ocr_text import texts
from tests.indexer.test_ocr_cache import _logged_tesseract, _page_runs
from tests.indexer.test_ocr_headings import HOSPITAL
from tests.ocr_scans import needs_tesseract, noisy_notice, notice_lines, save_pdf, scan

NOTICE_ZH = [HOSPITAL[0], "", *HOSPITAL[1]]
NOTICE_EN = ["Harbor Bank Card Fees", "", "A replacement card costs $29 and arrives within 5 business days.",
             "Withdrawals at other banks' ATMs cost $3 each.", "", "To open an account you will need:", "- Photo ID",
             "- Your card number"]


def _read(path: Path, cache: Path) -> str:
    return "\n".join(e.text for e in parse_file(path, limits=ParseLimits(ocr=OcrOptions(cache_path=str(cache)))))


@needs_tesseract  # ~3 s: two small scans read by OCR, one twice over the cache
def test_a_body_line_left_out_of_a_scanned_pdf_for_low_confidence_is_read_again(tmp_path: Path,
                                                                                 monkeypatch) -> None:
    """A 150 DPI scan in 16 pt type, its PDF page rendered at 300 DPI: tesseract read "办理入院需带：" with the
    English model ("DIE ART :", confidence 39) and the line was left out, while the page as a PNG kept it. Read
    again alone at the size tesseract reads best, it is kept; the page read again comes from the OCR cache. The
    English page of the same sizes loses nothing and costs no second read."""
    log = _logged_tesseract(tmp_path, monkeypatch)
    save_pdf(tmp_path / "探视规定.pdf", scan(NOTICE_ZH, size=(1240, 800), px=34))
    save_pdf(tmp_path / "fees.pdf", scan(NOTICE_EN, size=(1240, 800), px=34))
    cache = tmp_path / "ocr-cache.sqlite"

    text = _read(tmp_path / "探视规定.pdf", cache)
    assert "办理入院需带" in text, text
    assert "普通病房每天15:00至20:00开放探视。" in text and "1. 身份证" in text, text
    # the page, the fallback layout (--psm 3: a line was left out) and the line read again alone (--psm 7)
    assert _page_runs(log) == 3 and sum("--psm 7" in line for line in log.read_text().splitlines()) == 1
    assert _read(tmp_path / "探视规定.pdf", cache) == text and _page_runs(log) == 3  # from the cache

    log.write_text("")
    text = _read(tmp_path / "fees.pdf", cache)
    for line in NOTICE_EN:
        assert line in text, (line, text)
    assert _page_runs(log) == 1


@pytest.mark.slow
@needs_tesseract  # ~6 s
def test_noise_left_out_is_not_read_again_into_the_text(tmp_path: Path, monkeypatch) -> None:
    """A signature scribble and a speckled photo area beside a notice (English and Chinese): tesseract's garbage
    lines from them ("NN : co = cee Boe =") stay left out; no line of noise is kept by a second read."""
    page = noisy_notice()
    lines = read_pages("noisy.png", [1], lambda _: (page.copy(), 150), OcrOptions(), None)[1]
    assert [line for line in texts(lines) if line] == [line for line in notice_lines() if line]
