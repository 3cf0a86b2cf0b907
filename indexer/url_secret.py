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
    """`url` unchanged, or ValueError when its user name or password holds an '@' or a '/' that is not
    percent-encoded.

    libpq ends the user:password part at the first '@', so `postgresql://rag:p@ss@db/rag` is user 'rag', password
    'p' and host 'ss@db'; and it looks for that '@' only ahead of the first '/', so `postgresql://rag:p/ss@db/rag`
    has no password at all: host 'rag', port 'p', database 'ss@db/rag'. Either way the connection fails naming
    part of the password as the host, port or database, in errors and logs. The message never quotes the URL or
    any part of it.

    Read as libpq reads it: the user:password part is what comes before the first '@' ahead of any '/', and the
    host list after it ends at '/' or '?'. A '?' or '#' in the password ends nothing there, so
    `postgresql://rag:a?b@c@db/rag` is password 'a?b' and host 'c@db' just the same. After the host list, an '@'
    is refused in the database name and in a query parameter's name (where a password's '/' puts the rest of it);
    one in a parameter's value (`?application_name=a@b`) is kept. Refused too: a query parameter that is no libpq
    connection keyword (`postgresql://rag:12/b?c=d@db/rag` is host 'rag', port '12', database 'b' and parameter
    'c': a password of digits leaves no other sign), an '@' in the value of one taking a word or a number
    (`sslmode=d@db/rag`), and a port that is not a number."""
    if not url or not url.lower().startswith(POSTGRES_SCHEMES):
        return url
    rest = url.split("://", 1)[1]
    ahead = rest.split("/", 1)[0]
    hosts_on = rest.split("@", 1)[1] if "@" in ahead else rest
    hosts = re.split(r"[/?]", hosts_on, maxsplit=1)[0]
    if "@" in hosts:
        raise ValueError(f"the URL has {1 + hosts.count('@')} '@' before its host: an '@' in the user name or "
                         "password must be percent-encoded as %40 (postgresql://USER:PASS%40WORD@HOST:PORT/DB), "
                         "else PostgreSQL takes the rest of the password for the host")
    after = hosts_on[len(hosts):]
    path, _, query = (after[1:] if after.startswith("/") else after).partition("?")
    names = [p.split("=", 1)[0] for p in query.split("&")] if query else []
    if "@" in path or any("@" in name for name in names):
        raise ValueError("the URL has an '@' after its host, outside a query parameter's value: a '/' in the user "
                         "name or password must be percent-encoded as %2F and an '@' as %40 "
                         "(postgresql://USER:PASS%2FWORD@HOST:PORT/DB; an '@' in the database name as %40 too), "
                         "else PostgreSQL takes the start of the password for the host and port")
    params = _params(query)
    if any(name not in LIBPQ_KEYWORDS or name in _WORD_OR_NUMBER and "@" in unquote(value) for name, value in params):
        raise ValueError("the URL has a query parameter PostgreSQL does not know, or an '@' in one that takes a "
                         "word or a number: a '/' in the user name or password must be percent-encoded as %2F and "
                         "an '@' as %40 (postgresql://USER:PASS%2FWORD@HOST:PORT/DB?sslmode=require), else "
                         "PostgreSQL takes the start of the password for the host and port and the rest for the "
                         "database and the query")
    if any(not _is_port(port) for port in _ports(hosts)):
        raise ValueError("the URL's port is not a number: a '/' in the user name or password must be "
                         "percent-encoded as %2F (postgresql://USER:PASS%2FWORD@HOST:PORT/DB), else PostgreSQL "
                         "takes the start of the password for the host and port")
    return url


# The parameters libpq reads from a URL's query (its connection keywords, PostgreSQL 18; 'ssl=true' as JDBC writes
# sslmode=require). libpq refuses any other, quoting it: after an unencoded '/' in a password
# (postgresql://rag:12/b?c=d@db/rag: host 'rag', port '12', database 'b', parameter 'c' = 'd@db/rag') that is the
# rest of the password.
LIBPQ_KEYWORDS = frozenset("""
    host hostaddr port dbname user password passfile require_auth channel_binding connect_timeout client_encoding
    options application_name fallback_application_name keepalives keepalives_idle keepalives_interval
    keepalives_count tcp_user_timeout replication gssencmode sslmode sslnegotiation requiressl sslcompression
    sslcert sslkey sslkeylogfile sslpassword sslcertmode sslrootcert sslcrl sslcrldir sslsni requirepeer
    ssl_min_protocol_version ssl_max_protocol_version min_protocol_version max_protocol_version krbsrvname gsslib
    gssdelegation service target_session_attrs load_balance_hosts oauth_issuer oauth_client_id
    oauth_client_secret oauth_scope ssl""".split())
# the keywords whose value is one of a few words or a number, never holding an '@' (sslmode=d@db/rag is a password's
# rest); a name, a path or a server's options may hold one (application_name=a@b, user=rag@server)
_WORD_OR_NUMBER = frozenset("""
    port connect_timeout keepalives keepalives_idle keepalives_interval keepalives_count tcp_user_timeout
    replication gssencmode sslmode sslnegotiation requiressl sslcompression sslcertmode sslsni channel_binding
    ssl_min_protocol_version ssl_max_protocol_version min_protocol_version max_protocol_version gsslib
    gssdelegation target_session_attrs load_balance_hosts require_auth ssl""".split())


def _params(query: str) -> list[tuple[str, str]]:
    """(name, value) of each of a URL query's parameters, the name percent-decoded."""
    return [(unquote(name), value) for name, _, value in (p.partition("=") for p in query.split("&") if p)]


def _ports(hosts: str) -> list[str]:
    """The ports written in a URL's host list (`db1:5432,[::1]:5433,db3`: '5432', '5433'); an IPv6 address in
    brackets holds colons of its own."""
    ports = []
    for host in hosts.split(","):
        if host.startswith("["):
            host = host.partition("]")[2]
            if host:
                ports.append(host[1:] if host.startswith(":") else host)  # text after ']' but no ':': no port
        elif ":" in host:
            ports.append(host.split(":", 1)[1])
    return ports


def _is_port(port: str) -> bool:
    """An empty port (libpq's default) or a number, percent-encoded or not."""
    return not port or unquote(port).isascii() and unquote(port).isdigit()
