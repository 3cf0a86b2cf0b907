"""`rag kb export --with-state [--with-secrets]` and `rag kb import` of such an archive (real subprocesses, the
real state database): an admin moving a KB to a new server gets its API keys (the holders' keys work there),
its promoted settings and its channel, whose secret travels only with --with-secrets and is otherwise named
with the command to re-enter it."""
import json

import pytest

from api.auth import KeyStore
from api.channels.store import ChannelStore
from api.state.factory import open_database
from tests.cli.test_cli import ROOT, rag

SECRET = "dt-app-secret-钉钉-0003"


@pytest.mark.slow  # ~40 s: a model load per command
def test_a_kb_moves_to_a_new_server_with_its_state(tmp_path):
    old, new, env = tmp_path / "old", tmp_path / "new", {"RAG_EMBED_MODEL": "minilm"}
    rag(old, "index", str(ROOT / "data/sample/zh/card_loss_reporting.txt"), "--kb", "bank", "-q", **env)
    db = open_database(None, old)
    key, _ = KeyStore(db, None).create("bank", "write", "柜员")
    ChannelStore(db).put("bank", "dingtalk", {"app_secret": SECRET, "wait_s": 3})
    db.execute("INSERT INTO kb_settings(kb, overrides, version, updated_at, updated_by) VALUES (?,?,?,?,?)",
               ("bank", json.dumps({"answer": {"top_k": 2}}), 1, "2026-12-07T10:00:00+00:00", "test"))
    db.close()
    assert "--with-secrets goes with --with-state" in rag(old, "kb", "export", "bank", str(tmp_path / "x.zip"),
                                                          "--with-secrets", ok=False).stderr
    plain = tmp_path / "bank.zip"
    p = rag(old, "kb", "export", "bank", str(plain), "--with-state")
    assert "1 API keys (as hashes), channels dingtalk (left out, to re-enter after import: dingtalk app_secret" in p.stdout
    assert SECRET.encode() not in plain.read_bytes() and key.encode() not in plain.read_bytes()

    p = rag(new, "kb", "import", str(plain))
    assert "imported 'bank'" in p.stdout and "1 API keys" in p.stdout and '{"answer": {"top_k": 2}}' in p.stdout
    assert "connect it again with `rag channel add dingtalk --kb bank`" in p.stdout
    db = open_database(None, new)
    assert KeyStore(db, None).authenticate(key).kb == "bank" and ChannelStore(db).get("bank", "dingtalk") is None
    db.close()

    refused = rag(old, "kb", "import", str(plain), "--as", "copy", ok=False)  # bank's key stays bank's
    assert "never moved from another KB" in refused.stderr and "--without-state" in refused.stderr
    assert "imported 'copy'" in rag(old, "kb", "import", str(plain), "--as", "copy", "--without-state").stdout

    whole = tmp_path / "bank-secrets.zip"
    rag(old, "kb", "export", "bank", str(whole), "--with-state", "--with-secrets")
    assert "channels dingtalk" in rag(new, "kb", "import", str(whole), "--replace").stdout
    db = open_database(None, new)
    assert ChannelStore(db).get("bank", "dingtalk")["app_secret"] == SECRET
    db.close()
