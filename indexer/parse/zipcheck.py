"""Refuse ZIP bombs (.docx, .pptx, .xlsx are ZIP archives) before a parser inflates them.

A few hundred KB of deflated XML can expand to gigabytes: python-docx, python-pptx and
openpyxl read whole members into memory, so a bomb exhausts the memory of whatever process
parses it. check_zip() reads only the central directory and refuses the file when

* a member declares more than `zip_member_mb` uncompressed,
* all members together declare more than `zip_total_mb`,
* a member over 1 MB declares more than `zip_ratio` times its compressed size
  (text-heavy XML compresses 5-20:1; a long run of one byte reaches ~1000:1),
* the archive has more than MAX_MEMBERS entries,
* a member is compressed with anything but deflate (or stored): OOXML allows nothing else.

Then the declared sizes are verified: a header can lie (declare 2 KB, inflate to 10 GB), and
Python's zipfile, which all three libraries use, inflates a member's whole compressed data in
one call when asked for all of it, truncating to the declared size only afterwards (and a CRC
of the truncated part passes). So every deflated member is inflated once here, through a
stream that yields at most 1 MB per step, and the file is refused as soon as a member yields
more than it declares (or is damaged). That costs one decompression of the archive, bounded
by the limits above (a few ms for ordinary documents). The sandbox's memory limit
(indexer.parse.sandbox) is the second line for anything else.

While the XML members stream past, they are also searched for a DTD (indexer.parse.xml_dtd):
entity declarations are refused with that reason, not left to the parsers' "damaged" errors.
"""
from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from indexer.parse.errors import ParseError
from indexer.parse.limits import MB, ParseLimits
from indexer.parse.xml_dtd import DtdScanner, dtd_refused, is_xml_member

MAX_MEMBERS = 10_000
_RATIO_MIN_SIZE = 1 * MB  # small members may compress extremely well and do no harm
_STEP = 1 * MB  # most bytes inflated at once while verifying
_READ = 64 * 1024


def check_zip(path: Path, limits: ParseLimits | None = None) -> None:
    """Raise ParseError if the archive at `path` would inflate beyond `limits`.

    A file that is not a readable ZIP passes: the format's parser reports it as damaged.
    """
    limits = limits or ParseLimits()
    if not limits.zip_check:
        return
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return
    if len(infos) > MAX_MEMBERS:
        raise _bomb(path, f"it holds {len(infos)} files (limit {MAX_MEMBERS})", "")
    total = 0
    for info in infos:
        size = info.file_size
        if size > limits.zip_member_mb * MB:
            raise _bomb(path, f"{info.filename} expands to {_mb(size)} MB (limit {limits.zip_member_mb:g} MB)",
                        "parse_zip_member_mb / RAG_PARSE_ZIP_MEMBER_MB")
        if size > _RATIO_MIN_SIZE and size > limits.zip_ratio * max(info.compress_size, 1):
            raise _bomb(path, f"{info.filename} expands {size / max(info.compress_size, 1):.0f} times "
                              f"({_mb(size)} MB from {info.compress_size} bytes; limit {limits.zip_ratio:g}:1)",
                        "parse_zip_ratio / RAG_PARSE_ZIP_RATIO")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _bomb(path, f"{info.filename} uses compression method {info.compress_type}, "
                              "which Office documents never use", "")
        total += size
    if total > limits.zip_total_mb * MB:
        raise _bomb(path, f"its files expand to {_mb(total)} MB in all (limit {limits.zip_total_mb:g} MB)",
                    "parse_zip_total_mb / RAG_PARSE_ZIP_TOTAL_MB")
    _verify_sizes(path, [i for i in infos if i.compress_type == zipfile.ZIP_DEFLATED or is_xml_member(i.filename)])


def _verify_sizes(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Inflate each member in bounded steps; refuse one that yields more than it declares, or XML
    that declares a DTD."""
    with open(path, "rb") as raw:
        for info in infos:
            dtd = DtdScanner() if is_xml_member(info.filename) else None
            raw.seek(info.header_offset)
            local = raw.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                raise _damaged(path, info.filename)
            name_length, extra_length = struct.unpack("<HH", local[26:30])
            raw.seek(info.header_offset + 30 + name_length + extra_length)
            if info.compress_type == zipfile.ZIP_STORED:
                _scan_stored(path, raw, info, dtd)
                continue
            inflate, left, produced = zlib.decompressobj(-15), info.compress_size, 0
            try:
                while left > 0 and not inflate.eof:
                    data = raw.read(min(_READ, left))
                    if not data:
                        break
                    left -= len(data)
                    out = inflate.decompress(data, _STEP)
                    while True:
                        produced += len(out)
                        if dtd is not None and dtd.feed(out):
                            raise dtd_refused(path, info.filename)
                        if not inflate.unconsumed_tail or produced > info.file_size:
                            break
                        out = inflate.decompress(inflate.unconsumed_tail, _STEP)
                    if produced > info.file_size:
                        raise _bomb(path, f"{info.filename} inflates to more than the {info.file_size} bytes "
                                          "it declares", "")
            except zlib.error:
                raise _damaged(path, info.filename) from None


def _scan_stored(path: Path, raw: BinaryIO, info: zipfile.ZipInfo, dtd: DtdScanner | None) -> None:
    """An uncompressed member: only an XML one is read, for a DTD."""
    left = info.compress_size
    while dtd is not None and left > 0:
        data = raw.read(min(_READ, left))
        if not data:
            return
        left -= len(data)
        if dtd.feed(data):
            raise dtd_refused(path, info.filename)


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / MB:.0f}" if n_bytes >= 10 * MB else f"{n_bytes / MB:.1f}"


def _damaged(path: Path, member: str) -> ParseError:
    return ParseError(f"{path.name} is damaged: {member} cannot be read from the archive. "
                      "Open it in Office, save it again and upload it again.")


def _bomb(path: Path, what: str, setting: str) -> ParseError:
    advice = (f"If it is a genuine document, ask an administrator to raise {setting}." if setting
              else "Save it again from Office and upload it again.")
    return ParseError(f"{path.name}: {what}: refused as a zip bomb. {advice}")
