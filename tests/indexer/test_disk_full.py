"""Indexing onto a disk that fills up, or a read-only one: a clear error saying which and what to do (never
a traceback), every document left at its old or new state, the KB readable and searchable, and the same
command finishing the job once there is room, without indexing anything twice. A real small tmpfs
(mounting one needs root, as `make test` runs in CI), real parsing, MiniLM and the local store."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.config import IndexerSettings
from indexer.ingest import Ingestor
from indexer.kbs import KBManager
from indexer.store.write_errors import KBWriteError
from indexer.tokenize import tokenize

pytestmark = pytest.mark.slow  # tens of seconds: run with make test-all

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_disk(small_tmpfs):
    """A 640 KB tmpfs: room for a KB of a few documents, not for forty more."""
    return small_tmpfs("640k")


def _docs(folder: Path, n: int, start: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        if i % 2:
            body = "\n\n".join(f"第{i}号通知第{j}节：分行{i}的营业时间在{2000 + j}年调整为每天{j % 12 + 1}点开门。"
                               for j in range(30))
        else:
            body = "\n\n".join(f"Notice {i}, section {j}: branch {i} opens at {j % 12 + 1} am since {2000 + j}."
                               for j in range(30))
        (folder / f"notice_{i:03d}.txt").write_text(body, encoding="utf-8")
    return folder


def _consistent(folder: Path) -> int:
    """Each document has exactly its chunks, no chunk lost its document; returns the document count."""
    db = sqlite3.connect(folder / "kb.sqlite")
    try:
        bad = db.execute("SELECT d.doc_id FROM documents d LEFT JOIN chunks c ON c.doc_id = d.doc_id "
                         "GROUP BY d.doc_id HAVING d.n_chunks != count(c.id)").fetchall()
        orphans = db.execute("SELECT count(*) FROM chunks WHERE doc_id NOT IN (SELECT doc_id FROM documents)")
        assert bad == [] and orphans.fetchone()[0] == 0
        return db.execute("SELECT count(*) FROM documents").fetchone()[0]
    finally:
        db.close()


def test_disk_full_mid_run_keeps_a_consistent_kb_and_a_rerun_finishes(small_disk, tmp_path, minilm):
    mgr = KBManager(IndexerSettings(home=small_disk, embed_model="minilm"), encoders={"minilm": minilm})
    first = _docs(tmp_path / "docs", 2)
    store = mgr.open("bank", writable=True, create=True)
    try:
        assert Ingestor(store, minilm, mgr.settings).index_paths([str(first)], progress=False).count("indexed") == 2
    finally:
        store.close()

    _docs(first, 40, start=2)
    store = mgr.open("bank", writable=True)
    try:
        with pytest.raises(KBWriteError) as raised:
            Ingestor(store, minilm, mgr.settings).index_paths([str(first)], progress=False)
    finally:
        store.close()
    err = raised.value
    assert err.reason == "the disk is full" and "Free space" in str(err) and "run the same command again" in str(err)
    kept = _consistent(small_disk / "bank")
    assert kept == 2 + err.written  # the error counts exactly the documents it kept
    # readable and searchable as it is, in both languages
    reader = mgr.open("bank")
    try:
        assert reader.search_sparse(tokenize("branch 0 opens"), 3)[0][0].source.endswith("notice_000.txt")
        assert reader.search_sparse(tokenize("分行1的营业时间"), 3)[0][0].source.endswith("notice_001.txt")
    finally:
        reader.close()

    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)  # room again
    store = mgr.open("bank", writable=True)
    try:
        report = Ingestor(store, minilm, mgr.settings).index_paths([str(first)], progress=False)
    finally:
        store.close()
    assert report.count("unchanged") == kept and report.count("indexed") == 42 - kept and not report.failed
    assert _consistent(small_disk / "bank") == 42
    leftovers = [p.name for p in (small_disk / "bank" / "indexes").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_rag_index_on_a_read_only_home_says_so_and_changes_nothing(small_disk, tmp_path):
    docs = _docs(tmp_path / "docs", 1)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_HOME": str(small_disk), "RAG_EMBED_MODEL": "minilm", "HF_HUB_OFFLINE": "1"})
    p = subprocess.run([sys.executable, "-m", "cli", "index", str(docs), "--kb", "bank", "-q", "--no-calibrate"],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and "read-only" in p.stderr and str(small_disk / "bank") in p.stderr, p.stderr
    assert list(small_disk.iterdir()) == []
