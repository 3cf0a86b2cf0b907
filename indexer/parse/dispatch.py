"""Turn one file into a list of Elements: the entry point of the parsing layer.

    parse_file(path, max_bytes=None, limits=None) -> list[Element]

Every failure a user can act on (empty, too large, unsupported, corrupt, scanned, binary)
is raised as ParseError with a message saying what went wrong and what to do.

Formats: md/markdown, html/htm, txt/text, docx, pptx via `unstructured`
(indexer.parse.unstructured_docs); pdf via pypdf (indexer.parse.pdf, scanned pages by OCR); csv/tsv
via the stdlib and xlsx via openpyxl (indexer.parse.tabular); png, jpg/jpeg, tif/tiff, webp by
Tesseract OCR (indexer.parse.images). Text formats are decoded by
indexer.parse.encoding. indexer.parse.offline_nlp is imported first so unstructured never phones
home or downloads a model.

`limits` (indexer.parse.limits.ParseLimits, defaults when None) bounds the work one file may
cause: ZIP bomb checks for docx/pptx/xlsx, pages per PDF, OCR's pixels, pages and time. This runs in whatever process calls
it; indexer.parse.sandbox runs it in a child process with memory and time limits. What the parsing
libraries log goes to the log at debug level (indexer.parse.library_logs): the user gets the reason.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from indexer.parse import offline_nlp  # noqa: F401  (must run before anything imports unstructured)
from indexer.parse.encoding import TextDecodeError
from indexer.parse.errors import ParseError, empty_file, human_size
from indexer.parse.extension import file_extension
from indexer.parse.images import IMAGE_EXTENSIONS
from indexer.parse.library_logs import quiet_libraries
from indexer.parse.limits import ParseLimits
from indexer.types import Element

__all__ = ["ParseError", "SUPPORTED_EXTENSIONS", "parse_file"]

quiet_libraries()


def _unstructured(path: Path, limits: ParseLimits) -> list[Element]:
    from indexer.parse.unstructured_docs import parse_with_unstructured
    return parse_with_unstructured(path, limits)


def _pdf(path: Path, limits: ParseLimits) -> list[Element]:
    from indexer.parse.pdf import parse_pdf
    return parse_pdf(path, limits)


def _image(path: Path, limits: ParseLimits) -> list[Element]:
    from indexer.parse.images import parse_image
    return parse_image(path, limits)


def _csv(path: Path, limits: ParseLimits) -> list[Element]:
    from indexer.parse.tabular import parse_csv
    return parse_csv(path)


def _xlsx(path: Path, limits: ParseLimits) -> list[Element]:
    from indexer.parse.tabular import parse_xlsx
    return parse_xlsx(path, limits)


_PARSERS: dict[str, Callable[[Path, ParseLimits], list[Element]]] = {
    **dict.fromkeys((".md", ".markdown", ".html", ".htm", ".txt", ".text", ".docx", ".pptx"),
                    _unstructured),
    ".pdf": _pdf,
    ".csv": _csv,
    ".tsv": _csv,
    ".xlsx": _xlsx,
    **dict.fromkeys(IMAGE_EXTENSIONS, _image),
}
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_PARSERS)


def parse_file(path: str | Path, max_bytes: int | None = None,
               limits: ParseLimits | None = None) -> list[Element]:
    """Parse `path` into Elements in reading order. Raises ParseError (see module doc)."""
    path = Path(path)
    suffix = file_extension(path)
    parser = _PARSERS.get(suffix)
    if parser is None:
        supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        what = f'"{suffix}" files' if suffix else "files without an extension"
        raise ParseError(f"{path.name} cannot be indexed: {what} are not supported. "
                         f"Supported types: {supported}. Convert it to one of these "
                         "(e.g. export as PDF or DOCX) and upload it again.")
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ParseError(f"{path.name} was not found at {path}. "
                         "It may have been moved or deleted; upload it again.") from exc
    except OSError as exc:
        raise ParseError(f"{path.name} could not be read ({exc.strerror}). "
                         "Check the file's permissions.") from exc
    if not path.is_file():
        raise ParseError(f"{path} is not a regular file; upload the file itself, not a folder.")
    if max_bytes is not None and size > max_bytes:
        raise ParseError(f"{path.name} is too large to index: {human_size(size)} "
                         f"({size} bytes), the limit is {human_size(max_bytes)} "
                         f"({max_bytes} bytes). Split it into smaller files, or ask an "
                         "administrator to raise the limit.")
    if size == 0:
        raise empty_file(path)
    try:
        elements = parser(path, limits or ParseLimits())
    except TextDecodeError as exc:
        raise ParseError(f"{path.name} does not contain readable text ({exc}); it is probably "
                         f"a binary file with a {suffix} name. Upload the original document, "
                         "or save it as UTF-8 text.") from exc
    except OSError as exc:
        raise ParseError(f"{path.name} could not be read ({exc}). "
                         "Check that the file is accessible and try again.") from exc
    except (ParseError, MemoryError):  # MemoryError: the sandbox reports which limit was hit
        raise
    except Exception as exc:  # a parser library choking on odd input: one file, not the batch
        raise ParseError(f"{path.name} could not be parsed ({type(exc).__name__}: {exc}). "
                         "The file may be damaged; try saving it again, or convert it "
                         "to PDF.") from exc
    elements = [e for e in elements if e.text.strip()]
    if not elements:
        raise empty_file(path)
    return elements
