"""The file name of a multipart upload part, as the clients companies use send it.

python-multipart reads only `filename="..."` and gives its bytes as they came. Clients differ:

- browsers, curl, Python requests/httpx, OkHttp: the UTF-8 bytes as they are, `filename="收费标准.docx"`;
- .NET's MultipartFormDataContent: a MIME encoded word in `filename` (`"=?utf-8?B?5pS26LS5...?="`) and
  the RFC 5987 form beside it, `filename*=utf-8''%E6%94%B6...`;
- others only `filename*`, or an ASCII stand-in in `filename` next to it (`filename="fee.docx"`);
- old Windows clients: the name in GBK.

`filename*` wins when it is there (RFC 6266 section 4.3), an encoded word is decoded, and bytes that
are not UTF-8 are read as GB18030 (GBK's superset) before falling back to replacement characters.
"""
from __future__ import annotations

import codecs
import re
from email.header import decode_header
from urllib.parse import unquote_to_bytes

_STAR = re.compile(rb"""(?:^|;)\s*filename\*\s*=\s*"?([^";]*)"?""", re.IGNORECASE)
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def part_filename(disposition: bytes, params: dict[bytes, bytes]) -> str | None:
    """The part's file name from its Content-Disposition header (raw) and the parameters python-multipart
    parsed from it; None when the part is not a file (neither `filename` nor `filename*`)."""
    star = _STAR.search(disposition)
    if star is not None:
        name = _rfc5987(star.group(1))
        if name:
            return name
    if b"filename" not in params:
        return None
    name = _text(params[b"filename"])
    if _ENCODED_WORD.search(name):
        try:
            name = "".join(part.decode(charset or "utf-8", "replace") if isinstance(part, bytes) else part
                           for part, charset in decode_header(name))
        except (LookupError, ValueError):
            pass  # an unknown charset or a broken word: the name as sent
    return name


def _rfc5987(value: bytes) -> str:
    """`charset'language'percent-encoded` -> text ('' when malformed)."""
    charset, quote, rest = value.partition(b"'")
    _language, quote2, encoded = rest.partition(b"'")
    if not quote or not quote2:
        return ""
    try:
        codec = codecs.lookup(charset.decode("ascii") or "utf-8").name
    except (LookupError, UnicodeDecodeError):
        codec = "utf-8"
    return unquote_to_bytes(encoded).decode(codec, "replace")


def _text(raw: bytes) -> str:
    for codec in ("utf-8", "gb18030"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", "replace")
