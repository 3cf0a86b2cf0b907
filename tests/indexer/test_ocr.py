"""OCR of scanned pages and images (indexer.parse.images, .pdf_ocr, .ocr): real tesseract on pages drawn here
(tests/ocr_scans.py), English and Chinese; hostile scans refused with their reason."""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from indexer.parse.cjk_spacing import join_cjk
from indexer.parse.dispatch import ParseError, parse_file
from indexer.parse.limits import ParseLimits
from indexer.parse.ocr import recognize
from indexer.parse.ocr_options import OcrOptions
from indexer.parse.ocr_text import ocr_lines
from tests.indexer.test_pdf_layout import write_pdf
from tests.ocr_scans import (
    FEE_EN,
    FEE_ZH,
    HOURS_ZH,
    join_pdfs,
    needs_tesseract,
    noisy_notice,
    notice_lines,
    png_claiming,
    save_pdf,
    scan,
    text_page_pdf,
)


def test_spaces_between_chinese_characters_go_english_keeps_its_own() -> None:
    assert join_cjk("跨行 转账 手续 费 为 每 次 10 元 ， 请 于 工作 日 办 理 。") == "跨行转账手续费为每次10元，请于工作日办理。"
    assert join_cjk("第 3 页 ， 共 10 页") == "第3页，共10页"
    assert join_cjk("请 登录 App 办理") == "请登录 App 办理"  # Latin words keep their spaces
    assert join_cjk("港湾银行 (中国 ) 开立 ， 手机银行 /网上银行") == "港湾银行(中国)开立，手机银行/网上银行"
    assert join_cjk("Fees (see page 3) / call us: 10%") == "Fees (see page 3) / call us: 10%"
    assert join_cjk("The fee is $29 per card, 10 cards max.") == "The fee is $29 per card, 10 cards max."


@needs_tesseract
def test_an_image_is_read_in_english_and_chinese_lines_kept(tmp_path: Path) -> None:
    path = tmp_path / "notice.png"
    scan(notice_lines(), size=(1240, 700)).save(path)
    elements = parse_file(path)
    text = "\n\n".join(e.text for e in elements)
    assert FEE_EN in text and FEE_ZH in text and HOURS_ZH in text  # Chinese without OCR's spaces
    assert "Card Services Fee Notice" in [e.text for e in elements]  # a line alone stays its own paragraph
    assert FEE_ZH + "\n" + HOURS_ZH in text  # two lines of one paragraph: still two lines
    assert all(e.ocr and e.page is None for e in elements)


@needs_tesseract
@pytest.mark.parametrize("lines, starts", [
    (["一、探视时间", "普通病房每天15:00—20:00开放探视。", "二、探视人数", "每位患者每次探视不超过2人。", "三、住院押金",
      "住院押金为人民币5000元，出院时结算。"], ["一、探视时间", "二、探视人数", "三、住院押金"]),
    (["1. Visiting hours", "General wards are open from 3 pm to 8 pm.", "2. Visitors", "Two visitors per patient at a "
      "time.", "3. Deposit", "The deposit is $500, settled at discharge."], ["1. Visiting hours", "2. Visitors",
                                                                            "3. Deposit"]),
], ids=["zh", "en"])
def test_numbered_headings_keep_their_numbers_at_the_start_of_the_line(tmp_path: Path, lines: list[str],
                                                                        starts: list[str]) -> None:
    """Tesseract's automatic layout (--psm 3) read this page's first heading as "、探视时间" (and, on a full page,
    "二、" and "三、" and a title's first character were lost: answers quoted "、住院押金为人民币5000元"); one column
    of lines (--psm 4, the default now: docs/ocr.md) keeps them."""
    path = tmp_path / "notice.png"
    scan(lines, size=(1240, 800)).save(path)
    read = "\n".join(e.text for e in parse_file(path)).splitlines()
    assert [line for line in read if line.endswith(tuple(start[2:] for start in starts))] == starts, read


def test_the_page_segmentation_mode_is_a_setting(tmp_path: Path, monkeypatch) -> None:
    from indexer.config import IndexerSettings, SettingsError
    from indexer.ingest import ocr_options

    monkeypatch.setenv("RAG_HOME", str(tmp_path))
    monkeypatch.delenv("RAG_CONFIG", raising=False)
    assert (ocr_options(IndexerSettings.load()).psm, ocr_options(IndexerSettings.load()).fallback_psm) == (4, 3)
    monkeypatch.setenv("RAG_OCR_PSM", "3")  # the automatic layout alone, as before
    assert ocr_options(IndexerSettings.load()).psm == 3
    monkeypatch.setenv("RAG_OCR_PSM", "7")  # one line: not a page's mode
    with pytest.raises(SettingsError, match=r"ocr_psm = '7' \(from environment variable RAG_OCR_PSM\)"):
        IndexerSettings.load()


@needs_tesseract
def test_hostile_scans_are_refused_with_their_reason(tmp_path: Path) -> None:
    bomb = png_claiming(tmp_path / "bomb.png", 100_000, 100_000)  # 10 G pixels from a few hundred bytes
    assert bomb.stat().st_size < 2000
    with pytest.raises(ParseError, match=r"bomb\.png was refused: it is 100000 x 100000 pixels \(10,000,000,000\), "
                                         r"over the limit of 50,000,000 pixels .*\(ocr_max_pixels"):
        parse_file(bomb)
    poster = write_pdf(tmp_path / "poster.pdf", [[]], image_on={0}, height=200_000)  # a page 2,778 inches long
    with pytest.raises(ParseError, match=r"poster\.pdf: page 1 is 8 x 2778 inches, too large to read by OCR"):
        parse_file(poster)
    frames = tmp_path / "frames.tiff"
    page = scan(["Page"], size=(400, 200))
    page.save(frames, save_all=True, append_images=[page, page])
    few = ParseLimits(ocr=OcrOptions(max_pages=2))
    with pytest.raises(ParseError, match=r"frames\.tiff has 3 frames to read by OCR, over the limit of 2 .*"
                                         r"ocr_max_pages"):
        parse_file(frames, limits=few)
    with pytest.raises(ParseError, match=r"frames\.tiff: OCR of page 1 failed \(Tesseract stopped, most likely past "
                                         r"its 128 MB of memory \(ocr_memory_mb / RAG_OCR_MEMORY_MB\)"):
        parse_file(frames, limits=ParseLimits(ocr=OcrOptions(memory_mb=128)))  # too little to load chi_sim


@needs_tesseract
def test_a_hanging_tesseract_is_stopped_at_the_page_time_limit(tmp_path: Path, monkeypatch) -> None:
    """A tesseract that never answers (here a stand-in that sleeps) is killed after ocr_page_timeout_s."""
    fake = tmp_path / "bin" / "tesseract"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nif [ \"$1\" = --list-langs ]; then printf 'List of languages:\\neng\\nchi_sim\\n'; "
                    "exit 0; fi\nexec sleep 600\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    path = save_pdf(tmp_path / "slow.pdf", scan(["Hello"], size=(400, 200)))
    with pytest.raises(ParseError, match=r"slow\.pdf: OCR of page 1 took more than 1 s and was stopped "
                                         r"\(ocr_page_timeout_s / RAG_OCR_PAGE_TIMEOUT_S\)"):
        parse_file(path, limits=ParseLimits(ocr=OcrOptions(page_timeout_s=1)))
    assert "sleep 600" not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout


@needs_tesseract
def test_a_file_whose_pages_take_too_long_is_stopped_at_the_file_time_limit(tmp_path: Path, monkeypatch) -> None:
    """Each page within its own limit, but the file's pages together past ocr_timeout_s (a stand-in tesseract
    that takes 0.6 s a page and reads nothing)."""
    fake = tmp_path / "bin" / "tesseract"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nif [ \"$1\" = --list-langs ]; then printf 'List of languages:\\neng\\nchi_sim\\n'; "
                    "exit 0; fi\ncase \"$*\" in *'--psm 0'*) exit 1;; esac\n"  # no orientation found
                    "cat >/dev/null; sleep 0.6; printf 'level\\tpage_num\\n'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    frames = tmp_path / "forms.tiff"
    page = scan(["Form"], size=(400, 200))
    page.save(frames, save_all=True, append_images=[page] * 4)
    # how many frames fit in the second depends on the machine's load: [1-4] of 5, never all of them
    with pytest.raises(ParseError, match=r"forms\.tiff: OCR was stopped after 1 s, [1-4] of its 5 frames read, over the "
                                         r"limit of 1 s per file \(ocr_timeout_s / RAG_OCR_TIMEOUT_S\)"):
        parse_file(frames, limits=ParseLimits(ocr=OcrOptions(timeout_s=1)))
    with pytest.raises(ParseError, match=r"the OCR languages 'eng\+kor' .* are not all installed .*install "
                                         r"tesseract-ocr-kor"):
        parse_file(frames, limits=ParseLimits(ocr=OcrOptions(languages="eng+kor")))


def test_without_ocr_a_scan_gets_the_reason_and_what_to_do(tmp_path: Path, monkeypatch) -> None:
    pdf = write_pdf(tmp_path / "scan.pdf", [[]], image_on={0})
    with pytest.raises(ParseError, match=r"scan\.pdf has no extractable text: it looks like a scanned document "
                                         r"\(images of pages\), and OCR is switched off \(ocr = false"):
        parse_file(pdf, limits=ParseLimits(ocr=OcrOptions(enabled=False)))
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no tesseract here
    with pytest.raises(ParseError, match=r"scan\.pdf has no extractable text: .*OCR needs Tesseract, which is not "
                                         r"installed on this server: install Tesseract \(`make setup`, or apt-get "
                                         r"install tesseract-ocr"):
        parse_file(pdf)
    png = tmp_path / "photo.png"
    png.write_bytes(png_claiming(tmp_path / "x.png", 10, 10).read_bytes())
    with pytest.raises(ParseError, match=r"photo\.png is an image: its text can only be read by OCR, and OCR needs "
                                         r"Tesseract, which is not installed"):
        parse_file(png)


@pytest.mark.slow
@needs_tesseract
def test_a_mixed_pdf_keeps_its_text_pages_and_reads_its_scans(tmp_path: Path) -> None:
    text = text_page_pdf(tmp_path / "text.pdf", ["Opening hours", "We are open Monday to Friday, 9am to 5pm."])
    scanned = save_pdf(tmp_path / "scan.pdf", scan(["银行卡服务收费公告", "", FEE_ZH, "", FEE_EN]))
    elements = parse_file(join_pdfs(tmp_path / "mixed.pdf", text, scanned, text))
    assert [(e.text, e.page, e.ocr) for e in elements] == [
        ("Opening hours\nWe are open Monday to Friday, 9am to 5pm.", 1, False),
        ("银行卡服务收费公告", 2, True), (FEE_ZH, 2, True), (FEE_EN, 2, True),
        ("Opening hours\nWe are open Monday to Friday, 9am to 5pm.", 3, False)]


@pytest.mark.slow
@needs_tesseract
def test_a_scanned_table_keeps_its_cells_apart(tmp_path: Path) -> None:
    """Removing OCR's spaces between Chinese words ran a row's cells together ("办理渠道办理时间说明"): words far
    apart on a line are cells, joined by " | " as other formats' table rows are; a ruled border read as "|" goes."""
    from PIL import ImageDraw, ImageFont

    from tests.ocr_scans import cjk_font

    page = scan([], size=(1240, 420))
    draw, font = ImageDraw.Draw(page), ImageFont.truetype(str(cjk_font()), 30)
    rows = [["业务", "办理时间", "收费"], ["手机银行", "全天", "每次10元"], ["Branch counter", "9:00-17:00", "$29"]]
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            draw.text((100 + 380 * c, 100 + 80 * r), cell, font=font, fill=0)
        draw.line((450, 90 + 80 * r, 450, 150 + 80 * r), fill=0, width=3)  # a column rule
    path = tmp_path / "fees.png"
    page.save(path)
    lines = "\n".join(e.text for e in parse_file(path)).splitlines()
    assert lines == [" | ".join(row) for row in rows]


@pytest.mark.slow
@needs_tesseract
def test_lines_of_noise_are_left_out_and_the_text_kept(tmp_path: Path) -> None:
    """A signature scribble and a speckled area beside the notice: tesseract reads garbage lines from them
    ("ee AE \\A ; v4"); lines under the confidence threshold are left out, every real line is kept."""
    page = noisy_notice()
    tsv = recognize(page, OcrOptions(), "noisy.png", None, 150)
    kept = [line for line in ocr_lines(tsv) if line]
    everything = [line for line in ocr_lines(tsv, min_confidence=0) if line]
    assert kept == [line for line in notice_lines() if line]
    assert len(everything) >= len(kept) + 3  # the garbage the threshold removed


@pytest.mark.slow
@needs_tesseract
def test_traditional_chinese_with_its_language(tmp_path: Path) -> None:
    path = save_pdf(tmp_path / "公告.pdf", scan(["跨行轉賬手續費為每次10元。", "掛失請撥打客服熱線。"], size=(1240, 400)))
    elements = parse_file(path, limits=ParseLimits(ocr=OcrOptions(languages="eng+chi_tra")))
    assert [e.text for e in elements] == ["跨行轉賬手續費為每次10元。\n掛失請撥打客服熱線。"]
    assert elements[0].ocr and elements[0].page == 1


@pytest.mark.slow
@needs_tesseract
def test_ocr_limits_above_the_sandbox_hard_limits_are_capped_not_fatal(tmp_path: Path) -> None:
    """ocr_memory_mb / ocr_page_timeout_s above the parser sandbox's own hard limits made every page fail
    ("ulimit: error setting limit (Operation not permitted)"): tesseract gets the lower of the two."""
    from indexer.parse.sandbox import SandboxLimits, parse_isolated

    path = tmp_path / "notice.png"
    scan([FEE_EN], size=(1000, 200)).save(path)
    limits = ParseLimits(ocr=OcrOptions(memory_mb=4096, page_timeout_s=600))
    elements = parse_isolated(path, limits=limits, sandbox=SandboxLimits(memory_mb=1024, cpu_s=60, timeout_s=120))
    assert [(e.text, e.ocr) for e in elements] == [(FEE_EN, True)]


@pytest.mark.slow
@needs_tesseract
def test_a_page_scanned_sideways_or_upside_down_is_turned_upright(tmp_path: Path) -> None:
    """A sideways page read as garbage, all of it under the confidence threshold: the file had no text."""
    sideways = scan(notice_lines(), size=(1240, 700)).rotate(90, expand=True)
    upside_down = scan(["Branch Guide", "", "The safe deposit box rent is $120 a year.", "保管箱租金为每年300元。"],
                       size=(1240, 500)).rotate(180)
    elements = parse_file(save_pdf(tmp_path / "turned.pdf", sideways, upside_down))
    first = "\n".join(e.text for e in elements if e.page == 1)
    second = "\n".join(e.text for e in elements if e.page == 2)
    assert FEE_EN in first and FEE_ZH in first, first
    assert "The safe deposit box rent is $120 a year." in second and "保管箱租金为每年300元。" in second, second


@pytest.mark.slow
@needs_tesseract
def test_a_photo_darker_on_one_side_is_read_to_its_end(tmp_path: Path) -> None:
    """A phone photo of the notice: warm paper, a shadow deepening to the right, a little blur, JPEG. The words
    on the dark side were lost ("请于工作日办理。" read as "请于工", "24小时内处理" as "24放")."""
    from PIL import Image, ImageChops, ImageFilter

    page = scan(notice_lines(), size=(1240, 700)).convert("RGB")
    shadow = Image.linear_gradient("L").rotate(90).resize(page.size).point(lambda v: 255 - v * 0.55)
    photo = ImageChops.multiply(page, Image.merge("RGB", [shadow] * 3))
    photo = ImageChops.multiply(photo, Image.new("RGB", page.size, (245, 235, 215))).filter(ImageFilter.GaussianBlur(1))
    photo.save(tmp_path / "photo.jpg", quality=70)
    text = "\n".join(e.text for e in parse_file(tmp_path / "photo.jpg"))
    assert FEE_EN in text and FEE_ZH in text and HOURS_ZH in text, text


@pytest.mark.slow
@needs_tesseract
def test_webp_and_tiff_images_are_read(tmp_path: Path) -> None:
    page = scan([FEE_EN, FEE_ZH], size=(1240, 300))
    page.save(tmp_path / "notice.webp", quality=90)
    page.save(tmp_path / "notice.tif")
    for name in ("notice.webp", "notice.tif"):
        elements = parse_file(tmp_path / name)
        assert "\n".join(e.text for e in elements).splitlines() == [FEE_EN, FEE_ZH], name
        assert all(e.ocr and e.page is None for e in elements)


@pytest.mark.slow
@needs_tesseract
@pytest.mark.parametrize("angle", [7, -10])
def test_a_photo_or_scan_at_an_angle_is_read_level(tmp_path: Path, angle: int) -> None:
    """A phone photo of a notice at 7 degrees was read as fragments ("itor parking Policy", "g dollars per day."),
    its Chinese lines or the whole page at 10 degrees as nothing; a scan fed in askew the same."""
    from PIL import Image, ImageFilter

    from indexer.parse.ocr_deskew import skew_angle

    page = scan(notice_lines(), size=(1240, 700))
    tilted = page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=200)
    assert abs(skew_angle(tilted) + angle) <= 0.5 and skew_angle(page) == 0.0
    tilted.convert("RGB").filter(ImageFilter.GaussianBlur(1)).save(tmp_path / "photo.jpg", quality=70)
    save_pdf(tmp_path / "askew.pdf", tilted.point(lambda v: 255 if v == 200 else v))
    for name in ("photo.jpg", "askew.pdf"):
        text = "\n".join(e.text for e in parse_file(tmp_path / name))
        assert FEE_EN in text and FEE_ZH in text and HOURS_ZH in text, (name, text)


@needs_tesseract
def test_a_damaged_image_is_named_damaged_not_inaccessible(tmp_path: Path) -> None:
    """An image cut short by a failed upload or copy was 'could not be read (Truncated File Read). Check that the
    file is accessible', which sent administrators after permissions."""
    import io

    page = scan([FEE_EN, FEE_ZH], size=(1240, 300))
    for name, kind in (("通知.jpg", "JPEG"), ("notice.png", "PNG")):
        data = io.BytesIO()
        page.save(data, kind)
        (tmp_path / name).write_bytes(data.getvalue()[: len(data.getvalue()) // 2])
        with pytest.raises(ParseError, match=rf"{name} is a damaged image: its data is cut short or corrupt \(.+\), "
                                             r"so OCR cannot read it\. Copy or download the original again"):
            parse_file(tmp_path / name)
    (tmp_path / "header.png").write_bytes(b"\x89PNG\r\n\x1a\nnotreally")
    with pytest.raises(ParseError, match=r"header\.png is a damaged image"):
        parse_file(tmp_path / "header.png")
