"""Streaming multipart upload: each file goes straight to a private folder as it arrives.

The request body is never held in memory: sizes are checked while the bytes come in (413 as soon
as a file passes the limit), types by the first bytes (415), the count of files (413), form fields
as soon as each one is complete (422), and the time the body takes (408 when it stalls or drags on).
Files are stored under generated names (`000.pdf`); the user's file name is metadata only. On any
error, of any kind, the folder is removed.
"""
from __future__ import annotations

import json
import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from api.body_stream import timed_chunks
from api.disposition import part_filename
from api.errors import ApiError
from api.jobs.store import Incoming
from api.sniff import UnsupportedType, check_type
from indexer.parse.extension import file_extension
from indexer.store.write_errors import KBWriteError, write_error

HEAD = 2048  # bytes looked at to tell the type


MAX_NAME = 200  # characters of a file name kept as metadata (its extension always survives)
FIELDS = {"tags"}  # the only form field read; others are skipped unread, not kept in memory
MAX_FIELD_PARTS = 20  # form parts without a file; more is an attempt to fill the server's memory or time


@dataclass
class Upload:
    files: list[Incoming] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def safe_filename(name: str) -> str:
    """The user's file name for display and metadata: no folders, no control characters, at most
    MAX_NAME characters with its extension kept."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    # leading dots go (no hidden names, no ".."), except one before a name that is only an extension:
    # ".txt" stays ".txt", a text file, not "txt", a file without one
    bare = name.lstrip(".")
    name = "." + bare if bare and bare != name and "." not in bare else bare
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = stem[:MAX_NAME - len(ext) - 1] + dot + ext if dot and 0 < len(ext) <= 10 else name[:MAX_NAME]
    return name or "upload"


class _Receiver:
    def __init__(self, dest: Path, max_bytes: int, max_files: int):
        self.dest, self.max_bytes, self.max_files = dest, max_bytes, max_files
        self.upload = Upload()
        self.error: ApiError | None = None
        self._headers: dict[bytes, bytes] = {}
        self._field, self._value = b"", b""
        self._part: Incoming | None = None
        self._name = ""
        self._fh = None
        self._head = b""
        self._text = bytearray()
        self._field_parts = 0
        self.ended = False

    # callbacks -----------------------------------------------------------------
    def on_part_begin(self):
        self._headers, self._part, self._fh, self._head, self._text = {}, None, None, b"", bytearray()

    def on_header_field(self, data, start, end):
        self._field += data[start:end]

    def on_header_value(self, data, start, end):
        self._value += data[start:end]

    def on_header_end(self):
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def on_headers_finished(self):
        disposition = self._headers.get(b"content-disposition", b"")
        _, params = parse_options_header(disposition)
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        sent_name = part_filename(disposition, params)  # filename*, encoded words, GBK (api.disposition)
        if sent_name is None:
            self._field_parts += 1
            if self._field_parts > MAX_FIELD_PARTS:
                self._fail(413, "too_many_fields", f"more than {MAX_FIELD_PARTS} form fields; an upload has the "
                                                   "fields 'files' (one part per file) and 'tags'")
            elif self._name in self.upload.fields:
                self._fail(422, "duplicate_field", f"form field {self._name!r} appears twice")
            return
        if self._name != "files":
            self._fail(422, "bad_upload", f"file parts must use the field name 'files', got {self._name!r}")
            return
        if len(self.upload.files) >= self.max_files:
            self._fail(413, "too_many_files", f"at most {self.max_files} files per upload (RAG_MAX_FILES)")
            return
        filename = safe_filename(sent_name)
        if any(f.filename == filename for f in self.upload.files):
            self._fail(422, "duplicate_file", f"{filename} appears twice in this upload")
            return
        n = len(self.upload.files)
        ext = file_extension(filename)
        self._part = Incoming(filename, self.dest / f"{n:03d}{ext if len(ext) <= 10 else ''}")
        self.upload.files.append(self._part)
        self._fh = open(self._part.path, "wb")

    def on_part_data(self, data, start, end):
        if self.error:
            return
        chunk = data[start:end]
        if self._part is None:
            if self._name not in FIELDS:
                return
            self._text += chunk
            if len(self._text) > 65536:
                self._fail(413, "field_too_large", f"form field {self._name!r} is over 64 KB")
            return
        self._part.size += len(chunk)
        if self._part.size > self.max_bytes:
            self._fail(413, "file_too_large", f"{self._part.filename} is over the {self.max_bytes / 2**20:g} MB "
                                              "limit per file (RAG_MAX_UPLOAD_MB)")
            return
        if len(self._head) < HEAD:
            self._head += chunk[:HEAD - len(self._head)]
            if len(self._head) >= HEAD:
                self._check_type()
        self._fh.write(chunk)

    def on_part_end(self):
        if self._part is not None and self._fh is not None:
            self._fh.close()
            if not self.error and len(self._head) < HEAD:
                self._check_type()
        elif self._part is None and self._name in FIELDS and not self.error:
            value = self._text.decode("utf-8", "replace")
            self.upload.fields[self._name] = value
            if self._name == "tags":  # checked now, before any further file is streamed to disk
                try:
                    self.upload.tags = parse_tags(value)
                except ApiError as e:
                    self.error = e

    def on_end(self):
        self.ended = True

    def _check_type(self):
        try:
            check_type(self._part.filename, self._head)
        except UnsupportedType as e:
            self._fail(415, "unsupported_type", str(e))

    def _fail(self, status: int, code: str, message: str):
        if self.error is None:
            self.error = ApiError(status, code, message)

    def close(self):
        if self._fh is not None and not self._fh.closed:
            self._fh.close()


def no_room(err: KBWriteError) -> ApiError:
    """507 for an upload the server could not keep: its disk is full or read-only (not the client's fault)."""
    return ApiError(507, "insufficient_storage", f"the server could not keep the upload: {err.reason}; nothing "
                    "was kept. Retry later; the administrator must free space under RAG_HOME (or the state "
                    "database's disk)")


def queue_error(e: Exception, what: str = "upload") -> ApiError:
    """The error for a job that could not be written or queued (nothing was kept): 507 for a full disk of the
    state database (embedded: RAG_HOME), 503 while a server the queue needs is away, or for any other cause; 503
    job_not_withdrawn, naming the job, where the queue refused it and the database could not remove it (it may run)."""
    from api.jobs.handoff import JobNotWithdrawn
    from api.outage import outage_of

    if isinstance(e, JobNotWithdrawn):  # not "nothing was kept": the job may be in the database and run
        return ApiError(503, "job_not_withdrawn", str(e), {"Retry-After": "10"})
    if (full := write_error(e)) is not None:
        return no_room(full)
    away = outage_of(e)
    why = away.message if away else f"{type(e).__name__}; retry in a moment"
    return ApiError(503, "queue_unavailable", f"the {what} could not be queued, nothing was kept: {why}",
                    {"Retry-After": "10"})


async def receive_upload(request: Request, dest: Path, max_bytes: int, max_files: int,
                         idle_s: float = 30.0, total_s: float = 600.0) -> Upload:
    """Stream the multipart body into `dest` (created; removed again on any error). A body that sends
    nothing for `idle_s`, or takes longer than `total_s` in all, is cut off with 408."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise ApiError(415, "not_multipart", "send the files as multipart/form-data in the field 'files'")
    dest.mkdir(parents=True, exist_ok=True)
    rx = _Receiver(dest, max_bytes, max_files)
    callbacks = {name: getattr(rx, name) for name in dir(rx) if name.startswith("on_")}
    parser = MultipartParser(params[b"boundary"], callbacks)
    try:
        async for chunk in timed_chunks(request, idle_s, total_s):
            parser.write(chunk)
            if rx.error:
                raise rx.error
        parser.finalize()
        if rx.error:
            raise rx.error
        if not rx.ended:
            raise ValueError("the body ends before the closing boundary")
    except ApiError:
        rx.close()
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except BaseException as e:  # malformed multipart, a client gone, a cancelled task: nothing is left behind
        rx.close()
        shutil.rmtree(dest, ignore_errors=True)
        if isinstance(e, Exception) and (full := write_error(e)) is not None:  # our disk, not the client's body
            raise no_room(full) from e
        if isinstance(e, Exception) and not isinstance(e, (RecursionError, MemoryError)):
            raise ApiError(400, "bad_multipart", f"the multipart body could not be read: {e}") from e
        raise
    rx.close()
    if not rx.upload.files:
        shutil.rmtree(dest, ignore_errors=True)
        raise ApiError(422, "no_files", "the upload has no files; send them in the multipart field 'files'")
    return rx.upload


TAG = re.compile(r"^[^=]{1,64}=.{0,256}$")


def parse_tags(raw: str | None) -> dict[str, str]:
    """Form field `tags`: a flat JSON object of strings, or comma-separated key=value (at most 50)."""
    if not raw:
        return {}
    raw = raw.strip()
    if raw.startswith("{"):
        if raw.count("{") + raw.count("[") > 1:  # nesting is never valid, and deep nesting overflows the parser
            raise ApiError(422, "bad_tags", "tags must be a flat JSON object of strings (no nesting)")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise ApiError(422, "bad_tags", f"tags is not valid JSON: {e}") from e
        if not isinstance(data, dict) or not all(isinstance(v, (str, int, float, bool)) for v in data.values()):
            raise ApiError(422, "bad_tags", "tags must be a JSON object of strings")
        items = [f"{k}={v}" for k, v in data.items()]
    else:
        items = [p.strip() for p in raw.split(",") if p.strip()]
    if len(items) > 50:
        raise ApiError(422, "bad_tags", f"at most 50 tags, got {len(items)}")
    out = {}
    for item in items:
        if not TAG.match(item):
            raise ApiError(422, "bad_tags", f"tag {item!r} is not key=value")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out
