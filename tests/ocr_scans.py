"""Scanned pages for the OCR tests, drawn here: text rendered with a real font (a CJK one, from the Debian
package make system-deps installs) into an image, saved as PNG, TIFF or an image-only PDF, and a text-layer
page to make a mixed PDF. Tests skip, with the reason, only where tesseract or the font is missing."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexer.parse.minimal_pdf import assemble

CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
             "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def cjk_font() -> Path | None:
    return next((Path(f) for f in CJK_FONTS if Path(f).exists()), None)


needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None or cjk_font() is None,
    reason="needs tesseract-ocr (with -eng, -chi-sim, -chi-tra) and fonts-wqy-microhei: `make system-deps` installs "
           "them")

FEE_EN = "The replacement card fee is $29 per card."
FEE_ZH = "跨行转账手续费为每次10元，请于工作日办理。"
HOURS_ZH = "挂失请拨打客服热线，我们将在24小时内处理。"


def scan(lines: list[str], size: tuple[int, int] = (1240, 1754), px: int = 30, top: int = 120):
    """A grayscale page (A4 at 150 DPI by default), one text line per item, "" for a blank line."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(cjk_font()), px)
    for i, line in enumerate(lines):
        if line:
            draw.text((100, top + i * int(px * 1.8)), line, font=font, fill=0)
    return image


def titled_scan(title: str, lines: list[str], size: tuple[int, int] = (1240, 1000), px: int = 25,
                title_px: int = 38):
    """scan(), the first line a title in larger type (at 150 DPI: 18 pt over 12 pt by default)."""
    from PIL import ImageDraw, ImageFont

    image = scan(["", *lines], size, px, top=120 + int(title_px * 1.8) - int(px * 1.8))
    ImageDraw.Draw(image).text((100, 120), title, font=ImageFont.truetype(str(cjk_font()), title_px), fill=0)
    return image


def notice_lines(title: str = "Card Services Fee Notice") -> list[str]:
    return [title, "", FEE_EN, "Call 800-555-0199 to report a lost card.", "", "银行卡服务收费公告", "", FEE_ZH, HOURS_ZH]


def noisy_notice():
    """notice_lines' page with a signature scribble and a speckled photo area below it (the same each call: seed 1),
    from which tesseract reads garbage lines."""
    import random

    from PIL import ImageDraw

    rng = random.Random(1)
    page = scan(notice_lines())
    draw = ImageDraw.Draw(page)
    draw.line([(150 + i * 8, 800 + rng.randint(-40, 40)) for i in range(60)], fill=0, width=4)
    for _ in range(200):
        x, y = rng.randint(100, 1100), rng.randint(1000, 1500)
        draw.line((x, y, x + rng.randint(-30, 30), y + rng.randint(-30, 30)), fill=0, width=3)
    for _ in range(20_000):
        draw.point((rng.randint(100, 1100), rng.randint(1000, 1500)), fill=rng.randint(0, 255))
    return page


def save_pdf(path: Path, *pages) -> Path:
    """An image-only PDF: each page just the image, no text layer (what a scanner writes)."""
    first, *rest = pages
    first.save(path, "PDF", resolution=150, save_all=True, append_images=rest)
    return path


def text_page_pdf(path: Path, lines: list[str]) -> Path:
    """A one-page PDF with a text layer (Helvetica), as a word processor exports it."""
    stream = b"\n".join(b"BT /F1 12 Tf 72 %d Td (%s) Tj ET" % (760 - 18 * i, line.encode("latin-1"))
                        for i, line in enumerate(lines))
    path.write_bytes(assemble([
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R /Resources << /Font << /F1 3 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)]))
    return path


def join_pdfs(path: Path, *parts: Path) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(str(part))
    with open(path, "wb") as out:
        writer.write(out)
    return path


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A small PNG whose header claims width x height pixels (a decompression bomb's shape: its few bytes would
    decode to width * height pixels)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = zlib.compress(b"\x00" + b"\xff" * (width // 8 + 1), 9)  # a first row; the rest would follow
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path
