"""What a file is, by its first bytes, not only its name: a .pdf must start like a PDF, an office
file must be a ZIP, an image (read by OCR) must be the image its name says, a text format must be text.
Executables, images and archives named like documents are rejected (415) before anything is stored."""
from __future__ import annotations

from indexer.parse.dispatch import SUPPORTED_EXTENSIONS
from indexer.parse.encoding import utf16_without_bom
from indexer.parse.extension import file_extension

ZIP_FORMATS = {".docx", ".pptx", ".xlsx"}
# images read by OCR (indexer.parse.images): each must start like its format
IMAGE_MAGIC = {".png": (b"\x89PNG\r\n\x1a\n",), ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
               ".tif": (b"II*\x00", b"MM\x00*"), ".tiff": (b"II*\x00", b"MM\x00*"), ".webp": (b"RIFF",)}
TEXT_FORMATS = {".md", ".markdown", ".html", ".htm", ".txt", ".text", ".csv", ".tsv"}
BINARY_MAGIC = {
    b"\x7fELF": "an ELF executable", b"MZ": "a Windows executable", b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image", b"\x1f\x8b": "a gzip archive",
    b"Rar!": "a RAR archive", b"7z\xbc\xaf": "a 7-Zip archive", b"\xca\xfe\xba\xbe": "a Java/Mach-O binary",
    b"%PDF": "a PDF", b"PK\x03\x04": "a ZIP archive", b"\xd0\xcf\x11\xe0": "an old Office (OLE) file",
}


class UnsupportedType(ValueError):
    pass


def _looks_text(head: bytes) -> bool:
    if not head:
        return True
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return True  # BOMs
    if b"\x00" in head[:4096]:
        return utf16_without_bom(head, partial=True) is not None  # UTF-16 text that lost its BOM
    controls = sum(b < 9 or 13 < b < 32 for b in head[:4096])
    return controls <= len(head[:4096]) * 0.01


def _what(head: bytes) -> str | None:
    for magic, what in BINARY_MAGIC.items():
        if head.startswith(magic):
            return what
    return None


def check_type(filename: str, head: bytes) -> None:
    """Raise UnsupportedType with a message for the user when `head` (the first KB or more) does not
    match a supported format named by `filename`."""
    ext = file_extension(filename)  # ".txt" alone is a text file (indexer.parse.extension)
    if ext not in SUPPORTED_EXTENSIONS:
        raise UnsupportedType(f"{filename}: {ext or 'files without an extension'} is not a supported type; "
                              f"supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}")
    what = _what(head)
    if ext == ".pdf":
        ok = head.lstrip()[:5].startswith(b"%PDF") or (b"%PDF-" in head[:1024])
    elif ext in ZIP_FORMATS:
        ok = head.startswith(b"PK\x03\x04")
    elif ext in IMAGE_MAGIC:
        ok = head.startswith(IMAGE_MAGIC[ext]) and (ext != ".webp" or head[8:12] == b"WEBP")
    else:
        ok = what is None and _looks_text(head)
    if not ok:
        found = what or ("binary data" if not _looks_text(head) else "text")
        raise UnsupportedType(f"{filename}: the name says {ext} but the content is {found}; "
                              "upload the file in the format its name says")
