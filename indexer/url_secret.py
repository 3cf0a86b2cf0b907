"""A connection string's password kept out of what is logged or shown.

psycopg quotes the connection string it could not parse in its error ('unexpected spaces found in "pass word"',
'...matching "]" in IPv6 host address in URI: "postgresql://user:pass@[::1/db"'), so an error or log line about a
database must pass through hide_password first."""
from __future__ import annotations

import re
from urllib.parse import unquote

HIDDEN = "[password]"
# scheme://user:password@host: everything between the first ':' after '//' and the last '@' before the host part
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s\"']*:)[^\s\"']*@", re.IGNORECASE)


def hide_password(text: str, url: str = "") -> str:
    """`text` with any URL's password replaced by HIDDEN, and `url`'s password wherever it appears alone (quoted
    back by a parser that failed on it), percent-encoded or not."""
    text = _USERINFO.sub(lambda m: m.group(1) + HIDDEN + "@", text)
    for secret in _passwords(url):
        text = text.replace(secret, HIDDEN)
    return text


def _passwords(url: str) -> list[str]:
    """`url`'s password as written and decoded, longest first; none when it has no user:password@ part."""
    if "@" not in url or "://" not in url:
        return []
    userinfo = url.split("://", 1)[1].rsplit("@", 1)[0]
    if ":" not in userinfo:
        return []
    raw = userinfo.split(":", 1)[1]
    return sorted({p for p in (raw, unquote(raw)) if p}, key=len, reverse=True)


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def check_postgres_url(url: str | None) -> str | None:
    """`url` unchanged, or ValueError when its user name or password holds an '@' that is not percent-encoded.

    libpq ends the user:password part at the first '@', so `postgresql://rag:p@ss@db/rag` is user 'rag', password
    'p' and host 'ss@db': the connection fails naming the rest of the password as the host, in errors and logs.
    The message never quotes the URL or any part of it.

    Read as libpq reads it: the user:password part is what comes before the first '@' ahead of any '/', and the
    host list after it ends at '/' or '?'. A '?' or '#' in the password ends nothing there, so
    `postgresql://rag:a?b@c@db/rag` is password 'a?b' and host 'c@db' just the same; an '@' of the query
    (`?application_name=a@b`) is not the password's."""
    if not url or not url.lower().startswith(POSTGRES_SCHEMES):
        return url
    authority = url.split("://", 1)[1].split("/", 1)[0]
    hosts = authority.split("@", 1)[1].split("?", 1)[0] if "@" in authority else ""
    if "@" in hosts:
        raise ValueError(f"the URL has {1 + hosts.count('@')} '@' before its host: an '@' in the user name or "
                         "password must be percent-encoded as %40 (postgresql://USER:PASS%40WORD@HOST:PORT/DB), "
                         "else PostgreSQL takes the rest of the password for the host")
    return url
