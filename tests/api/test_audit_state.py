"""The audit trail's chain, retention and the right to deletion on a real state database (SQLite), through
the `rag` command as an operator runs it: a changed or removed record is found by `rag audit verify`;
`rag state purge` deletes answers, votes and conversations older than retention_days (times set in the
past through the database) and records the counts; `rag forget-user` deletes one user's questions,
answers, votes and conversations and records the counts without the content; state-changing commands
are recorded as 'cli:<OS user>'."""
from __future__ import annotations

import getpass
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from api.audit.pseudonym import Pseudonyms
from api.audit.purge import RetentionLoop
from api.audit.record import AuditEntry
from api.audit.trail import AuditQuery, AuditTrail
from api.channels.store import ChannelStore
from api.feedback import FeedbackStore, Recorded
from api.state.factory import open_database
from api.state.forget_user import forget_user
from cli.testing import ROOT


def rag(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    import os

    full = {**os.environ, "RAG_HOME": str(home), "RAG_EMBED_MODEL": "minilm", "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", **env}
    full.pop("RAG_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    open_database(None, h).close()  # the service has run here: its state database exists
    return h


def answer(db, answer_id: str, kb: str, user: str, question: str, vote: str | None = None, days_old: int = 0):
    fb = FeedbackStore(db)
    fb.record(answer_id, Recorded(kb, question, "key1", user), {"answer": "按规定办理。", "citations": []})
    if vote:
        fb.rate(answer_id, vote, "", "", "key1")
    if days_old:
        old = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - days_old * 86400))
        db.execute("UPDATE answers SET created_at = ? WHERE id = ?", (old, answer_id))


def counts(db) -> dict[str, int]:
    return {t: db.one(f"SELECT count(*) AS n FROM {t}")["n"] for t in ("answers", "feedback", "channel_history")}


def test_a_changed_or_removed_record_is_found_by_rag_audit_verify(home):
    db = open_database(None, home)
    trail = AuditTrail(db)
    for i, action in enumerate(["kb.create", "key.create", "documents.upload", "key.revoke", "kb.delete"]):
        trail.append(AuditEntry(action=action, actor="admin", kb="bank", target=f"t{i}", detail={"文件": ["卡.txt"]}))
    db.close()
    ok = rag(home, "audit", "verify")
    assert ok.returncode == 0 and "intact: 5 records" in ok.stdout, ok.stdout + ok.stderr

    db = open_database(None, home)
    db.execute("UPDATE audit SET actor = 'someone-else' WHERE id = 2")   # who did it, rewritten
    bad = rag(home, "audit", "verify")
    assert bad.returncode == 1 and "record 2:" in bad.stderr and "TAMPERED" in bad.stderr, bad.stderr
    assert "record 3:" not in bad.stderr  # the next record still follows the stored hash
    db.execute("UPDATE audit SET actor = 'admin' WHERE id = 2")
    assert rag(home, "audit", "verify").returncode == 0
    db.execute("DELETE FROM audit WHERE id = 4")                         # a record removed
    db.close()
    gone = rag(home, "audit", "verify")
    assert gone.returncode == 1 and "record 5: does not follow" in gone.stderr, gone.stderr


def test_rag_audit_lists_with_filters_and_json(home):
    db = open_database(None, home)
    trail = AuditTrail(db)
    trail.append(AuditEntry(action="kb.create", actor="admin", kb="bank", at="2026-01-01T00:00:00+00:00"))
    trail.append(AuditEntry(action="key.create", actor="admin", kb="bank", target="k1"))
    trail.append(AuditEntry(action="kb.create", actor="admin", kb="医院"))
    db.close()
    out = rag(home, "audit", "--kb", "bank", "--since", "2026-06-01", "--json")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["action"] for r in rows] == ["key.create"], out.stdout + out.stderr
    text = rag(home, "audit", "--action", "kb.").stdout
    assert "bank" in text and "医院" in text and "key.create" not in text
    bad = rag(home, "audit", "--since", "last tuesday")
    assert bad.returncode == 1 and "--since must be an ISO 8601 date" in bad.stderr
    huge = rag(home, "audit", "--limit", str(10**30))  # was an OverflowError traceback from SQLite
    assert huge.returncode == 2 and "--limit" in huge.stderr and "Traceback" not in huge.stderr


def test_rag_state_purge_deletes_what_is_older_than_retention_days_and_records_the_counts(home):
    db = open_database(None, home)
    answer(db, "a-old-en", "bank", "u1", "How do I report a lost card?", vote="up", days_old=40)
    answer(db, "a-old-zh", "bank", "u2", "信用卡丢了怎么挂失？", days_old=31)
    answer(db, "a-new", "bank", "u1", "营业时间？", vote="down", days_old=5)
    ch = ChannelStore(db)
    ch.remember("dingtalk:bank:cid-old", "挂失？", "拨打客服电话。")
    ch.remember("dingtalk:bank:cid-new", "营业时间？", "9点到5点。")
    db.execute("UPDATE channel_history SET updated_at = ? WHERE conversation = ?",
               (int(time.time()) - 35 * 86400, "dingtalk:bank:cid-old"))
    db.close()

    p = rag(home, "state", "purge", RAG_RETENTION_DAYS="30")
    assert p.returncode == 0, p.stderr
    assert "deleted 2 answers, 1 votes and 1 conversations older than 30 days" in p.stdout, p.stdout
    db = open_database(None, home)
    try:
        assert [r["id"] for r in db.query("SELECT id FROM answers")] == ["a-new"]
        assert counts(db) == {"answers": 1, "feedback": 1, "channel_history": 1}
        rec = AuditTrail(db).list(AuditQuery(action="state.purge"))[0][-1]
        assert rec.actor == f"cli:{getpass.getuser()}" and rec.outcome == "ok"
        # as every command's record: from this host, with a request id of its own
        assert rec.actor_role == "cli" and rec.client == socket.gethostname() and len(rec.request_id) == 16, rec
        assert rec.detail == {"answers": 2, "feedback": 1, "conversations": 1, "retention_days": 30}
    finally:
        db.close()
    assert "retention_days is 0" in rag(home, "state", "purge", RAG_RETENTION_DAYS="0").stdout


def test_the_services_hourly_purge_runs_and_is_audited(home):
    db = open_database(None, home)
    try:
        answer(db, "old", "bank", "u1", "When is the branch open?", days_old=200)
        answer(db, "new", "bank", "u1", "When is the branch open?")
        loop = RetentionLoop(db, 180, every_s=3600)
        loop.start()
        deadline = time.monotonic() + 10
        while db.one("SELECT count(*) AS n FROM answers")["n"] != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        loop.stop()
        assert [r["id"] for r in db.query("SELECT id FROM answers")] == ["new"]
        recs, _ = AuditTrail(db).list(AuditQuery(action="state.purge"))
        assert [(r.actor, r.detail["answers"]) for r in recs] == [("service", 1)]
    finally:
        db.close()


def test_rag_forget_user_deletes_their_questions_answers_votes_and_chats(home):
    db = open_database(None, home)
    answer(db, "z1", "hosp", "张三", "我的身份证号11010519491231002X能挂号吗？", vote="down")
    answer(db, "z2", "bank", "张三", "How do I close my account?")
    answer(db, "l1", "hosp", "li.lei", "What are the visiting hours?", vote="up")
    ch = ChannelStore(db)
    ch.remember("wecom:hosp:张三", "门诊几点开？", "8点。")                            # keyed by the user
    ch.remember("dingtalk:hosp:cid-group", "How do I close my account?", "At a branch.")  # a group holding theirs
    ch.remember("dingtalk:hosp:cid-other", "What are the visiting hours?", "2 to 8 pm.")
    db.close()

    p = rag(home, "forget-user", "张三")
    assert p.returncode == 0, p.stderr
    assert "forgot 张三: 2 answers, 1 votes, 2 conversations" in p.stdout, p.stdout
    db = open_database(None, home)
    try:
        assert [r["id"] for r in db.query("SELECT id FROM answers")] == ["l1"]
        assert counts(db) == {"answers": 1, "feedback": 1, "channel_history": 1}
        rec = AuditTrail(db).list(AuditQuery(action="user.forget"))[0][-1]
        assert rec.target == Pseudonyms(db).of("张三") and rec.detail == {"answers": 2, "feedback": 1,
                                                                         "conversations": 2}
        assert "身份证" not in json.dumps(rec.to_dict(), ensure_ascii=False)  # the record holds no content
    finally:
        db.close()
    assert "forgot nobody: 0 answers" in rag(home, "forget-user", "nobody").stdout
    assert rag(home, "forget-user", " ").returncode == 1


@pytest.mark.parametrize("user", ["13812345678", "张三", "li.lei@example.com"])
def test_the_trail_holds_a_forgotten_users_pseudonym_never_their_id_and_still_verifies(home, user):
    """A user's id may be a phone number or an e-mail address: the trail, kept forever, holds a keyed pseudonym
    from the moment a record about them is written; `rag audit --user ID` finds their records; the chain
    verifies; a refused `rag forget-user ""` is recorded as refused."""
    db = open_database(None, home)
    answer(db, "a1", "hosp", user, "What are the visiting hours? 探视时间？")
    db.close()
    assert rag(home, "forget-user", user).returncode == 0
    assert rag(home, "forget-user", user).returncode == 0      # twice: both records about them
    refused = rag(home, "forget-user", "")
    assert refused.returncode == 1 and "give the user's id" in refused.stderr, refused.stderr

    listed = rag(home, "audit", "--json")
    assert listed.returncode == 0, listed.stderr
    assert user not in listed.stdout, listed.stdout
    recs = [json.loads(line) for line in listed.stdout.splitlines()]
    forgets = [r for r in recs if r["action"] == "user.forget"]
    assert [(r["outcome"], r["status"]) for r in forgets] == [("ok", 0), ("ok", 0), ("refused", 1)]
    assert forgets[0]["target"] == forgets[1]["target"] and forgets[0]["target"].startswith("pseudonym:")
    assert forgets[2]["target"] == "" and "give the user's id" in forgets[2]["detail"]["reason"]
    mine = [json.loads(line) for line in rag(home, "audit", "--user", user, "--json").stdout.splitlines()]
    assert [r["id"] for r in mine] == [forgets[0]["id"], forgets[1]["id"]]
    assert rag(home, "audit", "--user", "someone-else", "--json").stdout == ""
    verified = rag(home, "audit", "verify")
    assert verified.returncode == 0 and "audit trail intact" in verified.stdout, verified.stdout + verified.stderr


def test_rag_forget_user_redacts_ids_written_before_pseudonyms_and_verify_counts_them(home):
    """Records written before pseudonyms hold the plain id (a phone number, a Chinese name): the next forget
    replaces them by their pseudonyms, and `rag audit verify` accepts them as redacted, not tampered."""
    db = open_database(None, home)
    trail = AuditTrail(db)
    with db.tx() as t:   # as the versions before pseudonyms wrote them
        trail.lock(t)
        trail.append_in(t, AuditEntry(action="user.forget", actor="admin", target="13812345678"))
        trail.append_in(t, AuditEntry(action="user.forget", actor="admin", target="张三", outcome="refused"))
    db.close()
    p = rag(home, "forget-user", "li.lei@example.com")
    assert p.returncode == 0 and "audit trail: 2 records written before pseudonyms now hold the pseudonym" in p.stdout, \
        p.stdout + p.stderr
    listed = rag(home, "audit", "--json").stdout
    assert "13812345678" not in listed and "张三" not in listed and "audit.redact" in listed
    verified = rag(home, "audit", "verify")
    assert verified.returncode == 0 and "audit trail intact: 4 records (2 redacted" in verified.stdout, \
        verified.stdout + verified.stderr


def test_forgetting_a_user_keeps_the_other_members_turns_of_a_group_chat(home):
    db = open_database(None, home)
    try:
        ch = ChannelStore(db)
        group = "dingtalk:hosp:cid-ward"
        ch.remember(group, "如何挂失？", "拨打客服电话。", user="张三")
        ch.remember(group, "如何挂失？", "拨打客服电话。", user="李四")      # the same words, another member
        ch.remember(group, "What are the visiting hours?", "2 to 8 pm.", user="张三")
        ch.remember(group, "门诊几点开？", "8点。", user="李四")
        ch.remember("dingtalk:hosp:cid-old", "如何挂失？", "拨打客服电话。")   # recorded before turns named who asked
        answer(db, "z1", "hosp", "张三", "如何挂失？")
        assert forget_user(db, "张三", Pseudonyms(db).of("张三")).conversations == 2
        assert ch.history(group) == [{"role": "user", "content": "如何挂失？"}, {"role": "assistant", "content": "拨打客服电话。"},
                                     {"role": "user", "content": "门诊几点开？"}, {"role": "assistant", "content": "8点。"}]
        assert ch.history("dingtalk:hosp:cid-old") == []  # its only turn repeats their recorded question
    finally:
        db.close()


def test_stored_questions_are_masked_when_asked_to(home):
    db = open_database(None, home)
    try:
        FeedbackStore(db, mask_questions=True).record("m1", Recorded("bank", "卡号6222021234567890128被冻结了"),
                                                      {"answer": "请致电客服。"})
        FeedbackStore(db).record("m2", Recorded("bank", "card 4111111111111111 frozen"), {"answer": "Call us."})
        stored = {r["id"]: r["question"] for r in db.query("SELECT id, question FROM answers")}
        assert stored == {"m1": "卡号***************0128被冻结了", "m2": "card 4111111111111111 frozen"}
    finally:
        db.close()


@pytest.mark.slow  # ~20 s: three `rag` processes load the embedding model
def test_state_changing_commands_are_recorded_as_the_os_user(home, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cards.txt").write_text("A lost card is frozen at once in the app.", encoding="utf-8")
    (docs / "挂失.txt").write_text("银行卡丢失后请立即在手机银行冻结。", encoding="utf-8")
    assert rag(home, "kb", "create", "bank", "--embed-model", "minilm").returncode == 0
    assert rag(home, "index", str(docs), "--kb", "bank", "-q", "--no-calibrate").returncode == 0
    assert rag(home, "kb", "delete", "nosuch").returncode == 1
    assert rag(home, "kb", "delete", "bank").returncode == 0
    db = open_database(None, home)
    try:
        recs, total = AuditTrail(db).list(AuditQuery(kb="bank"))
    finally:
        db.close()
    me = f"cli:{getpass.getuser()}"
    assert [(r.action, r.actor, r.outcome) for r in recs] == [
        ("kb.create", me, "ok"), ("documents.index", me, "ok"), ("kb.delete", me, "ok")], recs
    assert recs[1].detail["paths"] == [str(docs)]
    assert rag(home, "audit", "--action", "kb.delete", "--json").stdout.count('"outcome": "failed"') == 1
    assert rag(home, "audit", "verify").returncode == 0
