"""`rag tune embedder` and `rag kb reembed`: pairs from a KB alone, a few real training steps, the tuned
folder loading through indexer.embed, re-embedding (incremental, crash-safe), queries with the KB's model."""
import json
from pathlib import Path

import numpy as np
import pytest

from rag.adapt.embedder_pairs import answers_too, build_pairs, cloze_pairs, split_pairs, without
from tests.conftest import kill_reembed_at_second_batch, on_first_reembed_batch


@pytest.fixture
def kb_pairs(manager, sample_copy):
    from rag.config import RetrievalSettings
    from rag.retrieval.hybrid import HybridRetriever

    store = manager.open("t")
    retriever = HybridRetriever.from_store(store, manager, RetrievalSettings(per="chunk"))
    pairs, rep = build_pairs(store, retriever, progress=False)
    store.close()
    return pairs, rep


def test_pairs_in_both_languages_with_filtered_negatives(kb_pairs, manager):
    from rag.adapt.embedder_pairs import embed_text

    pairs, rep = kb_pairs
    assert {p.lang for p in pairs} == {"en", "zh"}  # the sample KB holds English and Chinese documents
    assert rep.languages["zh"] > 0 and sum(rep.kept.values()) == len(pairs)
    assert any(p.negatives for p in pairs)
    store = manager.open("t")
    whole = {c.chunk_id: embed_text(c.title, c.text) for d in store.documents() for c in store.doc_chunks(d.doc_id)}
    store.close()
    for p in pairs:
        assert p.question and p.positive
        for n in p.negatives:  # filtered against the whole chunk (the positive may lack its source sentence)
            assert n != p.positive and not answers_too(p.question, whole[p.chunk_id], n, p.source_sentence)
    # the split is by a hash of the doc id, and the ids follow the test's temporary folder: which share
    # of documents is held out varies from run to run, the split by document does not
    splits = [split_pairs(pairs, h / 10) for h in range(1, 10)]
    assert any(train and held for train, held in splits)
    questions = [p for p in pairs if p.kind != "cloze"]
    for train, held in splits:
        assert not {p.doc_id for p in train} & {p.doc_id for p in held}
        assert all(p.kind != "cloze" for p in held)  # the held-out measurement asks questions only
        assert len([p for p in train if p.kind != "cloze"]) + len(held) == len(questions)


def test_cloze_pairs_take_the_sentence_out_of_english_positives_only(kb_pairs):
    pairs, rep = kb_pairs
    cloze = [p for p in pairs if p.kind == "cloze"]
    assert cloze and rep.kept["cloze"] == len(cloze) and {p.lang for p in cloze} == {"en"}
    for p in cloze:
        assert p.question == p.source_sentence and p.question not in p.positive
    # written English questions: the source sentence is out of the positive 9 times in 10; Chinese keep it
    en = [p for p in pairs if p.kind == "template" and p.lang == "en"]
    zh = [p for p in pairs if p.kind == "template" and p.lang == "zh"]
    assert en and zh
    assert sum(p.source_sentence not in p.positive for p in en) >= 0.6 * len(en)
    assert all(p.source_sentence in p.positive for p in zh)


def test_cloze_on_one_chunk_in_each_language():
    import random

    from indexer.types import ChunkRecord

    en = ChunkRecord(0, "c1", "d1", "fees.md", "A wire transfer abroad costs 25 dollars and arrives in two days. "
                     "Transfers inside the country are free of charge for every account. "
                     "Cards lost abroad are blocked at once when you call the hotline.", "Fees", None, {})
    zh = ChunkRecord(1, "c2", "d2", "fees.md", "境外电汇每笔收费二十五元，两天内到账。境内转账对所有账户免费。"
                     "在境外丢失的银行卡，致电热线后立即冻结。", "费用", None, {})
    made = cloze_pairs(en, random.Random(1), 2)
    assert len(made) == 2 and all(p.question not in p.positive and p.positive.startswith("Fees\n") for p in made)
    assert cloze_pairs(zh, random.Random(1), 2) == []   # English chunks only
    assert cloze_pairs(en, random.Random(1), 0) == []
    assert without("Too short. Gone.", "Gone.") == ""   # too little is left to stand for the chunk
    assert without(en.text, "Not in it.") == ""


def test_a_negative_that_answers_is_dropped():
    q = "How much does an international wire transfer cost?"
    pos = "Fees. An international wire transfer costs 25 dollars. Domestic transfers are free."
    assert answers_too(q, pos, pos + " Call us.")                                        # a near copy
    assert answers_too(q, pos, "Our price list: an international wire transfer costs 30 dollars.")  # answers too
    assert not answers_too(q, pos, "Lost cards are blocked at once; call the hotline day and night.")
    assert answers_too("什么是借记卡？", "借记卡是一种银行卡。", "手册：借记卡是一种银行卡。",
                       source_sentence="借记卡是一种银行卡。")


def _tune_minilm(manager, kb_pairs, out, steps_pairs=8, measure=True):
    from rag.adapt.tune_embedder import tune_embedder

    pairs, rep = kb_pairs
    store = manager.open("t")
    try:
        return tune_embedder(store, manager, pairs[:steps_pairs], pairs[steps_pairs:steps_pairs + 6], rep, out,
                             batch_size=4, lr=5e-5, measure=measure, progress=False, log=lambda _: None)
    finally:
        store.close()


@pytest.mark.slow
def test_tuned_folder_loads_reembeds_and_answers_queries(manager, kb_pairs, tmp_path):
    from indexer.embed.factory import make_encoder
    from indexer.kbs import TUNED_SPEC, tuned_spec
    from rag.config import RetrievalSettings
    from rag.retrieval.hybrid import HybridRetriever

    out = tmp_path / "tuned"
    rep = _tune_minilm(manager, kb_pairs, out)
    assert rep.steps == {"minilm": 2} and rep.resumed == {"minilm": 0} and rep.before and rep.after
    spec = json.loads((out / TUNED_SPEC).read_text())
    assert spec["members"]["minilm"]["path"] == "minilm" and tuned_spec(str(out))
    assert (out / "report.json").exists() and (out / "minilm" / "model.safetensors").exists()
    assert (out / ".checkpoints" / "minilm.pt").exists()
    again = _tune_minilm(manager, kb_pairs, out, measure=False)  # a re-run resumes: every step is done
    assert again.steps == {"minilm": 2} and again.resumed == {"minilm": 2}
    # the member folder is a standard sentence-transformers folder too
    st = make_encoder(str(out / "minilm"), device="cpu")
    v = st.encode_queries(["how do I report a lost card?"])
    assert v.shape == (1, 384) and abs(float(np.linalg.norm(v)) - 1) < 1e-4

    before = manager.open("t")
    n_docs = len(before.documents())
    before.close()
    res = manager.reembed("t", str(out), progress=False)
    assert res["documents"] == n_docs == res["reembedded"]
    store = manager.open("t")
    try:
        assert store.embed_model == str(out)  # recorded in the KB
        enc = manager.encoder(store.embed_model)
        assert getattr(enc, "folder", None) == out / "minilm"  # queries use the KB's (tuned) model
        retriever = HybridRetriever.from_store(store, manager, RetrievalSettings(per="chunk"))
        assert retriever.encoder is enc
        hits = retriever.run("How do I report a lost or stolen card?", 5)
        assert hits and any("card" in h.text.lower() for h in hits)
        # the stored vectors are the tuned model's: a chunk's own vector is what the tuned encoder gives it
        q = enc.encode_queries(["wire transfer fees"])[0]
        top = store.search_dense(q, 1)[0]
        base_q = manager.encoder("minilm").encode_queries(["wire transfer fees"])[0]
        assert not np.allclose(q, base_q, atol=1e-4)
        assert top[1] > 0
    finally:
        store.close()
    assert not (manager.home / ".t.reembed").exists() and not (manager.home / ".t.replaced").exists()


@pytest.mark.slow  # a long robustness or end-to-end run: make test-all
def test_reembed_is_incremental_after_a_crash(manager, sample_copy, monkeypatch):

    resume = kill_reembed_at_second_batch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        manager.reembed("t", "minilm", progress=False, batch_docs=1)
    store = manager.open("t")  # the KB is untouched and still answers
    n_docs = len(store.documents())
    assert store.embed_model == "minilm" and store.search_sparse(["card"], 3)
    store.close()
    assert (manager.home / ".t.reembed" / "kb.sqlite").exists()
    resume()
    res = manager.reembed("t", "minilm", progress=False, batch_docs=1)
    assert res["documents"] == n_docs and res["reembedded"] == n_docs - 1  # the first document was already in
    store = manager.open("t")
    assert len(store.documents()) == n_docs and store.search_dense(manager.encoder("minilm").encode_queries(["card"])[0], 3)
    store.close()
    assert not (manager.home / ".t.reembed").exists()

    # killed between the swap's two renames (the KB moved aside, the copy not yet in place): the re-run
    # puts the complete copy in place and has nothing left to embed
    real_rename = Path.rename

    def die_after_moving_the_kb(self, target):
        out = real_rename(self, target)
        if Path(target).name == ".t.replaced":
            raise KeyboardInterrupt
        return out

    monkeypatch.setattr(Path, "rename", die_after_moving_the_kb)
    with pytest.raises(KeyboardInterrupt):
        manager.reembed("t", "minilm", progress=False)
    monkeypatch.setattr(Path, "rename", real_rename)
    assert not manager.exists("t") and (manager.home / ".t.reembed" / "kb.sqlite").exists()
    res = manager.reembed("t", "minilm", progress=False)
    assert (res["documents"], res["reembedded"]) == (n_docs, 0)
    assert manager.exists("t") and not (manager.home / ".t.replaced").exists()
    assert not (manager.home / ".t.reembed").exists()


def test_folds_split_questions_by_a_fixed_hash(tmp_path):
    from rag.adapt.folds import fold_of, write_folds

    (tmp_path / "qrels").mkdir()
    rows = [f"q{i}\td{i}\t1" for i in range(40)]
    (tmp_path / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n")
    a, b = write_folds(tmp_path, "dev", 2)
    fa = a.read_text().splitlines()[1:]
    fb = b.read_text().splitlines()[1:]
    assert sorted(fa + fb) == sorted(rows) and fa and fb
    assert all(fold_of(r.split("\t")[0]) == 0 for r in fa) and fold_of("q1") == fold_of("q1")


@pytest.mark.slow
def test_cli_tunes_the_ensemble_and_reembeds(tmp_path, monkeypatch):
    """The whole flow on the default 'e5+minilm' model: both members trained, reembedded, queried."""
    import shutil

    from typer.testing import CliRunner

    from cli.main import app
    from tests.conftest import SAMPLE

    monkeypatch.setenv("RAG_HOME", str(tmp_path / "home"))
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLE / "en", docs / "en")
    shutil.copytree(SAMPLE / "zh", docs / "zh")
    run = CliRunner().invoke
    assert run(app, ["index", str(docs), "--kb", "k"]).exit_code == 0
    out = tmp_path / "tuned"
    r = run(app, ["tune", "embedder", "--kb", "k", "--out", str(out), "--max-chunks", "16", "--batch-size", "8",
                  "--epochs", "1", "--members", "e5,minilm", "--negatives", "2", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "report.json").read_text())["steps"].keys() == {"e5", "minilm"}
    r = run(app, ["kb", "reembed", "k", "--embed-model", str(out)])
    assert r.exit_code == 0, r.output
    r = run(app, ["kb", "list", "--json"])
    assert str(out) in r.output
    r = run(app, ["search", "挂失银行卡", "--kb", "k"])
    assert r.exit_code == 0, r.output


def test_mix_interpolates_between_the_base_and_the_tuned_weights():
    """--mix: weights = base + mix * (tuned - base); 0 is the base model, out of range is refused."""
    import torch
    from transformers import AutoModel

    from rag.adapt.tune_embedder import base_folder, interpolate

    src = base_folder("minilm")
    base = AutoModel.from_pretrained(str(src))
    name = "encoder.layer.5.attention.self.query.weight"
    ref = base.state_dict()[name].clone()

    def moved():
        m = AutoModel.from_pretrained(str(src))
        with torch.no_grad():
            m.state_dict()[name].add_(1.0)
        return m

    half = moved()
    interpolate(half, src, 0.5)
    assert torch.allclose(half.state_dict()[name], ref + 0.5, atol=1e-6)
    zero = moved()
    interpolate(zero, src, 0.0)
    assert torch.allclose(zero.state_dict()[name], ref, atol=1e-6)
    full = moved()
    interpolate(full, src, 1.0)
    assert torch.allclose(full.state_dict()[name], ref + 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="between 0 and 1"):
        interpolate(full, src, 1.5)


@pytest.mark.slow
def test_reembed_into_a_new_kb_leaves_the_source_as_it_was(manager, kb_pairs, tmp_path, monkeypatch):
    """--into: the re-embedded copy becomes a new KB (crash-safe and resumable like in place); the source KB
    keeps its model and vectors; an existing KB is never overwritten."""
    out = tmp_path / "tuned"
    _tune_minilm(manager, kb_pairs, out, measure=False)
    src = manager.open("t")
    n_docs, chunk = len(src.documents()), src.doc_chunks(src.documents()[0].doc_id)[0]
    q = manager.encoder("minilm").encode_queries(["lost card"])[0]
    before = src.search_dense(q, 3)
    src.close()

    resume = kill_reembed_at_second_batch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        manager.reembed("t", str(out), progress=False, batch_docs=1, into="t-tuned")
    assert not (manager.home / "t-tuned").exists() and (manager.home / ".t-tuned.reembed" / "kb.sqlite").exists()
    resume()
    res = manager.reembed("t", str(out), progress=False, batch_docs=1, into="t-tuned")
    assert res["kb"] == "t-tuned" and res["source"] == "t" and res["reembedded"] == n_docs - 1

    src, copy = manager.open("t"), manager.open("t-tuned")
    try:
        assert src.embed_model == "minilm" and copy.embed_model == str(out)
        assert src.search_dense(q, 3) == before  # the source's vectors are untouched
        assert len(copy.documents()) == n_docs and copy.doc_chunks(chunk.doc_id)[0].text == chunk.text
        tuned_q = manager.encoder(copy.embed_model).encode_queries(["lost card"])[0]
        assert copy.search_dense(tuned_q, 1)
    finally:
        src.close()
        copy.close()
    assert not (manager.home / ".t-tuned.reembed").exists()
    with pytest.raises(ValueError, match="already exists"):
        manager.reembed("t", "minilm", progress=False, into="t-tuned")
    # killed between completing the copy and putting it in place: the re-run only puts it in place
    (manager.home / "t-tuned").rename(manager.home / ".t-tuned.reembed")
    res = manager.reembed("t", str(out), progress=False, into="t-tuned")
    assert (res["kb"], res["reembedded"], res["documents"]) == ("t-tuned", 0, n_docs)
    assert (manager.home / "t-tuned" / "kb.sqlite").exists() and not (manager.home / ".t-tuned.reembed").exists()


@pytest.mark.slow
def test_reembed_into_never_replaces_a_kb_made_meanwhile(manager, sample_copy, monkeypatch):
    from indexer.ingest import Ingestor

    real = Ingestor.reembed_documents

    def someone_creates_it(self, docs):
        if not (manager.home / "copy").exists():
            manager.create("copy").close()
        return real(self, docs)

    monkeypatch.setattr(Ingestor, "reembed_documents", someone_creates_it)
    with pytest.raises(ValueError, match="was created while the copy was being made"):
        manager.reembed("t", "minilm", progress=False, into="copy")
    made = manager.open("copy")
    assert made.documents() == []  # the KB made meanwhile is untouched
    made.close()
    assert (manager.home / ".copy.reembed" / "kb.sqlite").exists()  # the finished copy is kept


def test_uploads_during_a_reembed_go_on_and_end_in_the_new_kb(manager, sample_copy, monkeypatch):
    """The bulk of the copy is made while the KB takes writes: a writer that comes during it gets the
    writer lock at once (before, it waited for the whole copy), and what it writes, an added document
    and a deleted one, is in the re-embedded KB (the second pass, under the lock, brings the copy level)."""
    from indexer.ingest import Ingestor
    from indexer.types import Element

    def upload_meanwhile():
        w = manager.open("t", writable=True, lock_timeout=2)  # KBLockedError if the copy held the lock
        try:
            Ingestor(w, manager.encoder(w.embed_model), manager.settings).index_elements(
                [("late", "late.txt", [Element("Safe deposit boxes are rented by the year at every branch.",
                                               "text", "")])], progress=False)
            assert w.delete_document(ids[0])
            w.commit()
        finally:
            w.close()

    before = manager.open("t")
    ids = sorted(d.doc_id for d in before.documents())
    before.close()
    on_first_reembed_batch(monkeypatch, upload_meanwhile)
    res = manager.reembed("t", "e5", progress=False, batch_docs=2)
    kb = manager.open("t")
    try:
        now = sorted(d.doc_id for d in kb.documents())
        assert kb.embed_model == "e5" and now == sorted(ids[1:] + ["late"])  # one added, one deleted
        assert res["documents"] == len(ids)
        q = manager.encoder("e5").encode_queries(["Where can I rent a safe deposit box?"])[0]
        assert kb.search_dense(q, 1)[0][0].doc_id == "late"  # embedded with e5 like every other chunk
    finally:
        kb.close()
