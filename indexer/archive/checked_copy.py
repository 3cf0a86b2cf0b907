"""Copy a file into a zip being written only when its bytes are the ones expected (a kept upload's SHA-256 is its
name), reading the file once (indexer.archive.kept_files).

zipfile has no public call to take a member back, so a copy found damaged must never be begun in the archive: the
file is copied into a scratch file while it is hashed, and the scratch, which nothing else writes, is appended to the
zip whole only when the hash matches. The scratch is anonymous (O_TMPFILE where the system has it: a killed export
leaves nothing behind) and reused for each file, so it holds one at a time: at most the largest kept upload
(max_file_mb), not all of them. The price is one more write and read of each file, through the page cache: small
beside the deflate that compresses it."""
from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import IO

from indexer.archive import format as F

COPY_BLOCK = 1 << 20


class CheckedCopier:
    """`with CheckedCopier(folder) as copier: copier.add(...)`; the scratch lives in `folder` (the export's, so
    that it counts on the disk the archive is written to) while the block runs."""

    def __init__(self, folder: Path):
        self._folder = folder
        self._scratch: IO[bytes] | None = None

    def __enter__(self) -> CheckedCopier:
        self._scratch = tempfile.TemporaryFile(dir=self._folder)
        return self

    def __exit__(self, *exc) -> None:
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None

    def add(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, sha256: str) -> F.Member | None:
        """File `path` into `zf` as member `info` when its bytes hash to `sha256`; None (nothing written to `zf`)
        when they do not. OSError from reading `path` (FileNotFoundError: it is gone) leaves `zf` as it was too."""
        scratch = self._scratch
        if scratch is None:
            raise RuntimeError("CheckedCopier.add outside its `with` block: the scratch file is not open")
        scratch.seek(0)
        scratch.truncate()
        digest, size = hashlib.sha256(), 0
        with open(path, "rb") as src:
            while block := src.read(COPY_BLOCK):
                digest.update(block)
                size += len(block)
                scratch.write(block)
        if digest.hexdigest() != sha256:
            return None
        scratch.seek(0)
        with zf.open(info, "w", force_zip64=True) as dst:
            shutil.copyfileobj(scratch, dst, COPY_BLOCK)
        return F.Member(size=size, sha256=sha256)
