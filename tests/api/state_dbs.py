"""The service's state database on both backends for tests: SQLite in the test's folder, or one real
PostgreSQL per test module (started by `postgres`, imported into the module) with the tables a test uses
emptied first."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.state.factory import open_database
from cli.testing.postgres_server import PostgresServer

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="module")
def postgres():
    with PostgresServer() as pg:
        yield pg


def state_db(request, tmp_path, clear: tuple[str, ...]) -> Iterator:
    """For a fixture parametrized over BACKENDS: the database, closed after the test."""
    if request.param == "sqlite":
        d = open_database(None, tmp_path)
    else:
        d = open_database(request.getfixturevalue("postgres").url, tmp_path)
        with d.tx() as t:  # a clean slate per test on the module's server
            for table in clear:
                t.execute(f"DELETE FROM {table}")
    yield d
    d.close()
