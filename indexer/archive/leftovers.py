"""What a killed export or import leaves behind, and removing it only when no process is using it.

An export writes `.ARCHIVE.<random>.part` (the zip) and `.ARCHIVE.<random>.vectors` (a scratch file) beside
the archive, renamed or removed when it ends; a local import writes the hidden KB folder
`HOME/.NAME.importing`, renamed to `HOME/NAME` when it ends. A kill -9 leaves them.

"In use" is an exclusive flock(2) that the export or import holds on each of them while it runs (the
file, or the folder itself); the kernel drops it when the process ends, kill -9 included, so a sweeper
that gets the lock knows no process is writing there, and removes the leftover while holding it. A
leftover younger than GRACE_S is left alone: it may have been created a moment ago by a process about
to take its lock.

An interrupted import's folder is what a re-run of that import resumes from (indexer.archive.import_), so
it is kept, and said, for KEEP_IMPORT_S after its last write; past that it is removed. Swept: by the next
export to the same folder (its own archive's leftovers), by every import and by `rag serve` at start-up and
`rag kb list/create/delete`, `rag index` (the home's import folders); each says what it removed."""
from __future__ import annotations

import fcntl
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

GRACE_S = 60.0                # between creating a leftover's name and locking it: well under a second
KEEP_IMPORT_S = 24 * 3600.0   # an interrupted import can be re-run (and resume) for a day
IMPORTING = ".importing"
EXPORT_SUFFIXES = (".part", ".vectors", ".ocr")  # .ocr: the OCR cache's copy (indexer.archive.kept_files)


class InUse(Exception):
    """Another process holds the lock."""


def hold(path: Path) -> int:
    """Lock `path` (a file or a folder) for this process: the file descriptor to `release`. InUse when
    another process holds it."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InUse(str(path)) from None
    return fd


def release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor drops its lock


@dataclass
class Swept:
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)          # interrupted imports a re-run can resume
    failed: list[tuple[str, str]] = field(default_factory=list)

    def message(self, what: str) -> str:
        """One line for the user ('' when there was nothing); `what`: "an interrupted export", ..."""
        parts = []
        if self.removed:
            parts.append(f"removed {', '.join(self.removed)}, left by {what} (no process was using it)")
        if self.kept:
            parts.append(f"kept {', '.join(self.kept)}, left by an interrupted import: running the same import "
                         f"again resumes it; removed {KEEP_IMPORT_S / 3600:g} h after its last write")
        if self.failed:
            why = "; ".join(f"{n}: {reason}" for n, reason in self.failed)
            parts.append(f"could not remove what {what} left ({why}); remove it by hand")
        return "; ".join(parts)


def export_leftovers(folder: Path, archive_name: str) -> list[Path]:
    prefix = f".{archive_name}."
    try:
        return sorted(p for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(EXPORT_SUFFIXES)
                      and p.is_file() and not p.is_symlink())
    except (FileNotFoundError, NotADirectoryError):
        return []


def import_leftovers(home: Path) -> list[Path]:
    try:
        return sorted(p for p in home.iterdir() if p.name.startswith(".") and p.name.endswith(IMPORTING)
                      and p.is_dir() and not p.is_symlink())
    except (FileNotFoundError, NotADirectoryError):
        return []


def sweep_exports(folder: Path, archive_name: str, now: float | None = None) -> Swept:
    """Remove what killed exports of `archive_name` left in `folder`."""
    out, now = Swept(), time.time() if now is None else now
    for p in export_leftovers(folder, archive_name):
        _sweep_one(p, now, 0.0, out, p.unlink)
    return out


def sweep_imports(home: Path, now: float | None = None, *, skip: str | None = None) -> Swept:
    """Remove interrupted local imports' folders in `home` unused for KEEP_IMPORT_S (the others are kept and
    listed); `skip`: the KB an import is about to resume."""
    out, now = Swept(), time.time() if now is None else now
    for p in import_leftovers(home):
        if skip is not None and p.name == f".{skip}{IMPORTING}":
            continue
        _sweep_one(p, now, KEEP_IMPORT_S, out, lambda p=p: shutil.rmtree(p))
    return out


def _sweep_one(p: Path, now: float, keep_s: float, out: Swept, remove) -> None:
    try:
        age = now - _last_write(p)
        if age < GRACE_S:
            return
        fd = hold(p)
    except InUse:
        return  # an export or import running now
    except FileNotFoundError:
        return  # removed meanwhile (its export or import ended, or another sweeper)
    except OSError as e:
        out.failed.append((p.name, str(e)))
        return
    try:
        if age < keep_s:
            out.kept.append(p.name)
            return
        remove()
        out.removed.append(p.name)
    except FileNotFoundError:
        pass
    except OSError as e:
        out.failed.append((p.name, str(e)))
    finally:
        release(fd)


def _last_write(p: Path) -> float:
    """The newest modification time of `p` and, for a folder, of what it directly holds (a store's files)."""
    newest = p.stat().st_mtime
    if p.is_dir():
        for child in p.iterdir():
            try:
                newest = max(newest, child.stat().st_mtime)
            except FileNotFoundError:
                pass
    return newest
