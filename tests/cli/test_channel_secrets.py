"""`rag channel add` takes its secrets from the environment or a hidden prompt, so they need not be command-line
arguments (readable by every local user in /proc/PID/cmdline while the command runs, and kept in shell history)."""
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET = "dt-secret-from-env-9Xq2"
TOKEN = "wecom-token-typed-7Hk4"
AES_KEY = base64.b64encode(bytes(range(32, 64))).decode().rstrip("=")


def rag(home, *args, stdin: str | None = None, **env_vars):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_DINGTALK_", "RAG_WECOM_"))}
    env.update({"RAG_HOME": str(home), "HF_HUB_OFFLINE": "1", **env_vars})
    return subprocess.run([sys.executable, "-m", "cli", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          input=stdin if stdin is not None else "", timeout=300)


def test_channel_secrets_from_the_environment_or_a_hidden_prompt(tmp_path):
    home = tmp_path / "home"
    assert rag(home, "kb", "create", "bank", "--embed-model", "minilm").returncode == 0
    r = rag(home, "channel", "add", "dingtalk", "--kb", "bank", RAG_DINGTALK_APP_SECRET=SECRET)
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout and json.loads(r.stdout)["settings"]["app_secret"] == "…" + SECRET[-4:]
    # typed at the prompt (hidden: not echoed), the AES key from the environment
    r = rag(home, "channel", "add", "wecom", "--kb", "bank", "--corp-id", "ww0123", stdin=TOKEN + "\n",
            RAG_WECOM_AES_KEY=AES_KEY)
    assert r.returncode == 0, r.stderr
    assert TOKEN not in r.stdout + r.stderr and json.loads(r.stdout[r.stdout.index("{"):])["settings"]["token"] == \
        "…" + TOKEN[-4:]
    # neither given nor typed: refused, nothing stored
    r = rag(home, "channel", "remove", "dingtalk", "--kb", "bank")
    assert r.returncode == 0, r.stderr
    r = rag(home, "channel", "add", "dingtalk", "--kb", "bank")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "no AppSecret given: set RAG_DINGTALK_APP_SECRET" in r.stderr, r.stderr  # was "Aborted." alone
    r = rag(home, "channel", "add", "wecom", "--kb", "bank", "--corp-id", "ww0123", stdin=TOKEN + "\n")
    assert r.returncode == 1 and "no EncodingAESKey given: set RAG_WECOM_AES_KEY" in r.stderr, r.stderr
    listed = json.loads(rag(home, "channel", "list", "--json").stdout)
    assert [c["platform"] for c in listed] == ["wecom"]
