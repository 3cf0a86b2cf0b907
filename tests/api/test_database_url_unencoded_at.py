"""A PostgreSQL URL whose password holds an '@' or a '/' that is not percent-encoded is refused when the setting is
read, in one line that says to write it as %40 or %2F and quotes no part of the password. libpq ends the password at
the first '@', so `postgresql://rag:p@ss@db:5432/rag` failed later naming host 'ss@db': the rest of the password, in
the error and the logs; and it looks for that '@' only ahead of the first '/', so `postgresql://rag:p/ss@db/rag` was
host 'rag', port 'p', database 'ss@db/rag': all of the password in an error about the port or the database."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from api.config import ServiceSettings
from api.state.factory import open_database
from indexer.config import IndexerSettings, SettingsError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNENCODED = [  # (url, password): English and Chinese, user and password
    ("postgresql://rag:pw9Q@x7Zk@db:5432/rag", "pw9Q@x7Zk"),
    ("postgres://张三:银行@密码9@db.example.cn/rag", "银行@密码9"),
    # a '?' or '#' ends nothing before libpq's first '@' (password 'k?7Q', host 'm2@db' all the same)
    ("postgresql://rag:k?7Q@m2@db:5432/rag", "k?7Q@m2"),
    ("postgres://张三:银#行@密码9@db.example.cn/rag", "银#行@密码9"),
]
SLASHED = [  # a '/' ahead of libpq's '@': the URL's host is the user name, the password's start its port
    ("postgresql://rag:pw9Q/x7Zk@db:5432/rag", "pw9Q/x7Zk"),  # the rest of it in the database name
    ("postgresql://rag:pw9Q/sT4@x7Zk@db/rag", "pw9Q/sT4@x7Zk"),
    ("postgresql://rag:Ab3/x+Yz==@db:5432/rag", "Ab3/x+Yz=="),  # base64, as password generators write
    ("postgres://张三:银行/密码9@db.example.cn/rag", "银行/密码9"),
    ("postgresql://rag:Ab3/k?7Q@db/rag", "Ab3/k?7Q"),  # in a query parameter's name
    ("postgres://张三:银行/密?码=9@db.example.cn/rag", "银行/密?码=9"),  # in a parameter's value: the port tells
    # a password of digits: its start a port, the rest a database and a parameter libpq does not know
    ("postgresql://rag:12/b?c=d@db/rag", "12/b?c=d"),
    ("postgres://张三:2024/银?行=9@db.example.cn/rag", "2024/银?行=9"),
    ("postgresql://rag:12/b?c=d@db/rag&sslmode=require", "12/b?c=d"),
    # ... or a keyword taking a word, whose value then holds an '@'
    ("postgresql://rag:12/b?sslmode=d@db/rag", "12/b?sslmode=d"),
]


def _keeps_the_password_out(said: str, password: str) -> None:
    assert ("%2F" if "/" in password else "%40") in said and len(said.splitlines()) == 1, said
    for part in {password, *password.replace("/", "@").split("@")}:
        assert part not in said, (part, said)


@pytest.mark.parametrize("url,password", UNENCODED + SLASHED)
def test_the_state_database_url_is_refused_when_read(url, password, monkeypatch):
    monkeypatch.setenv("RAG_DATABASE_URL", url)
    with pytest.raises(SettingsError) as caught:
        ServiceSettings.load()
    said = str(caught.value)
    _keeps_the_password_out(said, password)
    assert "RAG_DATABASE_URL" in said and "database_url" in said, said


@pytest.mark.parametrize("url,password", UNENCODED + SLASHED)
def test_the_ocr_cache_url_is_refused_when_read(url, password):
    with pytest.raises(SettingsError) as caught:
        IndexerSettings.load(ocr_cache_url=url)
    _keeps_the_password_out(str(caught.value), password)
    assert "ocr_cache_url" in str(caught.value)


@pytest.mark.parametrize("url,password", UNENCODED + SLASHED)
def test_the_state_database_refuses_it_given_directly(url, password, tmp_path):
    with pytest.raises(ValueError) as caught:
        open_database(url, tmp_path)
    _keeps_the_password_out(str(caught.value), password)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize("url", [
    "postgresql://rag:p%40ss@db:5432/rag",
    "postgres://%E5%BC%A0%E4%B8%89:%E9%93%B6%E8%A1%8C%40%E5%AF%86%E7%A0%819@db.example.cn/rag",
    "postgresql://rag:pw@db1:5432,db2:5432/rag?target_session_attrs=read-write",
    "postgresql://rag:pw@db/rag?application_name=a@b",  # an '@' after the host is not the password's
    "postgresql://rag:pw9Q%2Fx7Zk@db:5432/rag",
    "postgres://%E5%BC%A0%E4%B8%89:%E9%93%B6%E8%A1%8C%2F%E5%AF%86%E7%A0%819@db.example.cn/rag",
    "postgresql:///rag?host=/var/run/postgresql",  # a unix socket: its '/' are a parameter's value
    "postgresql://rag:pw@/rag?host=/var/run/postgresql&application_name=a@b",
    "postgresql://%2Fvar%2Frun%2Fpostgresql/rag",
    "postgresql://rag:pw@[::1]:5432/rag",
    "postgresql://rag:pw@[fe80::1%25eth0]:5432,[2001:db8::7]/rag?target_session_attrs=any",
    "postgresql://rag:pw@db:/rag",  # an empty port: libpq's default
    # libpq's connection keywords, an '@' in the value of one naming something
    "postgresql://rag:pw@db/rag?sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem&connect_timeout=10",
    "postgresql://rag:pw@db/rag?options=-c%20search_path%3Drag&application_name=%E9%93%B6%E8%A1%8C&ssl=true",
    "postgresql://db/rag?user=rag@srv&keepalives=1&target_session_attrs=read-write",
    "postgresql://12@db/rag",  # a user name of digits
])
def test_a_percent_encoded_or_single_at_url_is_kept(url, monkeypatch):
    monkeypatch.setenv("RAG_DATABASE_URL", url)
    assert ServiceSettings.load().database_url == url
    assert IndexerSettings.load(ocr_cache_url=url).ocr_cache_url == url


@pytest.mark.parametrize("url,password", UNENCODED + SLASHED)
def test_the_cli_says_it_in_one_line_without_the_password(url, password, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_HOME": str(tmp_path / "home"), "RAG_DATABASE_URL": url, "HF_HUB_OFFLINE": "1",
                "PYTHONPATH": ROOT})
    p = subprocess.run([sys.executable, "-m", "cli", "kb", "list"], env=env, cwd=tmp_path, capture_output=True,
                       text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 1 and p.stdout == "", (p.returncode, p.stdout, p.stderr)
    assert p.stderr.startswith("error: invalid setting [service] database_url") and "Traceback" not in p.stderr
    _keeps_the_password_out(p.stderr.strip(), password)
