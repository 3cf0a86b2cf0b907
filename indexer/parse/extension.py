"""A file's extension, which picks its parser: '.txt' for 'notes.txt', and for '.txt' itself.

pathlib reads a name that starts with its only dot as a hidden file without an extension
(Path('.txt').suffix == ''), so a file uploaded or saved as just '.txt' was refused as "files
without an extension". Here such a name is its own extension: '.txt' is text, '.pdf' a PDF, and
'.bashrc' an unsupported type named as such.
"""
from __future__ import annotations

from pathlib import PurePath


def file_extension(name: str | PurePath) -> str:
    """The lower-cased extension of the file name `name` (its last part if a path), '' if none."""
    base = PurePath(name).name
    suffix = PurePath(base).suffix
    if not suffix and base.startswith(".") and base.count(".") == 1 and len(base) > 1:
        suffix = base
    return suffix.lower()
