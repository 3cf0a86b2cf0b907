"""A PostgreSQL session the server ended (a restart or shutdown, pg_terminate_backend) is an outage (api.outage): the
first write on each connection it ended raises AdminShutdown (SQLSTATE 57P01), an OperationalError subclass that
outage_of did not recognise by its name, so a job's step met it as the file's own fault (the file, or an import,
failed for good instead of waiting for the server) and a request got 500 instead of 503. A statement the server
cancelled (statement_timeout, 57014) is no outage: tried again, it would fail the same way. Real PostgreSQL."""
from __future__ import annotations

import psycopg
import pytest

from api.outage import outage_of
from api.state.factory import open_database
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)


def _raised(call) -> BaseException:
    with pytest.raises(psycopg.Error) as e:
        call()
    return e.value


def test_a_write_on_a_session_the_server_ended_is_the_databases_outage(postgres, tmp_path):  # noqa: F811
    db = open_database(postgres.url, tmp_path)
    try:
        db.execute("DELETE FROM jobs WHERE id = 'none'")  # the connection is open and idle
        with psycopg.connect(postgres.url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (db._conn().info.backend_pid,))
        e = _raised(lambda: db.execute("DELETE FROM jobs WHERE id = 'none'"))
        assert isinstance(e, psycopg.errors.AdminShutdown), type(e)
        away = outage_of(e)
        assert away is not None and away.dependency == "database", (type(e), e)
        assert db.execute("DELETE FROM jobs WHERE id = 'none'") == 0  # the next write connects again

        db.execute("SET statement_timeout = 50")  # this session's statements are cancelled after 50 ms
        cancelled = _raised(lambda: db.execute("SELECT pg_sleep(2)"))
        assert isinstance(cancelled, psycopg.errors.QueryCanceled), type(cancelled)
        assert outage_of(cancelled) is None
    finally:
        db.close()
