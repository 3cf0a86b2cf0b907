"""Forgetting a user on both state backends, SQLite and a real PostgreSQL: what was started for them before
the forget is not written after it (recorded answers, chat turns; api.state.forgotten), a forget waits for a
write in progress and then deletes it, and audit records written before pseudonyms lose the plain id while
`rag audit verify` still tells a redaction from tampering (api.audit.redact)."""
from __future__ import annotations

import json
import threading
import time

import pytest

from api.audit.pseudonym import Pseudonyms
from api.audit.record import AuditEntry
from api.audit.redact import redact_plain_user_ids
from api.audit.trail import AuditQuery, AuditTrail
from api.channels.store import ChannelStore
from api.feedback import FeedbackStore, Recorded
from api.state import forgotten
from api.state.factory import open_database
from api.state.forget_user import forget_user
from cli.testing.postgres_server import PostgresServer

USERS = {"zh": ("张三", "探视时间是几点？"), "en": ("li.lei@example.com", "What are the visiting hours?")}


@pytest.fixture(scope="module")
def postgres():
    with PostgresServer() as pg:
        yield pg


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        d = open_database(None, tmp_path)
    else:
        d = open_database(request.getfixturevalue("postgres").url, tmp_path)
        with d.tx() as t:  # a clean slate per test on the shared server
            for table in ("feedback", "answers", "channel_history", "audit", "forgotten_users"):
                t.execute(f"DELETE FROM {table}")
    yield d
    d.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_answer_or_chat_turn_of_a_question_asked_before_the_forget_is_not_written_after_it(db, lang):
    user, question = USERS[lang]
    owner = Pseudonyms(db).of(user)
    asked_at = forgotten.epoch_of(db, owner)
    assert asked_at == 0
    assert forget_user(db, user, owner).epoch == 1

    fb, ch = FeedbackStore(db), ChannelStore(db)
    late = Recorded("hosp", question, "key1", user, owner=owner, epoch=asked_at)
    assert fb.record("late", late, {"answer": "2 to 8 pm."}) is False
    assert ch.remember(f"dingtalk:hosp:{user}", question, "2 to 8 pm.", user, owner=owner, epoch=asked_at) is False
    assert db.query("SELECT id FROM answers") == [] and db.query("SELECT conversation FROM channel_history") == []

    # asked after the forget: theirs again, written as ever; another user's never waited on it
    again = Recorded("hosp", question, "key1", user, owner=owner, epoch=forgotten.epoch_of(db, owner))
    assert fb.record("new", again, {"answer": "2 to 8 pm."}) is True
    other = Pseudonyms(db).of("someone-else")
    assert fb.record("other", Recorded("hosp", question, "key1", "someone-else", owner=other, epoch=0),
                     {"answer": "2 to 8 pm."}) is True
    assert sorted(r["id"] for r in db.query("SELECT id FROM answers")) == ["new", "other"]


def test_a_forget_waits_for_a_write_in_progress_and_then_deletes_what_it_wrote(db):
    user, question = USERS["zh"]
    owner = Pseudonyms(db).of(user)
    epoch = forgotten.epoch_of(db, owner)
    inside, finish = threading.Event(), threading.Event()

    def write():   # what FeedbackStore.record does, held open between its check and its commit
        with db.tx() as t:
            assert forgotten.still(t, db, owner, epoch)
            t.execute("INSERT INTO answers(id, kb, user_id, question, answer, created_at) VALUES (?,?,?,?,?,?)",
                      ("a1", "hosp", user, question, "2 to 8 pm.", "2026-12-07T00:00:00+00:00"))
            inside.set()
            finish.wait(20)

    writer = threading.Thread(target=write)
    writer.start()
    assert inside.wait(20)
    gone: list = []
    forgetting = threading.Thread(target=lambda: gone.append(forget_user(db, user, owner)))
    forgetting.start()
    time.sleep(0.5)
    assert forgetting.is_alive()       # waits for the write ...
    finish.set()
    writer.join(20)
    forgetting.join(20)
    assert gone and gone[0].answers == 1 and db.query("SELECT id FROM answers") == []   # ... then deletes it


def _legacy(db, action: str, target: str, outcome: str = "ok", **kw) -> int:
    """A record as written before pseudonyms: the plain id as its target."""
    trail = AuditTrail(db)
    with db.tx() as t:
        trail.lock(t)
        trail.append_in(t, AuditEntry(action=action, actor="admin", target=target, outcome=outcome, **kw))
    return int(db.one("SELECT MAX(id) AS n FROM audit")["n"])


def test_forgetting_a_user_redacts_the_plain_ids_of_records_written_before_pseudonyms(db):
    ids = {"phone": "13812345678", "zh": "张三", "mail": "li.lei@example.com"}
    _legacy(db, "kb.create", "", kb="hosp")
    phone = _legacy(db, "user.forget", ids["phone"], detail={"answers": 2, "feedback": 0, "conversations": 1})
    refused = _legacy(db, "user.forget", ids["zh"], outcome="refused", status=403)   # a KB admin tried
    mail = _legacy(db, "user.forget", ids["mail"])
    key = _legacy(db, "key.revoke", "k_5f3a9c0d")                                   # not an end user: left
    trail = AuditTrail(db)
    trail.append(AuditEntry(action="user.forget", actor="admin", target="王五"))       # pseudonym already
    assert trail.verify().ok

    forget_user(db, ids["zh"], Pseudonyms(db).of(ids["zh"]))
    done = redact_plain_user_ids(db, "cli:test")
    assert (done.records, done.broken_before) == (3, 0)

    everything = json.dumps([dict(r) for r in db.query("SELECT * FROM audit")], ensure_ascii=False)
    assert not any(v in everything for v in ids.values()) and "k_5f3a9c0d" in everything
    rows = {r.id: r for r in trail.list(AuditQuery(limit=100))[0]}
    assert [rows[i].target for i in (phone, refused, mail)] == [Pseudonyms(db).of(ids[k]) for k in ("phone", "zh",
                                                                                                    "mail")]
    assert rows[done.record_id].action == "audit.redact" and rows[done.record_id].actor == "cli:test"
    assert [r.id for r in trail.list(AuditQuery(target=Pseudonyms(db).of(ids["mail"])))[0]] == [mail]
    rep = trail.verify()
    assert rep.ok and rep.redacted == 3, rep.broken
    assert redact_plain_user_ids(db, "cli:test").records == 0        # nothing left to redact

    # a redacted record changed afterwards is tampering, as any other
    db.execute("UPDATE audit SET outcome = 'ok' WHERE id = ?", (refused,))
    assert [rid for rid, _ in trail.verify().broken] == [refused]
    db.execute("UPDATE audit SET outcome = 'refused' WHERE id = ?", (refused,))
    # so is a redaction record changed to vouch for other content
    detail = json.loads(db.one("SELECT detail FROM audit WHERE id = ?", (done.record_id,))["detail"])
    detail["redacted"][str(key)] = "0" * 64
    db.execute("UPDATE audit SET detail = ? WHERE id = ?", (json.dumps(detail), done.record_id))
    assert done.record_id in [rid for rid, _ in trail.verify().broken]


def test_a_record_changed_before_its_redaction_is_still_reported(db):
    tampered = _legacy(db, "user.forget", "13812345678", detail={"answers": 1})
    db.execute("UPDATE audit SET detail = ? WHERE id = ?", ('{"answers":0}', tampered))
    done = redact_plain_user_ids(db, "cli:test")
    assert (done.records, done.broken_before) == (1, 1)
    assert "13812345678" not in json.dumps([dict(r) for r in db.query("SELECT * FROM audit")])
    rep = AuditTrail(db).verify()
    assert [rid for rid, _ in rep.broken] == [tampered] and rep.redacted == 0


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_forgotten_users_questions_are_nowhere_in_the_sqlite_files_while_the_database_stays_open(tmp_path, lang):
    """A running service keeps its connection open: the deleted rows must not stay in service.sqlite (their
    old pages, until SQLite checkpoints on its own) nor in its WAL."""
    user, question = USERS[lang]
    secret = "ZX99887766"   # a record number in each of their questions
    db = open_database(None, tmp_path)
    try:
        fb = FeedbackStore(db)
        for i in range(30):
            fb.record(f"a{i}", Recorded("hosp", f"{question} {secret}{i:02d}" * 3, "key1", user), {"answer": "ok"})
            fb.record(f"b{i}", Recorded("hosp", f"Where do visitors park? {i}" * 3, "key1", "li"), {"answer": "B"})
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")   # their rows in the file, as after SQLite's own checkpoints
        assert forget_user(db, user, Pseudonyms(db).of(user)).answers == 30
        files = {f.name: f.read_bytes() for f in tmp_path.iterdir() if f.name.startswith("service.sqlite")}
        assert files and not [name for name, data in files.items() if secret.encode() in data]
        assert len(db.query("SELECT id FROM answers")) == 30                     # the other user's stay
    finally:
        db.close()
