"""Request ids, structured logs and secrets kept out of them.

Every response carries X-Request-ID (the client's, when it sent a sane one); every log line
written while a request is handled carries it too, as a field of a one-line JSON record.
Every log line is redacted before it is written: the values of the URL query parameters that
carry credentials (`key`, `token`, `api_key`, `access_token`, `ticket`), bearer tokens and
Authorization headers, the `rag.key.` WebSocket subprotocol, a connection string's password
(scheme://user:[password]@host) and the secret part of our API keys (`rag_<id>_<secret>` keeps its id);
and personal data a question or chat message may hold (resident ID, bank card and phone numbers, e-mail
addresses: rag.guard.personal_data), tracebacks included."""
from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
import time

from indexer.url_secret import hide_password
from rag.guard.personal_data import mask_personal

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
access_log = logging.getLogger("api.access")

SECRET_PARAMS = ("key", "token", "api_key", "access_token", "ticket", "msg_signature", "signature", "echostr", "sign")
REDACTED = "[redacted]"
_SECRETS = [
    # ?key=... &api_key=... in URLs (also percent-encoded '&' / '?' as seen in some logged URLs)
    (re.compile(r"(?i)((?:[?&;]|%3F|%26)(?:" + "|".join(SECRET_PARAMS) + r")=)[^&;#\s\"'<>]*"), r"\1" + REDACTED),
    (re.compile(r"(?i)(authorization[\"']?\s*[:=,]\s*[\"']?)(?:(bearer|basic)\s+)?[^\s\"',;)]+"),
     lambda m: m.group(1) + (m.group(2) + " " if m.group(2) else "") + REDACTED),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + REDACTED),
    (re.compile(r"(rag\.(?:key|ticket)\.)[^\s,\"']+"), r"\1" + REDACTED),
    (re.compile(r"\b(rag_[0-9a-f]{6,32}_)[A-Za-z0-9_-]{8,}"), r"\1" + REDACTED),
]


def redact(text: str) -> str:
    """`text` without credentials and personal data (see the module docstring); safe to write to a log."""
    if not text:
        return text
    for pattern, repl in _SECRETS:
        text = pattern.sub(repl, text)
    return mask_personal(hide_password(text))  # a connection string's password (scheme://user:password@host)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
               "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
               "request_id": getattr(record, "request_id", request_id_var.get())}
        for key in ("method", "path", "status", "duration_ms", "kb", "key_id", "job_id", "channel", "event"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))  # an exception's message may quote input
        return json.dumps(out, ensure_ascii=False)


class _RequestIdFilter(logging.Filter):
    """On the handler, so it sees every record (uvicorn's included): adds the request id and
    redacts secrets from the message, e.g. uvicorn's 'WebSocket /v1/kbs/x/ws?key=...' line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string: let the formatter report it
            return True
        clean = redact(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        if isinstance(getattr(record, "path", None), str):
            record.path = redact(record.path)
        if record.exc_info and not record.exc_text:  # the plain-text formatter writes exc_text when set
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def setup_logging(json_lines: bool = True, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if json_lines else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # our access log has the request id


def new_request_id(given: str | None) -> str:
    return given if given and SANE_ID.match(given) else secrets.token_hex(8)
