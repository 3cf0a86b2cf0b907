"""`rag index` reads again the files an older parser read, and `--reparse` any file (real subprocesses, real models,
the local store). Older releases' records are written into the catalog as they wrote them (indexer.reread)."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.chunk import CHUNKER_VERSION
from indexer.parse.versions import stamp_for
from tests.cli.test_cli import rag
from tests.indexer.test_crash_safety import check_consistent, kill_once_counted
from tests.lost_cards import EN, write_files
from tests.ocr_scans import FEE_EN, FEE_ZH, needs_tesseract, save_pdf, scan

ROOT = Path(__file__).resolve().parents[2]
# what this version stamps, and what the release before the last Markdown parser change stamped
MD, TXT = stamp_for(".md", False), stamp_for(".txt", False)
OLDER_MD = f"markdown.{MD.version - 1}"


def _rewrite_records(db: Path, old: str, new: str) -> None:
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE documents SET content_hash = replace(content_hash, ?, ?)", (old, new))
    con.close()


@pytest.mark.slow  # ~90 s (nine rag commands, each loading the model): make test-all runs it
def test_index_rereads_what_an_older_parser_read_and_reparse_rereads_the_kb(tmp_path):
    home, docs = tmp_path / "home", write_files(tmp_path / "docs")
    base = ("--kb", "bank", "--no-calibrate")
    rag(home, "index", str(docs), *base, "--embed-model", "e5", "--tag", "dept=cards", "-q")
    db = home / "bank" / "kb.sqlite"
    _rewrite_records(db, f"+parser:{MD}", f"+parser:{OLDER_MD}")  # cards.md: read by an older parser
    _rewrite_records(db, f"+parser:{TXT}+chunk:{CHUNKER_VERSION}", "")  # 挂失.txt: indexed before parser versions
    listed = json.loads(rag(home, "docs", "--kb", "bank", "--json").stdout)
    assert {Path(d["source"]).name: (d["parser"], d["chunker"]) for d in listed} == {
        "cards.md": (OLDER_MD, CHUNKER_VERSION), "挂失.txt": (None, None)}

    # the unstamped record was cut by chunker version 1: with the chunker past 1 it is read again too
    p = rag(home, "index", str(docs), *base, "--tag", "dept=cards")
    assert "0 indexed, 2 updated, 0 unchanged, 0 failed" in p.stdout, p.stdout
    assert f"{docs / 'cards.md'}: re-read: parser updated" in p.stdout + p.stderr, p
    assert f"{docs / '挂失.txt'}: re-read: chunker updated" in p.stdout + p.stderr, p
    assert "(1 re-read: chunker updated, 1 re-read: parser updated; " in p.stdout, p.stdout
    assert "a newer chunker cuts every format's text differently" in p.stdout, p.stdout
    assert "before parser versions" not in p.stdout, p.stdout

    p = rag(home, "index", *base, "--reparse")  # the whole KB, from where its files were indexed
    assert "0 indexed, 2 updated, 0 unchanged" in p.stdout and "2 re-read: --reparse" in p.stdout, p.stdout
    listed = json.loads(rag(home, "docs", "--kb", "bank", "--json").stdout)
    assert [d["tags"] for d in listed] == [{"dept": "cards"}] * 2  # each kept the tags it was indexed with
    assert sorted((d["parser"], d["chunker"]) for d in listed) == [(str(MD), CHUNKER_VERSION),
                                                                     (str(TXT), CHUNKER_VERSION)]
    hits = json.loads(rag(home, "search", "银行卡丢了怎么挂失", "--kb", "bank", "--json").stdout)
    assert "400-800-1234" in hits[0]["text"]

    p = rag(home, "index", str(docs), *base, "--tag", "dept=cards")
    assert "2 unchanged" in p.stdout and "re-read" not in p.stdout + p.stderr
    assert "before parser versions" not in p.stdout, p.stdout

    (docs / "cards.md").rename(tmp_path / "cards.md")
    p = rag(home, "index", *base, "--reparse", ok=False)
    assert p.returncode == 1 and f"NOT RE-READ {docs / 'cards.md'}: no file there now" in p.stderr, p
    assert "1 updated" in p.stdout, p.stdout

    p = rag(home, "index", "--kb", "bank", ok=False)
    assert p.returncode == 1 and "give the files or folders to index, or --reparse alone" in p.stderr, p.stderr


@pytest.mark.slow  # ~60 s: make test-all runs it
def test_kill_9_during_a_reread_leaves_the_kb_answering_and_a_rerun_finishes_it(tmp_path):
    """Files read again because their parser changed go through indexing's own writes: killed part-way, every
    document is at its old or new record, each still found; the next run reads the rest and says it resumed."""
    n = 40
    home, docs = tmp_path / "home", tmp_path / "docs"
    docs.mkdir()
    for i in range(n):
        line = f"Branch {i} opens at {i % 12} o'clock. " if i % 2 else f"第{i}号网点每天{i % 12}点开门。"
        (docs / f"note{i:02d}.md").write_text(f"# Branch {i} 网点\n\n" + line * 8, encoding="utf-8")
    env = {**os.environ, "RAG_HOME": str(home), "HF_HUB_OFFLINE": "1", "RAG_INGEST_BATCH_CHUNKS": "1"}
    index = [sys.executable, "-m", "cli", "index", str(docs), "-q", "--no-calibrate", "--embed-model", "e5"]
    subprocess.run(index, env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    db = home / "default" / "kb.sqlite"
    _rewrite_records(db, f"+parser:{MD}", f"+parser:{OLDER_MD}")

    p = subprocess.Popen(index, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # kill once some documents are read again
    kill_once_counted(p, db, "SELECT count(*) FROM documents WHERE content_hash LIKE ?", (f"%+parser:{MD}+%",))
    assert check_consistent(home / "default", "branch") == n  # nothing lost, every chunk searchable
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    done = con.execute("SELECT count(*) FROM documents WHERE content_hash LIKE ?", (f"%+parser:{MD}+%",)).fetchone()[0]
    con.close()
    assert 1 <= done < n, done
    for question, found in (("When does branch 7 open?", "Branch 7"), ("第8号网点几点开门？", "第8号网点")):
        hits = json.loads(subprocess.run([sys.executable, "-m", "cli", "search", question, "--json", "-k", "3"],
                                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=120).stdout)
        assert any(found in h["text"] for h in hits), (question, hits)

    out = subprocess.run(index[:-2], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"0 indexed, {n - done} updated, {done} unchanged" in out.stdout, out.stdout
    assert f"{n - done} re-read: parser updated" in out.stdout and "interrupted" in out.stdout, out.stdout


@needs_tesseract
@pytest.mark.slow  # ~100 s: five rag commands, two pages read by OCR once: make test-all runs it
def test_reparse_takes_scans_from_the_ocr_cache_and_keeps_them_while_tesseract_is_missing(tmp_path):
    """`rag index --reparse` as a company runs it (sandboxed parsers): the scanned pages come from the KB's OCR
    cache, not from Tesseract again; with Tesseract gone, the scanned PDF is kept as indexed, said per file, its
    scanned text still found, and the Markdown file beside it read again."""
    home, docs, log = tmp_path / "home", tmp_path / "docs", tmp_path / "tesseract.log"
    docs.mkdir()
    (docs / "cards.md").write_text(EN, encoding="utf-8")
    save_pdf(docs / "fees.pdf", scan(["Card Services Fee Notice", "", FEE_EN]), scan(["银行卡服务收费公告", "", FEE_ZH]))
    wrapper = tmp_path / "bin" / "tesseract"  # logs each run, then runs the real tesseract
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{shutil.which("tesseract")}" "$@"\n')
    wrapper.chmod(0o755)
    logged = {"PATH": f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}"}
    base = ("--kb", "scans", "--no-calibrate")

    def page_runs() -> int:
        return sum(" stdin " in f" {line} " for line in log.read_text().splitlines())

    rag(home, "index", str(docs), *base, "--embed-model", "e5", "-q", **logged)
    read = page_runs()
    assert read >= 2
    p = rag(home, "index", *base, "--reparse", **logged)
    assert "0 indexed, 2 updated, 0 unchanged" in p.stdout, p.stdout
    assert page_runs() == read  # both pages from the cache

    p = rag(home, "index", *base, "--reparse", PATH=str(tmp_path / "no-tesseract"))
    assert "0 indexed, 1 updated, 1 unchanged, 0 failed" in p.stdout, p.stdout
    assert f"NOT RE-READ {docs / 'fees.pdf'} (--reparse): OCR read some of its pages and cannot run now" in p.stderr
    assert "Tesseract, which is not installed" in p.stderr, p.stderr
    for question, found in (("跨行转账手续费是多少？", "10元"), ("What is the replacement card fee?", "$29")):
        hits = json.loads(rag(home, "search", question, "--kb", "scans", "--json", "-k", "3").stdout)
        assert any(found in h["text"] for h in hits), (question, hits)
