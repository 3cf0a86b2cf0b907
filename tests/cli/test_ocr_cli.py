"""Scanned documents and photos indexed with `rag index` (real tesseract, real models, a fresh KB): the facts they
show are found and quoted, in English and Chinese; a mixed PDF keeps its text page; the documents say their text
came from OCR; a decompression bomb is refused with its reason while the others are indexed."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.test_cli import rag
from tests.ocr_scans import (
    FEE_EN,
    FEE_ZH,
    join_pdfs,
    needs_tesseract,
    notice_lines,
    png_claiming,
    save_pdf,
    scan,
    text_page_pdf,
)

pytestmark = [pytest.mark.slow, needs_tesseract]


def test_scans_and_photos_are_indexed_and_answered_from(tmp_path: Path) -> None:
    home, docs = tmp_path / "home", tmp_path / "docs"
    docs.mkdir()
    scan(notice_lines(), size=(1240, 700)).save(docs / "notice.png")
    save_pdf(docs / "branch.pdf", scan(["Branch Guide", "", "The safe deposit box rent is $120 a year."]),
             scan(["网点指南", "", "保管箱租金为每年300元。"]))
    text_page = text_page_pdf(tmp_path / "text.pdf", ["Opening hours", "We are open Monday to Friday, 9am to 5pm."])
    scanned = save_pdf(tmp_path / "scanned.pdf", scan(["Gold Card", "", "The Gold card annual fee is $95."]))
    join_pdfs(docs / "mixed.pdf", text_page, scanned)
    png_claiming(docs / "bomb.png", 100_000, 100_000)

    p = rag(home, "index", str(docs), "--kb", "scans", ok=False)
    assert p.returncode == 1 and "3 indexed" in p.stdout and "1 failed" in p.stdout
    assert "bomb.png was refused: it is 100000 x 100000 pixels" in p.stderr and "ocr_max_pixels" in p.stderr
    assert "OCR branch.pdf: page 2/2" in p.stderr  # progress while the pages are read

    tags = {Path(d["source"]).name: d["tags"] for d in json.loads(rag(home, "docs", "--kb", "scans", "--json").stdout)}
    assert tags == {"notice.png": {"ocr": "yes"}, "branch.pdf": {"ocr": "yes", "ocr_pages": "1-2"},
                    "mixed.pdf": {"ocr": "yes", "ocr_pages": "2"}}
    listing = [line for line in rag(home, "docs", "--kb", "scans").stdout.splitlines() if " chunks " in line]
    # the table says it too, after the source: an administrator sees which documents' text came from OCR
    assert sorted(line.split(f"{docs}{os.sep}", 1)[1] for line in listing) == [
        "branch.pdf  ocr=yes  ocr_pages=1-2", "mixed.pdf  ocr=yes  ocr_pages=2", "notice.png  ocr=yes"], listing

    def top(question: str) -> dict:
        return json.loads(rag(home, "search", question, "--kb", "scans", "--json", "-k", "1").stdout)[0]

    gold = top("Gold card annual fee")
    assert Path(gold["source"]).name == "mixed.pdf" and "The Gold card annual fee is $95." in gold["text"]
    assert gold["title"] == "Gold Card"  # the scanned page's heading (a line alone over its text) titles its chunk
    opening = top("We are open Monday to Friday")
    assert Path(opening["source"]).name == "mixed.pdf"
    assert "Opening hours\nWe are open Monday to Friday, 9am to 5pm." in opening["text"]  # the text page, as it was
    assert "保管箱租金为每年300元" in top("保管箱租金多少钱")["text"]

    en = json.loads(rag(home, "ask", "How much is the replacement card fee?", "--kb", "scans", "--json").stdout)
    assert not en["refused"] and "$29" in en["answer"]
    assert {Path(c["source"]).name for c in en["citations"]} == {"notice.png"} and FEE_EN in en["citations"][0]["quote"]
    assert en["passages"][en["citations"][0]["passage"] - 1]["tags"]["ocr"] == "yes"  # the citation came from a scan
    zh = json.loads(rag(home, "ask", "跨行转账手续费是多少？", "--kb", "scans", "--json").stdout)
    assert not zh["refused"] and "手续费为每次10元" in zh["answer"] and FEE_ZH.rstrip("。") in zh["citations"][0]["quote"]

    again = rag(home, "index", str(docs), "--kb", "scans", "-q", ok=False)
    assert "3 unchanged" in again.stdout  # the OCR tags are not a change
