"""kill -9 in the middle of a Milvus store write: every document stays at its old or its new state, for
readers at once and after the next writer has cleaned up. A child process writes to a real Milvus Lite
file and SIGKILLs itself just before its n-th write request (insert, upsert or delete) reaches Milvus,
for every n of one update, one new document and one delete."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from indexer.store.local.snapshot import IndexParams  # noqa: E402
from indexer.store.milvus.store import MilvusStore  # noqa: E402
from indexer.store.testing import DIM, put, vec  # noqa: E402
from indexer.tokenize import tokenize  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OLD = ["wire transfer fees are 25 dollars", "电汇手续费为每笔二十五元"]
NEW = ["wire transfer fees are now 30 dollars", "电汇手续费调整为每笔三十元", "card replacement is free"]
OTHER = ["branch opening hours", "周六营业时间"]

CHILD = """
import os, signal, sys
from indexer.store.local.snapshot import IndexParams
from indexer.store.milvus.store import MilvusStore
from indexer.store.testing import DIM, put

db, scenario, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
old, new, other = (sys.argv[4].split("|"), sys.argv[5].split("|"), sys.argv[6].split("|"))
s = MilvusStore(db, "kb", IndexParams(dim=DIM), writable=True, embed_model="test-vectors")
put(s, "b", other, seed=50)
if scenario != "new":
    put(s, "a", old, seed=1)
s.commit()
writes = []

def killing(name):
    real = getattr(s.client, name)
    def call(*args, **kwargs):
        writes.append(name)
        if len(writes) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # as kill -9: nothing after this point runs
        return real(*args, **kwargs)
    return call

for name in ("insert", "upsert", "delete"):
    setattr(s.client, name, killing(name))
if scenario == "delete":
    s.delete_document("a")
else:
    put(s, "a", new, seed=100)
s.commit()
print(len(writes))
"""


def _release(db: Path) -> None:
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(str(db))


def _crash(db: Path, scenario: str, kill_at: int) -> bool:
    """Run the write in a child killed before its `kill_at`-th write; True when it was killed."""
    p = subprocess.run([sys.executable, "-c", CHILD, str(db), scenario, str(kill_at), "|".join(OLD), "|".join(NEW),
                        "|".join(OTHER)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, -9), p.stderr[-3000:]
    return p.returncode == -9


def _visible(s: MilvusStore) -> str:
    """Which version of document 'a' every read of the store shows: 'old', 'new' or 'none' (absent);
    fails if two reads disagree or one shows a mix."""
    def version(texts: list[str]) -> str:
        for name, want in (("old", OLD), ("new", NEW), ("none", [])):
            if sorted(texts) == sorted(want):
                return name
        return f"mixed {texts}"

    doc = s.document("a")
    listed = [d for d in s.documents() if d.doc_id == "a"]
    assert listed == ([doc] if doc else [])
    by_doc = "none" if doc is None else {"h-" + "".join(OLD): "old", "h-" + "".join(NEW): "new"}[doc.content_hash]
    chunks = version([c.text for c in s.doc_chunks("a")])
    words = tokenize("wire transfer fees 电汇手续费 card replacement")
    sparse = version([r.text for r, _ in s.search_sparse(words, 50) if r.doc_id == "a"])
    dense = set()
    for seed in (1, 2, 100, 101, 102):
        dense |= {r.text for r, _ in s.search_dense(vec(seed), 50) if r.doc_id == "a"}
    seen = {by_doc, chunks, sparse, version(sorted(dense))}
    assert len(seen) == 1, seen
    if doc is not None:
        assert doc.chunks == len(s.doc_chunks("a"))
    assert sorted(c.text for c in s.doc_chunks("b")) == sorted(OTHER)  # the untouched document stays
    return by_doc


def _stored_rows(s: MilvusStore) -> list[str]:
    """Every chunk row physically in the collection (what a crash may have left), by text."""
    return sorted(r["text"] for r in s.client.query(s.names.chunks, filter="row >= 0", output_fields=["text"],
                                                    limit=1000))


@pytest.mark.slow
@pytest.mark.parametrize("scenario, before, after", [("update", "old", "new"), ("new", "none", "new"),
                                                     ("delete", "old", "none")])
def test_a_kill_at_any_write_leaves_the_old_or_the_new_document(tmp_path, scenario, before, after):
    seen = []
    for kill_at in range(1, 20):
        db = tmp_path / f"{scenario}{kill_at}.db"
        killed = _crash(db, scenario, kill_at)
        reader = MilvusStore(str(db), "kb", writable=False)
        state = _visible(reader)
        reader.close()
        assert state in (before, after), (kill_at, state)
        seen.append(state)
        # the next writer removes what the crash left, and the state stays as readers saw it
        writer = MilvusStore(str(db), "kb", IndexParams(dim=DIM), writable=True)
        assert _visible(writer) == state
        rows = {"old": OLD, "new": NEW, "none": []}[state]
        assert _stored_rows(writer) == sorted(rows + OTHER), kill_at
        put(writer, "a", NEW, seed=100)  # and writes go on as usual
        writer.commit()
        assert _visible(writer) == "new" and _stored_rows(writer) == sorted(NEW + OTHER)
        writer.close()
        _release(db)
        if not killed:
            break
    assert not killed, "the write never finished"
    assert seen[0] == before and seen[-1] == after and seen == sorted(seen, key=[before, after].index)
