"""A PDF that goes past one of pypdf's safety limits, as a ParseError that says which and what to do.

pypdf bounds what one file can make it do (pypdf.Configuration): a compressed stream inflates to
at most 75 MB, decoding one stream through its filters to at most 300 MB of work, and so on. Past a bound
it raises LimitReachedError, whose text ("Limit reached while decompressing. 4864 bytes
remaining.") reached users unexplained, as if the file were damaged. A few hundred KB of deflated
zeros is enough to reach the first: typical of a hostile file, rare in a genuine one.
"""
from __future__ import annotations

from pathlib import Path

from indexer.parse.errors import ParseError

_MB = 1_000_000  # pypdf's limits are round decimal numbers (75_000_000)


def limit_reached(path: Path, exc: Exception, page: int | None) -> ParseError:
    from pypdf import get_configuration

    config = get_configuration()
    where = f" on page {page}" if page is not None else ""
    text = str(exc)
    if "decompressing" in text:
        what = (f"a compressed stream{where} expands to more than {config.zlib_maximum_output_length / _MB:g} MB, "
                "the most the PDF reader inflates from one stream")
    elif "decoding work" in text:
        what = (f"decoding a stream{where} needs more than "
                f"{config.stream_decoding_work_maximum_length / _MB:g} MB of work (its filters one after another), "
                "the most the PDF reader does for one stream")
    else:
        what = f"it goes past one of the PDF reader's safety limits{where} ({text.strip()})"
    return ParseError(f"{path.name} was refused: {what}. The limit keeps a small hostile file from filling the "
                      "server's memory; genuine PDFs stay far below it. If this one is genuine, print it to a new "
                      "PDF or split it into smaller files, and upload the result.")
