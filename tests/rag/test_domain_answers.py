"""Quoted answers on a knowledge base of another domain than the bundled bank: the hospital's patient
information in data/eval/domains/hospital (English and Chinese documents), indexed with the default
encoders and the refusal threshold `rag index` calibrates. Its questions are asked in the patients' own
words; some are about the hospital and not in its documents (bench/bench_domain_answers.py measures
them all)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "data" / "eval" / "domains" / "hospital" / "docs"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, ens):
    from indexer.config import IndexerSettings
    from indexer.ingest import Ingestor
    from indexer.kbs import KBManager
    from rag.adapt.tune_refusal import recalibrate
    from rag.config import Settings
    from rag.pipeline import build_pipeline

    home = tmp_path_factory.mktemp("hospital") / "home"
    manager = KBManager(IndexerSettings(home=home, embed_model="e5+minilm"), encoders={"e5+minilm": ens})
    store = manager.open("hospital", writable=True, create=True)
    Ingestor(store, ens, manager.settings).index_paths([str(DOCS)], progress=False)
    store.close()
    settings = Settings.load(indexer={"home": home}, answer={"mode": "extract"})
    recalibrate(settings, "hospital", manager, reranker=None)
    return build_pipeline(settings, "hospital", manager, reranker=None)


@pytest.mark.parametrize("question, words", [
    ("What day is the mole check clinic and where is it?", ("Friday", "Clinic 5")),
    ("Can I pay to have a room to myself, and how much is it?", ("$150 per night",)),
    ("剖腹产一般要住院几天？", ("剖宫产一般住院 4—5 天",)),
    ("我退休了，是职工医保，住院起付线多少？能报多少？", ("800元", "90%")),
])
def test_questions_in_other_words_get_the_sentence_that_answers(pipeline, question, words):
    ans = pipeline.ask(question)
    assert not ans.refused and ans.citations, (question, ans.answer)
    assert all(w in ans.answer for w in words), (question, ans.answer)
    assert all(Path(c.source).is_relative_to(DOCS) for c in ans.citations)


@pytest.mark.parametrize("question", [
    "Is there a gift shop, and what time does it open?",           # had: the lost property office's number
    "What's the direct phone number for the Cancer Center?",       # had: free parking for chemotherapy patients
    "医院附近有没有给家属住的便宜宾馆？",                               # had: one relative may wait with the patient
])
def test_about_the_hospital_but_not_in_its_documents_is_the_refusal(pipeline, question):
    ans = pipeline.ask(question)
    assert ans.refused and not ans.citations, (question, ans.answer)
    assert ans.fallback_reason
