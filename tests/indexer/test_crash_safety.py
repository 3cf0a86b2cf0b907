"""kill -9 at any moment of indexing leaves a usable KB; a re-run completes it."""
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

import pytest

from indexer.store.local.snapshot import IndexParams
from indexer.store.local.store import LocalStore
from indexer.tokenize import tokenize

ROOT = Path(__file__).resolve().parents[2]
N = 30

WRITER = textwrap.dedent("""
    import sys, numpy as np
    from indexer.store.local.store import LocalStore
    from indexer.store.local.snapshot import IndexParams
    from indexer.types import Chunk, DocumentInfo
    from indexer.store.local.catalog import text_hash
    from indexer.tokenize import tokenize
    s = LocalStore(__import__("pathlib").Path(sys.argv[1]), IndexParams(dim=16), writable=True, embed_model="t")
    rng = np.random.default_rng(int(sys.argv[2]))
    for i in range(100000):
        d = f"doc{i % 40}"
        texts = [f"policy {d} version {i} part {j}" for j in range(int(rng.integers(1, 6)))]
        v = rng.normal(size=(len(texts), 16)).astype("float32")
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        ch = [Chunk(f"{d}:{j}:{i}", d, j, t) for j, t in enumerate(texts)]
        s.replace_document(DocumentInfo(d, d, str(i), 1, len(ch), "now"), ch, [tokenize(t) for t in texts], v,
                           [text_hash(t) for t in texts])
        if i % 3 == 0:
            s.commit()
""")


def check_consistent(folder: Path, term: str = "policy"):
    s = LocalStore(folder)  # read-only open must work: snapshot loads and catches up with the catalog
    docs = s.documents()
    for d in docs:
        assert len(s.doc_chunks(d.doc_id)) == d.chunks
    assert len(s.snapshot.bm25) == len(s.snapshot.dense) == sum(d.chunks for d in docs)
    hits = s.search_sparse(tokenize(term), 500)
    assert len(hits) == sum(d.chunks for d in docs)
    s.close()
    return len(docs)


def kill_once_counted(p: subprocess.Popen, db: Path, sql: str, args: tuple = (), timeout_s: float = 240) -> None:
    """kill -9 `p` as soon as `sql` (a count) on the KB's catalog `db` gives 1 or more: some documents are
    committed and the run is not over; the catalog may not exist yet or be mid-write (read again)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline and p.poll() is None:
        try:
            with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
                if con.execute(sql, args).fetchone()[0] >= 1:
                    break
        except sqlite3.Error:
            pass
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()


@pytest.mark.slow  # a long robustness or end-to-end run: make test-all
def test_kill_9_during_writes_and_publishes(tmp_path):
    folder = tmp_path / "kb"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for round_ in range(6):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(folder), str(round_)], env=env)
        time.sleep(1.5 + 0.37 * round_)  # land at different moments: mid-transaction, mid-publish, ...
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert check_consistent(folder) > 0
    # a writer after the crashes publishes a snapshot that matches the catalog exactly
    s = LocalStore(folder, IndexParams(dim=16), writable=True)
    s.commit()
    s.close()
    leftovers = [p for p in (folder / "indexes").iterdir() if p.name.endswith(".tmp")]
    assert not leftovers
    check_consistent(folder)


@pytest.mark.slow  # ~15 s: make test-all runs it
def test_kill_9_during_cli_index_then_rerun(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(N):
        (docs / f"note{i:02d}.md").write_text(f"# Note {i}\n\n" + f"Branch {i} opens at {i % 12} o'clock. " * 8)
    home = tmp_path / "home"
    # write every few files (not one batch at the end), so the kill lands between documents
    env = {**os.environ, "RAG_HOME": str(home), "HF_HUB_OFFLINE": "1", "RAG_INGEST_BATCH_CHUNKS": "3"}
    rag = [sys.executable, "-m", "cli", "index", str(docs), "-q"]
    p = subprocess.Popen(rag, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_once_counted(p, home / "default" / "kb.sqlite", "SELECT count(*) FROM documents")  # mid-run
    n_before = check_consistent(home / "default", "branch")
    assert 1 <= n_before < N
    listing = [sys.executable, "-m", "cli", "docs"]
    before = subprocess.run(listing, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    # the operator listing the KB learns that it is part-way, and what to do
    assert f"{n_before} documents" in before.stdout and "did not finish" in before.stderr, before
    out = subprocess.run(rag, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert f"{N - n_before} indexed" in out.stdout and f"{n_before} unchanged" in out.stdout
    assert "finished an indexing run that was interrupted" in out.stdout, out.stdout
    assert check_consistent(home / "default", "branch") == N
    after = subprocess.run(listing, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert f"{N} documents" in after.stdout and "did not finish" not in after.stderr, after
    again = subprocess.run(rag, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert f"{N} unchanged" in again.stdout and "interrupted" not in again.stdout, again.stdout
