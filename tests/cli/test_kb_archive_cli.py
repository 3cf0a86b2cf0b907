"""`rag kb export` / `rag kb import` as an administrator runs them (real subprocesses, real models): a KB
backed up, restored under another name and moved into Milvus Lite answers every question as the original
does, in English and Chinese; the refusals say what to do."""
import json

import pytest

from tests.cli.test_cli import ROOT, rag

QUESTIONS = ["How do I report a lost card?", "What is the fee for a replacement card?", "如何挂失银行卡？",
             "挂失后多久补发新卡？"]


def _answers(home, kb, **env):
    out = []
    for q in QUESTIONS:
        a = json.loads(rag(home, "ask", q, "--kb", kb, "--json", **env).stdout)
        out.append((a["answer"], a["refused"], [(c["chunk_id"], c["quote"]) for c in a["citations"]]))
    return out


@pytest.mark.slow  # ~40 s: a model load per command
def test_back_up_restore_and_move_to_milvus_answer_the_same(tmp_path):
    pytest.importorskip("milvus_lite")
    home, env = tmp_path / "home", {"RAG_EMBED_MODEL": "minilm"}
    rag(home, "index", str(ROOT / "data/sample/en/lost_or_stolen_cards.txt"), str(ROOT / "data/sample/en/account_fees.md"),
        str(ROOT / "data/sample/zh/card_loss_reporting.txt"), "--kb", "bank", "-q", **env)
    backup = tmp_path / "backups" / "bank.zip"
    p = rag(home, "kb", "export", "bank", str(backup))
    assert "exported 'bank': 3 documents" in p.stdout and backup.is_file()
    assert "already exists" in rag(home, "kb", "export", "bank", str(backup), ok=False).stderr

    refused = rag(home, "kb", "import", str(backup), ok=False)
    assert refused.returncode == 1 and "'bank' already exists: import under another name with --as" in refused.stderr
    assert "imported 'copy'" in rag(home, "kb", "import", str(backup), "--as", "copy").stdout
    milvus = {"RAG_STORE_URI": str(tmp_path / "cluster.db")}
    assert "imported 'bank'" in rag(tmp_path / "cluster-home", "kb", "import", str(backup), **milvus).stdout

    original = _answers(home, "bank")
    assert not original[0][1] and not original[2][1]  # answered, in both languages
    assert _answers(home, "copy") == original
    assert _answers(tmp_path / "cluster-home", "bank", **milvus) == original

    junk = tmp_path / "notes.zip"
    junk.write_bytes(b"not an archive")
    p = rag(home, "kb", "import", str(junk), "--as", "junk", ok=False)
    assert p.returncode == 1 and "not a knowledge base archive" in p.stderr and "Traceback" not in p.stderr
    assert {k["name"] for k in json.loads(rag(home, "kb", "list", "--json").stdout)} == {"bank", "copy"}
