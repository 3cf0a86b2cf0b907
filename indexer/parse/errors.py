"""The one exception the parsing layer raises, shared by indexer.parse.dispatch and its helpers."""
from __future__ import annotations

from pathlib import Path


class ParseError(Exception):
    """Reason a file cannot be indexed, phrased for the user: what went wrong and what to do."""


def empty_file(path: Path) -> ParseError:
    return ParseError(f"{path.name} is empty: it contains no text to index. "
                      "Check that the right file was uploaded.")


def human_size(n_bytes: int) -> str:
    """1536 -> '1.5 KB' (decimal units, as file managers show them)."""
    size = float(n_bytes)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{n_bytes} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
