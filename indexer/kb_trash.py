"""Deleting a KB folder so that it is gone at once, and sweeping what an interrupted delete left.

A delete renames the KB folder to a hidden `.NAME.<random>.deleting` beside it (atomic: the KB is gone
at once), then removes that. A kill in between leaves the hidden folder, which is not a KB (never
listed) and which `sweep` removes: `rag serve` at start-up, `rag kb list/create/delete` and `rag index`
when they open the home. The random part lets a KB created again under the name be deleted while an
older leftover of the name is still there (a rename onto a non-empty folder fails).

Two processes may sweep, or one sweep while a delete removes, the same folder at once: each removes
what it finds and ignores what the other already removed, so the folder ends gone either way; a process
reports only a folder that it found and that is gone after its removal.
"""
from __future__ import annotations

import os
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

SUFFIX = ".deleting"


def is_leftover(p: Path) -> bool:
    return p.name.startswith(".") and p.name.endswith(SUFFIX) and p.is_dir() and not p.is_symlink()


def discard(folder: Path) -> None:
    """Delete a KB folder: first out of its name (atomically), then from the disk."""
    remove(set_aside(folder))


def set_aside(folder: Path) -> Path:
    """KB folder `folder` out of its name (atomically), as a leftover to `remove` (or `sweep`, after a kill): a KB
    put in its place meanwhile (an import replacing it) takes the name at once, not after the removal."""
    trash = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}{SUFFIX}")
    folder.rename(trash)
    return trash


def remove(trash: Path) -> None:
    """Remove a folder `set_aside` made (what cannot be removed is left to `sweep`)."""
    _remove(trash)


@dataclass
class Sweep:
    """What `sweep` removed, and what it could not (name, reason)."""

    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def message(self) -> str:
        """One line for the user; empty when there was nothing to sweep."""
        parts = []
        if self.removed:
            parts.append(f"removed {', '.join(self.removed)} in the knowledge base folder, left by an interrupted "
                         "knowledge base delete")
        if self.failed:
            why = "; ".join(f"{n}: {reason}" for n, reason in self.failed)
            parts.append(f"could not remove what an interrupted knowledge base delete left ({why}); remove it by hand")
        return "; ".join(parts)


def sweep(home: Path) -> Sweep:
    """Remove every `.NAME....deleting` folder under `home` (see the module's note on concurrent removal)."""
    out = Sweep()
    try:
        entries = list(home.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return out
    for p in sorted(entries):
        if not is_leftover(p):
            continue
        error = _remove(p)
        if error is None:
            out.removed.append(p.name)
        elif error != "gone":
            out.failed.append((p.name, error))
    return out


def _remove(p: Path) -> str | None:
    """Remove folder `p`: None when this call removed it, 'gone' when another process had before this one
    looked, else the reason it is still there."""
    errors: list[tuple[object, str, BaseException]] = []
    if sys.version_info >= (3, 12):  # `onerror` is deprecated there
        shutil.rmtree(p, onexc=lambda func, path, e: errors.append((func, str(path), e)))
    else:
        shutil.rmtree(p, onerror=lambda func, path, exc: errors.append((func, str(path), exc[1])))
    if p.exists():
        first = next((e for _, _, e in errors if not isinstance(e, FileNotFoundError)), None)
        return str(first) if first else "still there after removal"
    if any(func in (os.lstat, os.open) and path == str(p) and isinstance(e, FileNotFoundError)
           for func, path, e in errors):
        return "gone"
    return None
