"""`rag eval retrieval` never indexes a benchmark corpus into a KB that holds other documents (the user's
own, another benchmark's); a KB holding exactly the corpus is reused without indexing again."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.beir import load_beir
from eval.retrieval import ForeignDocuments, check_corpus_kb, evaluate, foreign_documents, index_corpus
from indexer.ingest import Ingestor
from rag.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_ZH = ROOT / "data" / "eval" / "sample" / "zh"
USER_FILE = ROOT / "data" / "sample" / "en" / "lost_or_stolen_cards.txt"


def _user_kb(manager, name: str) -> None:
    """A KB holding one of the user's own files, as `rag index FILE --kb NAME` leaves it."""
    store = manager.open(name, writable=True, create=True)
    try:
        Ingestor(store, manager.encoder(store.embed_model), manager.settings).index_paths([str(USER_FILE)],
                                                                                          progress=False)
    finally:
        store.close()


def _sources(manager, name: str) -> list[str]:
    store = manager.open(name)
    try:
        return sorted(d.source for d in store.documents())
    finally:
        store.close()


def test_corpus_is_refused_by_a_kb_holding_other_documents(manager):
    ds = load_beir(SAMPLE_ZH, "dev")
    _user_kb(manager, "beir-zh")
    with pytest.raises(ForeignDocuments, match=r"'beir-zh' holds documents that are not in .*corpus \(1 of its 1, "
                                               r"e\.g\. .*lost_or_stolen_cards\.txt\).*--kb"):
        index_corpus(ds, manager, "beir-zh", progress=False)
    assert _sources(manager, "beir-zh") == [str(USER_FILE)]  # nothing was written


@pytest.mark.slow
def test_a_kb_holding_the_corpus_is_reused_and_another_corpus_refused(manager, tmp_path):
    ds = load_beir(SAMPLE_ZH, "dev")
    n = sum(1 for _, text in ds.corpus.values() if text.strip())
    assert index_corpus(ds, manager, "bench", progress=False) == n == 57
    assert index_corpus(ds, manager, "bench", progress=False) == 0  # the fast path: nothing indexed again
    # the same corpus copied to another folder (the Chinese questions over the English KB, `zh2en`): reused
    copy = tmp_path / "zh2en"
    (copy / "qrels").mkdir(parents=True)
    for f in ("corpus.jsonl", "queries.jsonl", "qrels/dev.tsv"):
        (copy / f).write_bytes((SAMPLE_ZH / f).read_bytes())
    same = load_beir(copy, "dev")
    store = manager.open("bench")
    assert foreign_documents(same, store) == []
    store.close()
    assert index_corpus(same, manager, "bench", progress=False) == 0
    assert evaluate(same, Settings.load(), "bench", "bm25", progress=False, mgr=manager)["queries"] == 14
    # a corpus with one more document: its documents are all the KB's, it adds the new one
    rows = [json.loads(x) for x in (SAMPLE_ZH / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    rows.append({"_id": "zh-extra", "title": "新增", "text": "网点周日不营业。"})
    (copy / "corpus.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert index_corpus(load_beir(copy, "dev"), manager, "bench", progress=False) == 1
    # ... but the original corpus now finds a document that is not its own in that KB
    with pytest.raises(ForeignDocuments, match="1 of its 58, e.g. beir:zh2en/zh-extra"):
        check_corpus_kb(ds, manager, "bench")
    check_corpus_kb(ds, manager, "no-such-kb")  # a new name is fine (created when indexed)


def _rag(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAG_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "cli", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_cli_refuses_before_writing_any_kb(manager):
    """The tester's case: `rag index x --kb beir-zh; rag eval retrieval --beir .../zh` left 58 documents in
    beir-zh. Now it exits 1 with the reason, before indexing any of the KBs named (no model is loaded)."""
    _user_kb(manager, "beir-zh")
    home = manager.settings.home
    p = _rag(home, "eval", "retrieval", "--beir", str(SAMPLE_ZH), "--split", "dev")
    assert p.returncode == 1, p.stderr
    assert "'beir-zh' holds documents that are not in" in p.stderr and "Traceback" not in p.stderr
    # with several KBs, a refused one stops the run before the others are created
    p = _rag(home, "eval", "retrieval", "--beir", str(SAMPLE_ZH), "--split", "dev", "--kb", "fresh,beir-zh")
    assert p.returncode == 1 and "'beir-zh' holds documents" in p.stderr
    assert not manager.exists("fresh")
    docs = json.loads(_rag(home, "docs", "--kb", "beir-zh", "--json").stdout)
    assert [d["source"] for d in docs] == [str(USER_FILE)]
