"""--source and --doc of `rag search` and `rag ask` name documents of the KB (real subprocesses, a real KB): a
source given another way than it was indexed (a bare file name, an absolute path) was matched against nothing,
so search said "no results" and ask refused, as if the KB did not hold the answer."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def rag(cwd: Path, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"RAG_HOME": str(cwd / "home"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)})
    return subprocess.run([sys.executable, "-m", "cli", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def refused(p) -> str:
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and p.stdout == "", (p.stdout, p.stderr)
    return p.stderr


@pytest.mark.slow  # ~40 s: an index and five commands, each loading the encoder
def test_sources_and_doc_ids_name_documents_of_the_kb(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fees.md").write_text("# Fees\n\nA replacement card costs 5 dollars.\n")
    (docs / "收费标准.md").write_text("# 收费标准\n\n补办银行卡每张收费5元。\n", encoding="utf-8")
    (docs / "hours.md").write_text("# Hours\n\nBranches open at 9 am. A replacement card is printed at once.\n")
    p = rag(tmp_path, "index", "docs", "--kb", "bank", "--embed-model", "e5", "--no-calibrate", "-q")
    assert p.returncode == 0, p.stderr  # stored as indexed: docs/fees.md, docs/收费标准.md

    # a bare file name: the error names the source it may have meant
    err = refused(rag(tmp_path, "search", "replacement card", "--kb", "bank", "--source", "fees.md"))
    assert "--source fees.md" in err and "'docs/fees.md'" in err and "rag docs --kb bank" in err
    err = refused(rag(tmp_path, "ask", "补办银行卡收费多少？", "--kb", "bank", "--source", "收费标准.md"))
    assert "--source 收费标准.md" in err and "'docs/收费标准.md'" in err

    # the same file named another way is that document
    hits = json.loads(rag(tmp_path, "search", "replacement card", "--kb", "bank", "--json",
                          "--source", str(docs / "fees.md")).stdout)
    assert hits and {h["source"] for h in hits} == {"docs/fees.md"}
    p = rag(tmp_path, "ask", "补办银行卡收费多少？", "--kb", "bank", "--json", "--source", "./docs/收费标准.md")
    ans = json.loads(p.stdout)
    assert not ans["refused"] and "5元" in ans["answer"], p.stderr
    assert {c["source"] for c in ans["citations"]} == {"docs/收费标准.md"}

    err = refused(rag(tmp_path, "search", "replacement card", "--kb", "bank", "--doc", "d0000000000000"))
    assert "--doc d0000000000000" in err and "rag docs --kb bank" in err
