"""An interrupted `rag kb delete` (kill -9 between the rename and the removal) leaves a hidden
`.NAME....deleting` folder: the CLI's KB commands remove it, saying so in one line, also while another
process removes the same folder; and a KB can be deleted again while an older leftover of its name is there."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer import kb_trash
from indexer.config import IndexerSettings
from indexer.kbs import KBManager
from indexer.store.local.snapshot import IndexParams
from indexer.store.local.store import LocalStore
from indexer.store.testing import DIM, put

ROOT = Path(__file__).resolve().parents[2]

KILLED_DELETE = """
import os, signal, sys
from pathlib import Path
from indexer import kb_trash
from indexer.config import IndexerSettings
from indexer.kbs import KBManager

kb_trash.shutil.rmtree = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)  # killed after the rename
KBManager(IndexerSettings(home=sys.argv[1])).delete(sys.argv[2])
"""

SWEEPER = """
import json, sys, time
from pathlib import Path
from indexer import kb_trash

go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
s = kb_trash.sweep(Path(sys.argv[1]))
print(json.dumps({"removed": s.removed, "failed": s.failed}))
"""


def _kb(home: Path, name: str, texts: list[str]) -> None:
    s = LocalStore(home / name, IndexParams(dim=DIM), writable=True, embed_model="test-vectors")
    put(s, "d1", texts, seed=1)
    s.commit()
    s.close()


def _rag(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_HOME": str(home), "HF_HUB_OFFLINE": "1"})
    return subprocess.run([sys.executable, "-m", "cli", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def _leftovers(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir() if p.name.endswith(".deleting"))


def test_a_killed_kb_delete_is_swept_by_the_next_kb_command(tmp_path):
    home = tmp_path / "home"
    _kb(home, "loans", ["loan policy and early repayment", "提前还款违约金"])
    _kb(home, "cards", ["card replacement fees", "信用卡挂失流程"])
    p = subprocess.run([sys.executable, "-c", KILLED_DELETE, str(home), "loans"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == -9, p.stderr
    [left] = _leftovers(home)
    assert left.startswith(".loans.") and (home / left / "kb.sqlite").exists()
    assert KBManager(IndexerSettings(home=str(home))).names() == ["cards"]  # gone at once, not a KB

    listed = _rag(home, "kb", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == ["cards"]  # stdout stays JSON
    said = [line for line in listed.stderr.splitlines() if "interrupted" in line]
    assert len(said) == 1 and left in said[0] and "removed" in said[0], listed.stderr
    assert _leftovers(home) == []
    again = _rag(home, "kb", "list")
    assert again.returncode == 0 and "interrupted" not in again.stderr and "cards" in again.stdout

    # a leftover under the name a KB delete renamed to before (no random part): `rag kb delete` sweeps it too
    (home / ".cards.deleting").mkdir()
    (home / ".cards.deleting" / "kb.sqlite").write_bytes(b"half deleted")
    deleted = _rag(home, "kb", "delete", "cards")
    assert deleted.returncode == 0, deleted.stderr
    assert ".cards.deleting" in deleted.stderr and _leftovers(home) == [] and not (home / "cards").exists()


def test_a_kb_is_deleted_while_an_older_leftover_of_its_name_is_there(tmp_path):
    """A rename onto a non-empty folder fails: deleting a re-created KB failed with 'Directory not empty'
    while its name's earlier interrupted delete was still there (the service had not restarted since)."""
    home = tmp_path / "home"
    _kb(home, "faq", ["opening hours", "营业时间"])
    (home / ".faq.deleting").mkdir()
    (home / ".faq.deleting" / "kb.sqlite").write_bytes(b"half deleted")
    mgr = KBManager(IndexerSettings(home=str(home)))
    mgr.delete("faq")
    assert mgr.names() == [] and _leftovers(home) == [".faq.deleting"]
    assert mgr.sweep_deleted().removed == [".faq.deleting"] and _leftovers(home) == []
    assert mgr.sweep_deleted().message() == ""


@pytest.mark.slow
def test_two_processes_sweeping_the_same_leftover_at_once(tmp_path):
    """The folder ends gone, neither process fails or reports it could not remove it, and it is reported
    removed by a process that removed (part of) it."""
    home = tmp_path / "home"
    for round_ in range(3):
        big = home / f".kb{round_}.1a2b3c4d.deleting"
        for d in range(30):
            (big / f"d{d}" / "sub").mkdir(parents=True)
            for f in range(60):
                (big / f"d{d}" / "sub" / f"{f}.bin").write_bytes(b"x" * 64)
        go = tmp_path / f"go{round_}"
        child = subprocess.Popen([sys.executable, "-c", SWEEPER, str(home), str(go)], cwd=ROOT,
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(1.5)  # the child has imported and waits for `go`
        go.touch()
        mine = kb_trash.sweep(home)
        out, _ = child.communicate(timeout=60)
        theirs = json.loads(out)
        assert child.returncode == 0 and not big.exists()
        assert mine.failed == [] and theirs["failed"] == []
        assert big.name in mine.removed + theirs["removed"]
