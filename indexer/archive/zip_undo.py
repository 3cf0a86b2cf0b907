"""Take back the last member written to a zip being written (zipfile.ZipFile in mode 'w' on a seekable file).

An export hashes each kept upload as it copies it into the archive (indexer.archive.kept_files), so that the upload
is read once; a copy that no longer matches its name (damaged) is known only once it is written, and must not stay.
zipfile has no call to remove a member, but the last one written is the file's tail: its local header starts at
its ZipInfo.header_offset and nothing follows it, and the central directory is written at close, at
`ZipFile.start_dir`, from `ZipFile.filelist`. Cutting the file back to the header and forgetting the member leaves
the zip as it was before the member was opened. (These attributes are CPython's, unchanged since 3.6;
tests/indexer/test_archive_kept_once.py reads such an archive back, so a zipfile that changed them fails there.)
"""
from __future__ import annotations

import zipfile


def drop_last(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Remove member `info`, the last one written to `zf` (closed: its data and header are on disk)."""
    if not zf.filelist or zf.filelist[-1] is not info or zf.fp is None or not zf.fp.seekable():
        raise ValueError(f"{info.filename} is not the last member written to a seekable zip: it cannot be taken back")
    zf.filelist.pop()
    if zf.NameToInfo.get(info.filename) is info:
        del zf.NameToInfo[info.filename]
    zf.start_dir = info.header_offset
    zf.fp.seek(info.header_offset)
    zf.fp.truncate()
