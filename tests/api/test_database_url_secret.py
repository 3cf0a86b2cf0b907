"""A PostgreSQL connection string's password is kept out of errors and logs. psycopg quotes a connection string
it cannot parse in its error (a space in the password, an unclosed IPv6 bracket), and the state database raised
that error as it was (`rag worker` printed it in its traceback) while the OCR cache logged it in its warning."""
from __future__ import annotations

import logging

import pytest

from api.observability import redact
from api.state.factory import open_database
from indexer.parse.ocr_cache_pg import PostgresOcrCache

BAD_URLS = [  # not parsed by psycopg; each quoted back in its error before
    ("postgresql://bob:s3cret PW@127.0.0.1/db", "s3cret PW"),
    ("postgresql://bob:s3cretPW@[::1/db", "s3cretPW"),
    ("postgresql://张三:银行 密码9@127.0.0.1/db", "银行 密码9"),
]


@pytest.mark.parametrize("url,password", BAD_URLS)
def test_the_state_databases_error_keeps_the_password_out(url, password, tmp_path):
    with pytest.raises(ValueError) as caught:
        open_database(url, tmp_path)
    said = str(caught.value)
    assert password not in said and "percent-encoding" in said, said
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no chained error quoting it


@pytest.mark.parametrize("url,password", BAD_URLS)
def test_the_ocr_caches_warning_keeps_the_password_out(url, password, caplog):
    cache = PostgresOcrCache(url, "kb", 1 << 20, "engine", "owner")
    with caplog.at_level(logging.DEBUG, logger="indexer.parse.ocr_cache_pg"):
        assert cache.get("key") is None  # the page is read by OCR
    said = caplog.text
    assert "OCR cache of 'kb'" in said and password not in said, said


def test_the_log_redacts_a_connection_strings_password():
    line = "cannot reach postgresql://bob:pw-9x@db:5432/rag and redis://:tok-7y@redis:6379/0 (see https://a.b/c:d@e)"
    said = redact(line)
    assert "pw-9x" not in said and "tok-7y" not in said, said
    assert "postgresql://bob:[password]@db:5432/rag" in said and "https://a.b/c:d@e" in said, said
