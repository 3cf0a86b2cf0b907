"""Image files (PNG, JPEG, TIFF, WebP: scans, photos of notices) -> Elements, their text read by OCR.

A multi-page TIFF gives one page per frame. Bounds: an image (each frame) may have at most ocr_max_pixels
pixels, checked from its header before anything is decoded (a decompression bomb: a few KB of PNG that
decodes to gigabytes); frames count against ocr_max_pages. A phone photo's EXIF orientation is applied first.
"""
from __future__ import annotations

from pathlib import Path

from indexer.parse.errors import ParseError
from indexer.parse.limits import ParseLimits
from indexer.parse.ocr import unavailable_reason
from indexer.parse.ocr_pages import read_pages
from indexer.parse.page_elements import PageLine, page_elements
from indexer.types import Element

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
# raise when what this parser gives for a file changes (text, sections, pages, tables): `rag index` then
# reads again the files it read before (indexer.parse.versions; vectors of unchanged chunks are reused)
# (OCR's own changes raise indexer.parse.ocr.OCR_VERSION instead)
PARSER_VERSION = 1
_MIN_DPI = 70  # a resolution in a file's header below this is a placeholder (72 by default), not the scan's


def parse_image(path: Path, limits: ParseLimits) -> list[Element]:
    from PIL import Image, ImageOps, UnidentifiedImageError

    options = limits.ocr
    if (reason := unavailable_reason(options)) is not None:
        raise ParseError(f"{path.name} is an image: its text can only be read by OCR, and {reason}.")
    # Opening reads the header only: our check (each frame, before it is decoded) says the size and the setting;
    # Pillow's own guard (which refuses at twice its limit) stays on for everything after the opening.
    Image.MAX_IMAGE_PIXELS = None
    try:
        image = Image.open(path)
    except UnidentifiedImageError:
        raise ParseError(f"{path.name} is not an image Pillow can read (PNG, JPEG, TIFF, WebP); the file may be "
                         "damaged or have the wrong extension. Save it again as PNG or JPEG.") from None
    except OSError as exc:
        raise _damaged(path, exc) from None
    finally:
        Image.MAX_IMAGE_PIXELS = options.max_pixels
    with image:
        frames = getattr(image, "n_frames", 1)

        def image_of(frame: int) -> tuple[Image.Image, int | None]:
            image.seek(frame - 1)
            width, height = image.size
            if width * height > options.max_pixels:
                where = f"frame {frame} is" if frames > 1 else "it is"
                raise _too_large(path, f"{where} {width} x {height} pixels ({width * height:,})", options.max_pixels)
            dpi = image.info.get("dpi")
            try:
                dpi = round(float(dpi[0])) if dpi and float(dpi[0]) >= _MIN_DPI else None
            except (TypeError, ValueError):
                dpi = None
            try:
                return ImageOps.exif_transpose(image.convert("L")), dpi
            except OSError as exc:
                raise _damaged(path, exc) from None

        lines = read_pages(path.name, range(1, frames + 1), image_of, options, "frame" if frames > 1 else None,
                           source=path)
    elements = page_elements(((frame if frames > 1 else None, [PageLine(line.text, line.heading) for line in page])
                              for frame, page in lines.items()), ocr=True)
    if not elements:
        raise ParseError(f"{path.name} has no text that OCR could read (languages {options.languages}). If it does "
                         "show text, scan or photograph it again, sharper and straight, or set ocr_languages "
                         "(RAG_OCR_LANGUAGES) to its language.")
    return elements


def _damaged(path: Path, exc: OSError) -> Exception:
    """The error for an image whose data cannot be decoded (cut short by a failed upload or copy, or corrupt);
    an OSError with an errno (the file itself cannot be read: permissions, gone) is the caller's, as for any file."""
    if exc.errno is not None:
        return exc
    return ParseError(f"{path.name} is a damaged image: its data is cut short or corrupt ({exc}), so OCR cannot read "
                      "it. Copy or download the original again (or scan it again) and index that.")


def _too_large(path: Path, what: str, limit: int) -> ParseError:
    return ParseError(f"{path.name} was refused: {what}, over the limit of {limit:,} pixels for an image read by "
                      "OCR (ocr_max_pixels / RAG_OCR_MAX_PIXELS). Such a size is typical of a file built to exhaust "
                      "the server; if it is a genuine scan, scan it again at 300 DPI or split it.")
