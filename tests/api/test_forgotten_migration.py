"""Table forgotten_users is migration 8 on both state backends, SQLite and a real PostgreSQL: a new database has
it before any forget, and a database of an earlier release (schema 7) upgrades cleanly, whether that release
had already made the table on a first forget (its rows kept) or not."""
from __future__ import annotations

import pytest

from api.audit.pseudonym import Pseudonyms
from api.state import forgotten
from api.state.forget_user import forget_user
from api.state.migrations import MIGRATIONS, migrate
from tests.api.state_dbs import BACKENDS, postgres, state_db  # noqa: F401  (postgres: the module's server)

USERS = {"zh": "张三", "en": "li.lei@example.com"}

# What releases at schema 7 ran on a first forget (api/state/forgotten.ensure, since removed)
_MADE_ON_FIRST_USE = """CREATE TABLE IF NOT EXISTS forgotten_users (
    pseudonym TEXT PRIMARY KEY,
    epoch INTEGER NOT NULL,
    forgotten_at TEXT NOT NULL)"""


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    yield from state_db(request, tmp_path, clear=("feedback", "answers", "channel_history", "audit", "forgotten_users"))


def _as_schema_7(db, *, made_on_first_use: bool) -> None:
    """Put the database back where a schema-7 release left it."""
    with db.tx() as t:
        t.execute("DROP TABLE IF EXISTS forgotten_users")
        t.execute("UPDATE schema_version SET version = 7")
        if made_on_first_use:
            t.execute(_MADE_ON_FIRST_USE)


def _tables(db) -> set[str]:
    if db.dialect == "sqlite":
        return {r["name"] for r in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {r["tablename"] for r in db.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}


def test_forgotten_users_is_the_eighth_migration(db):
    assert len(MIGRATIONS) >= 8 and any("forgotten_users" in sql for sql in MIGRATIONS[7])
    assert db.one("SELECT version FROM schema_version")["version"] == len(MIGRATIONS)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_new_database_has_the_table_before_any_forget(db, lang):
    assert "forgotten_users" in _tables(db)
    owner = Pseudonyms(db).of(USERS[lang])
    assert forgotten.epoch_of(db, owner) == 0  # a read, first thing: no forget has made the table


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_database_that_made_the_table_on_a_first_forget_upgrades_and_keeps_its_counts(db, lang):
    _as_schema_7(db, made_on_first_use=True)
    user = USERS[lang]
    owner = Pseudonyms(db).of(user)
    db.execute("INSERT INTO forgotten_users(pseudonym, epoch, forgotten_at) VALUES (?, ?, ?)",
               (owner, 2, "2026-01-02T03:04:05Z"))

    assert migrate(db) == len(MIGRATIONS)
    assert forgotten.epoch_of(db, owner) == 2
    assert forget_user(db, user, owner).epoch == 3
    assert migrate(db) == len(MIGRATIONS)  # again: nothing to do, nothing lost
    assert forgotten.epoch_of(db, owner) == 3


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_database_that_never_forgot_anyone_upgrades_with_the_table(db, lang):
    _as_schema_7(db, made_on_first_use=False)
    assert "forgotten_users" not in _tables(db)

    assert migrate(db) == len(MIGRATIONS)
    assert "forgotten_users" in _tables(db)
    user = USERS[lang]
    owner = Pseudonyms(db).of(user)
    assert forgotten.epoch_of(db, owner) == 0
    assert forget_user(db, user, owner).epoch == 1
