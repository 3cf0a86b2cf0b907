"""What a kill -9 of `rag kb export` / `rag kb import` leaves (hidden `.ARCHIVE.*.part` and `.vectors` files
beside the archive, a hidden `.NAME.importing` folder in the home) is removed by the next export of that
archive and by `rag kb` commands, and said, but only once no process is using it: a stopped (not yet
killed) export or import still holds its lock, and a sweep leaves its files alone. An interrupted import's
folder is kept for a day, for its re-run to resume."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer.archive.leftovers import KEEP_IMPORT_S, sweep_exports, sweep_imports
from tests.cli.test_cli import ROOT, rag

ENV = {"RAG_EMBED_MODEL": "minilm"}


def _stopped_midway(home: Path, args: list[str], midway) -> subprocess.Popen | None:
    """Run `rag ARGS` and SIGSTOP it once `midway()` is true (it holds its locks then); None when it ended first."""
    env = {**os.environ, "RAG_HOME": str(home), "HF_HUB_OFFLINE": "1", **ENV}
    proc = subprocess.Popen([sys.executable, "-m", "cli", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while proc.poll() is None:
        try:
            if midway():
                os.kill(proc.pid, signal.SIGSTOP)
                return proc
        except FileNotFoundError:  # renamed or removed as we looked
            pass
        time.sleep(0.0005)
    return None


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _age(paths, seconds: float) -> None:
    """As if last written `seconds` ago (a folder's files too)."""
    when = time.time() - seconds
    for p in paths:
        for q in [p, *(p.iterdir() if p.is_dir() else ())]:
            os.utime(q, (when, when))


def _writing(folder: Path, suffix: str):
    """True once the export's zip has bytes in it: it took its locks before writing any."""
    return lambda: any(p.name.endswith(suffix) and p.stat().st_size > 0 for p in folder.iterdir())


@pytest.mark.slow  # ~60 s: indexing the sample (20 files, en + zh), then exports and imports killed part-way
def test_a_killed_export_or_imports_leftovers_are_swept_once_unused_and_said(tmp_path):
    home, out = tmp_path / "home", tmp_path / "backups"
    out.mkdir()
    rag(home, "index", str(ROOT / "data/sample"), "--kb", "bank", "-q", **ENV)

    # ---- export: stopped while writing, then killed ------------------------------------------------
    for _ in range(5):  # on a loaded machine the export may end before it is caught: try again
        proc = _stopped_midway(home, ["kb", "export", "bank", str(out / "bank.zip")], _writing(out, ".part"))
        if proc is not None:
            break
        (out / "bank.zip").unlink()
    assert proc is not None, "the export always ended before it could be stopped"
    left = sorted(p.name for p in out.iterdir())
    assert sorted(n.rsplit(".", 1)[-1] for n in left) == ["ocr", "part", "vectors"], left  # .ocr: the OCR cache's
    try:
        later = time.time() + 3600   # past any grace: only the lock keeps them
        assert sweep_exports(out, "bank.zip", now=later).removed == []   # the (stopped) export still uses them
        assert sorted(p.name for p in out.iterdir()) == left
    finally:
        _kill(proc)
    assert sorted(p.name for p in out.iterdir()) == left                  # kill -9: nothing cleaned up
    _age(out.iterdir(), 120)
    p = rag(home, "kb", "export", "bank", str(out / "bank.zip"))
    assert "exported 'bank'" in p.stdout
    for name in left:
        assert name in p.stderr and "left by an interrupted export" in p.stderr, p.stderr
    assert sorted(p.name for p in out.iterdir()) == ["bank.zip"]

    # ---- import: stopped while writing its hidden copy, then killed ----------------------------------
    staged = home / ".copy.importing"
    for _ in range(5):
        proc = _stopped_midway(home, ["kb", "import", str(out / "bank.zip"), "--as", "copy"],
                               lambda: (staged / "kb.sqlite").exists())
        if proc is not None:
            break
        rag(home, "kb", "delete", "copy")
    assert proc is not None, "the import always ended before it could be stopped"
    try:
        assert sweep_imports(home, now=time.time() + 2 * KEEP_IMPORT_S).removed == []  # still in use
        assert staged.is_dir()
    finally:
        _kill(proc)
    _age([staged], 120)
    kept = rag(home, "kb", "list", "--json")            # a re-run could resume it: kept, and said
    assert staged.is_dir() and ".copy.importing" in kept.stderr and "resumes it" in kept.stderr, kept.stderr
    assert [k["name"] for k in json.loads(kept.stdout)] == ["bank"]
    _age([staged], KEEP_IMPORT_S + 60)                  # abandoned for over a day
    swept = rag(home, "kb", "list")
    assert ".copy.importing" in swept.stderr and "left by an interrupted import" in swept.stderr, swept.stderr
    assert not staged.exists()
    assert "imported 'copy'" in rag(home, "kb", "import", str(out / "bank.zip"), "--as", "copy").stdout
    assert not list(home.glob(".*.importing"))
