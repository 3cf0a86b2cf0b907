"""A KB's service state in its archive (api.archive_state) on both state backends, SQLite and a real PostgreSQL:
keys travel as their hashes (the key itself never), channel secrets only when asked and else named as left out,
promoted settings; restoring refuses to overwrite different state unless asked, never takes another KB's key, and
never revives a key revoked here."""
from __future__ import annotations

import json

import pytest

from api.archive_state import StateConflict, StateError, check, collect, parse, restore, to_bytes
from api.auth import KeyStore
from api.channels.store import ChannelStore
from api.experiments import ExperimentStore, make_experiment
from tests.api.state_dbs import BACKENDS, postgres, state_db  # noqa: F401  (postgres: the module's server)

SECRET = "dt-app-secret-钉钉-0001"
TOP_K = {"answer": {"top_k": 2}}


TABLES = ("keys", "channels", "kb_settings", "experiments", "kb_settings_history")


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    yield from state_db(request, tmp_path, TABLES)


def _new_server(db) -> None:
    """The database as a server that never held the KB has it (the archive moves the state to such a one)."""
    with db.tx() as t:
        for table in TABLES:
            t.execute(f"DELETE FROM {table}")


def _bank(db) -> str:
    """KB 'bank' with a read key, a DingTalk channel and promoted settings; returns the key."""
    key, _ = KeyStore(db, None).create("bank", "read", "柜员 teller")
    ChannelStore(db).put("bank", "dingtalk", {"app_secret": SECRET, "wait_s": 3})
    db.execute("INSERT INTO kb_settings(kb, overrides, version, updated_at, updated_by) VALUES (?,?,?,?,?)",
               ("bank", json.dumps(TOP_K), 1, "2026-12-07T10:00:00+00:00", "test"))
    return key


def test_keys_travel_as_hashes_and_secrets_only_when_asked(db):
    src = db
    key = _bank(src)
    carried = to_bytes(collect(src, "bank", with_secrets=False))
    # never the key itself, nor its secret part (rag_<id>_<secret>: the secret may hold "_" itself)
    assert key.encode() not in carried and key.split("_", 2)[2].encode() not in carried
    assert SECRET.encode() not in carried and "钉钉".encode() not in carried
    st = parse(carried)
    assert [(k.scope, k.label) for k in st.keys] == [("read", "柜员 teller")]
    assert [(c.platform, dict(c.settings), c.left_out) for c in st.channels] == [("dingtalk", {"wait_s": 3.0},
                                                                                    ["app_secret"])]
    assert st.settings == TOP_K
    whole = parse(to_bytes(collect(src, "bank", with_secrets=True)))
    assert whole.channels[0].settings["app_secret"] == SECRET and whole.channels[0].left_out == []


def test_restored_state_lets_the_kbs_key_in_and_names_the_secrets_to_re_enter(db):
    key = _bank(db)
    st = parse(to_bytes(collect(db, "bank", with_secrets=False)))
    _new_server(db)
    assert KeyStore(db, None).authenticate(key) is None
    done = restore(db, "bank", st, replace=False)
    assert KeyStore(db, None).authenticate(key).kb == "bank"  # the holder's key works on the new server
    assert (done.keys, done.channels, done.secrets_needed, done.settings) == (1, [], {"dingtalk": ["app_secret"]},
                                                                            TOP_K)
    assert any("rag channel add dingtalk --kb bank" in line for line in done.lines("bank"))
    assert restore(db, "bank", st, replace=False).keys == 1  # again: the same state, nothing to refuse


def test_different_state_is_refused_unless_replaced_and_another_kbs_key_never_moves(db):
    src = db
    _bank(src)
    st = parse(to_bytes(collect(src, "bank", with_secrets=True)))
    with pytest.raises(StateConflict, match="never moved from another KB"):
        check(src, "bank-copy", st, replace=True)  # bank's own key, under another name: even with replace
    other, _ = KeyStore(src, None).create("bank", "write", "another")
    with pytest.raises(StateConflict, match=r"key .*; import with --replace \(\?replace=true\)"):
        check(src, "bank", st, replace=False)  # a key here the archive lacks
    src.execute("UPDATE kb_settings SET overrides = ? WHERE kb = ?", (json.dumps({"answer": {"top_k": 5}}), "bank"))
    with pytest.raises(StateConflict, match="the promoted settings"):
        check(src, "bank", st, replace=False)
    done = restore(src, "bank", st, replace=True)
    assert KeyStore(src, None).authenticate(other) is None  # replaced: the KB's keys are the archive's
    assert (done.channels, done.settings) == (["dingtalk"], TOP_K)
    assert ChannelStore(src).get("bank", "dingtalk")["app_secret"] == SECRET


def test_a_key_revoked_here_is_not_revived(db):
    src = db
    key = _bank(src)
    st = parse(to_bytes(collect(src, "bank", with_secrets=False)))
    KeyStore(src, None).revoke_kb("bank")
    done = restore(src, "bank", st, replace=False)
    assert done.revoked_here == [st.keys[0].id] and KeyStore(src, None).authenticate(key) is None


@pytest.mark.parametrize("hostile", [
    {"keys": [{"id": "x", "hash": "not-a-hash", "scope": "read", "created_at": ""}]},
    {"keys": [{"id": "x", "hash": "0" * 64, "scope": "root", "created_at": ""}]},
    {"channels": [{"platform": "dingtalk", "settings": {"webhook": "http://evil"}}]},
    {"settings": {"generation": {"no_such_field": 1}}},
    {"experiments": [{"name": "ab", "status": "active", "created_at": "", "arms": [
        {"name": "a", "share": 0.5}, {"name": "b", "share": 0.5, "overrides": {"answer": {"no_such_field": 1}}}]}]},
    {"experiments": [{"name": "../x", "status": "active", "created_at": "", "arms": [
        {"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]}]},
    {"settings_history": [{"action": "drop", "overrides": {}, "previous": {}, "at": ""}]},
    {"format": "something-else"}])
def test_an_invalid_state_is_refused_saying_what_is_wrong(hostile):
    data = {"format": "harbor-rag-kb-state", "version": 1, **hostile}
    with pytest.raises(StateError, match="without-state"):
        parse(json.dumps(data).encode())


ARMS = [{"name": "control", "share": 1}, {"name": "top2", "share": 1, "overrides": TOP_K}]


def _experiments(db) -> None:
    """bank: experiment 'bank-ab' promoted (its top2 arm), then 'bank-next' running; clinic: one of its own."""
    exps = ExperimentStore(db)
    exps.create(make_experiment("bank-ab", "bank", ARMS), "admin")
    exps.promote("bank-ab", "top2", "admin")
    exps.create(make_experiment("bank-next", "bank", ARMS), "admin")
    exps.create(make_experiment("clinic-ab", "clinic", ARMS), "admin")


def _as_carried(db, kb: str) -> tuple:
    exps = ExperimentStore(db)
    return ([(e.name, e.status, e.winner, [a.to_dict() for a in e.arms]) for e in exps.list(kb)],
            [(h["action"], h["overrides"], h["previous"], h["experiment"], h["arm"]) for h in exps.history(kb)],
            exps.kb_settings(kb)[1])


def test_the_kbs_experiments_and_settings_history_travel_with_its_state(db):
    _experiments(db)
    before = _as_carried(db, "bank")
    st = parse(to_bytes(collect(db, "bank", with_secrets=False)))
    assert [e.name for e in st.experiments] == ["bank-ab", "bank-next"] and len(st.settings_history) == 1
    _new_server(db)
    done = restore(db, "bank", st, replace=False)
    assert (done.experiments, done.experiments_taken, done.settings_history) == (["bank-ab", "bank-next"], [], 1)
    assert _as_carried(db, "bank") == before and ExperimentStore(db).list("clinic") == []
    assert ExperimentStore(db).active("bank").name == "bank-next"
    assert ExperimentStore(db).rollback("bank", "admin")["restored"] == {}  # the history works here: rolled back
    assert any("restored experiments bank-ab, bank-next" in line for line in done.lines("bank"))


def test_experiments_named_as_another_kbs_here_stay_its_and_a_different_one_is_a_conflict(db):
    _experiments(db)
    st = parse(to_bytes(collect(db, "bank", with_secrets=False)))
    done = restore(db, "bank-copy", st, replace=False)  # beside itself: the names are bank's
    assert done.experiments_taken == ["bank-ab", "bank-next"] and done.experiments == []
    assert [e.name for e in ExperimentStore(db).list("bank")] == ["bank-ab", "bank-next"]
    assert len(ExperimentStore(db).history("bank-copy")) == 1
    assert any("not restored: experiments bank-ab, bank-next" in line for line in done.lines("bank-copy"))
    ExperimentStore(db).stop("bank-next")
    ExperimentStore(db).create(make_experiment("bank-other", "bank", ARMS), "admin")
    with pytest.raises(StateConflict, match="experiment bank-next, active experiment bank-other"):
        check(db, "bank", st, replace=False)
    restore(db, "bank", st, replace=True)
    assert ExperimentStore(db).active("bank").name == "bank-next"  # the archive's, the other one stopped
    assert ExperimentStore(db).get("bank-other").status == "stopped"
