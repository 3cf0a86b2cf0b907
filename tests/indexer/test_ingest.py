"""End to end ingestion on real files with the real MiniLM model, FAISS and BM25."""
from pathlib import Path

import pytest

from indexer.ingest import Ingestor, delete
from indexer.tokenize import tokenize
from rag.retrieval.hybrid import HybridRetriever


def ingest(manager, paths, kb="t", tags=None):
    store = manager.open(kb, writable=True, create=True)
    try:
        return Ingestor(store, manager.encoder(), manager.settings).index_paths([str(p) for p in paths], tags,
                                                                                progress=False)
    finally:
        store.close()


def search(manager, q, kb="t", k=5, mode=None):
    store = manager.open(kb)
    try:
        return HybridRetriever(store, manager.encoder()).run(q, k, mode=mode)
    finally:
        store.close()


def test_index_and_search_en_zh(manager, sample_copy):
    rep = ingest(manager, [sample_copy], kb="fresh")
    assert rep.count("indexed") == 5 and not rep.failed
    assert ingest(manager, [sample_copy]).count("unchanged") == 5
    hits = search(manager, "How do I report a stolen debit card?")
    assert "lost_or_stolen_cards" in hits[0].source
    assert hits[0].chunk_id.startswith(hits[0].doc_id + ":")
    zh = search(manager, "银行卡丢失怎么挂失", mode="bm25")
    assert "card_loss_reporting" in zh[0].source and "挂失" in zh[0].text
    pdf = [h for h in search(manager, "mortgage down payment", k=10) if h.source.endswith(".pdf")]
    assert pdf and pdf[0].page is not None


def test_reindex_unchanged_changes_nothing(manager, sample_copy):
    ingest(manager, [sample_copy])
    store = manager.open("t")
    gen, snap = store.catalog.generation(), (store.folder / "indexes" / "CURRENT").read_text()
    store.close()
    rep = ingest(manager, [sample_copy])
    assert rep.count("unchanged") == 5 and rep.count("indexed") == 0
    store = manager.open("t")
    assert store.catalog.generation() == gen and (store.folder / "indexes" / "CURRENT").read_text() == snap
    store.close()


def test_changed_file_replaces_its_chunks(manager, sample_copy):
    ingest(manager, [sample_copy])
    f = sample_copy / "account_fees_en.md"
    f.write_text("# Fees\n\nThe zebra maintenance fee is 7 dollars per month.\n", encoding="utf-8")
    rep = ingest(manager, [sample_copy])
    assert rep.count("updated") == 1 and rep.count("unchanged") == 4
    hits = search(manager, "zebra maintenance fee", mode="bm25")
    assert hits[0].source.endswith("account_fees_en.md") and "zebra" in hits[0].text
    store = manager.open("t")
    doc = [d for d in store.documents() if d.source.endswith("account_fees_en.md")][0]
    assert doc.chunks == 1 and len(store.doc_chunks(doc.doc_id)) == 1
    store.close()


def test_delete_by_path_everywhere(manager, sample_copy):
    ingest(manager, [sample_copy])
    target = sample_copy / "wire_transfers_en.html"
    store = manager.open("t", writable=True)
    assert delete(store, str(target))
    store.close()
    for mode in ("dense", "bm25", "hybrid"):
        assert all("wire_transfers" not in h.source for h in search(manager, "wire transfer cut-off time", k=20, mode=mode))


def test_prune_removes_only_the_gone_files_of_the_given_folder(manager, tmp_path, monkeypatch):
    """`rag index FOLDER --prune`: documents of files deleted from the folder, or now hidden, go; those of other
    folders, uploads (ids of their own), and files indexed by a relative path from elsewhere stay."""
    school, other, elsewhere = tmp_path / "school", tmp_path / "other", tmp_path / "elsewhere"
    for folder in (school / "sub", other, elsewhere / "school"):
        folder.mkdir(parents=True)
    (school / "fees.txt").write_text("Tuition is due on 1 September.\n")
    (school / "sub" / "bus.csv").write_text("route,fare\nnorth,12 dollars\n")
    (school / "sub" / "uniform.md").write_text("# Uniforms\n\nUniforms are sold at the zebra shop.\n")
    (other / "library.txt").write_text("The library opens at 8 a.m.\n")
    (elsewhere / "school" / "old.txt").write_text("Parking is behind the gym.\n")
    ingest(manager, [school, other])
    monkeypatch.chdir(elsewhere)  # indexed as "school/old.txt": a relative source that means another file here
    ingest(manager, ["school"])
    monkeypatch.chdir(tmp_path)
    store = manager.open("t", writable=True)
    upload = Ingestor(store, manager.encoder(), manager.settings).index_files(
        [(str(school / "upload.txt"), other / "library.txt", "upload-1")], progress=False)
    store.close()
    assert upload.count("indexed") == 1 and not (school / "upload.txt").exists()

    (school / "sub" / "bus.csv").unlink()
    (school / "sub" / ".old").mkdir()
    (school / "sub" / "uniform.md").rename(school / "sub" / ".old" / "uniform.md")
    store = manager.open("t", writable=True)
    report = Ingestor(store, manager.encoder(), manager.settings).index_paths([str(school)], progress=False,
                                                                              prune=True)
    store.close()
    removed = [r for r in report.results if r.status == "removed"]
    assert sorted(r.source for r in removed) == [str(school / "sub" / "bus.csv"), str(school / "sub" / "uniform.md")]
    assert report.count("unchanged") == 1 and not report.failed
    store = manager.open("t")
    left = sorted(d.source for d in store.documents())
    store.close()
    assert left == sorted([str(school / "fees.txt"), str(other / "library.txt"), "school/old.txt",
                           str(school / "upload.txt")])
    assert all("uniform" not in h.source for h in search(manager, "zebra shop uniforms", mode="bm25"))
    again = ingest(manager, [school])  # not asked to prune: nothing removed
    assert again.count("removed") == 0


def test_prune_of_a_file_or_a_missing_folder_removes_nothing(manager, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Branches open at nine.\n")
    ingest(manager, [folder])
    (folder / "a.txt").unlink()
    (tmp_path / "b.txt").write_text("Branches close at five.\n")
    store = manager.open("t", writable=True)
    for paths in ([str(tmp_path / "b.txt")], [str(tmp_path / "missing")]):
        report = Ingestor(store, manager.encoder(), manager.settings).index_paths(paths, progress=False, prune=True)
        assert report.count("removed") == 0
    assert str(folder / "a.txt") in {d.source for d in store.documents()}
    store.close()


def test_tags_filter(manager, sample_copy, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "note.md").write_text("# Cards\n\nReport a lost card to the branch manager.\n")
    ingest(manager, [sample_copy], tags={"dept": "retail"})
    ingest(manager, [other], tags={"dept": "internal"})
    from indexer.types import Filters

    store = manager.open("t")
    hits = HybridRetriever(store, manager.encoder()).run("lost card", 10, Filters.make(tags={"dept": "internal"}))
    store.close()
    assert hits and {h.source for h in hits} == {str(other / "note.md")}


def test_bad_files_do_not_stop_the_batch(manager, sample_copy, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_text("")
    (bad / "junk.txt").write_bytes(bytes(range(256)) * 3)
    (bad / "broken.pdf").write_bytes(b"%PDF-1.4\n this is not really a pdf")
    (bad / "data.xyz").write_text("unsupported")
    (bad / "good.md").write_text("# Safe deposit boxes\n\nBoxes rent for 80 dollars a year.\n")
    manager.settings.max_file_mb = 0.001
    (bad / "big.txt").write_text("large file " * 200)
    rep = ingest(manager, [bad, tmp_path / "missing.txt"])
    reasons = {Path(r.source).name: r.reason for r in rep.failed}
    assert set(reasons) == {"empty.txt", "junk.txt", "broken.pdf", "data.xyz", "big.txt", "missing.txt"}
    assert "limit" in reasons["big.txt"] and "unsupported" in reasons["data.xyz"]
    assert all(reasons.values())
    assert rep.count("indexed") == 1
    top = search(manager, "safe deposit box rent", mode="bm25")[0]
    assert top.title == "Safe deposit boxes" and "80 dollars" in top.text


def test_a_file_named_only_by_its_extension_is_indexed(manager, tmp_path):
    """`rag index notes/.txt`: refused as 'unsupported file type (none)' before; a folder's hidden files
    are still skipped."""
    (tmp_path / "en").mkdir()
    (tmp_path / "zh").mkdir()
    (tmp_path / "en" / ".txt").write_text("Safe deposit boxes rent for 80 dollars a year.\n")
    (tmp_path / "zh" / ".md").write_text("# 保管箱\n\n保管箱年租金为80元。\n", encoding="utf-8")
    rep = ingest(manager, [tmp_path / "en" / ".txt", tmp_path / "zh" / ".md"])
    assert rep.count("indexed") == 2, [(r.source, r.reason) for r in rep.failed]
    assert "80 dollars" in search(manager, "safe deposit box rent", mode="bm25")[0].text
    assert "80元" in search(manager, "保管箱年租金", mode="bm25")[0].text
    assert ingest(manager, [tmp_path / "en"]).results == []  # hidden in a folder: skipped as before


def test_embeddings_reused_not_recomputed(manager, sample_copy):
    ingest(manager, [sample_copy])
    store = manager.open("t", writable=True)
    calls = []
    enc = manager.encoder()
    orig = enc.encode_passages
    enc.encode_passages = lambda texts, show_progress=False: calls.append(len(texts)) or orig(texts, show_progress)
    try:
        f = sample_copy / "lost_or_stolen_cards_en.txt"
        f.write_text(f.read_text() + "\n\nA new closing paragraph about card fraud alerts.\n")
        Ingestor(store, enc, manager.settings).index_paths([str(sample_copy)], progress=False)
    finally:
        enc.encode_passages = orig
        store.close()
    total = search(manager, "card fraud alerts", mode="bm25")
    assert "fraud alerts" in total[0].text
    store = manager.open("t")
    n_chunks = len(store.doc_chunks(store.documents_by_source(str(f))[0].doc_id))
    store.close()
    # only the changed tail chunk and the neighbour whose window (indexer.embed.context) changed, each with
    # its window text: not the whole file
    assert sum(calls) <= 4 < 2 * n_chunks


def test_tokens_of_chinese_chunk_are_words(manager, sample_copy):
    ingest(manager, [sample_copy])
    store = manager.open("t")
    rec = [r for d in store.documents() if "card_loss" in d.source for r in store.doc_chunks(d.doc_id)][0]
    store.close()
    assert len(tokenize(rec.text)) > 3


def test_in_order_keeps_order_and_bounds_the_work_ahead():
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from indexer.ingest import in_order

    lock, started, ahead_max = threading.Lock(), [0], [0]
    taken: list[int] = []

    def work(i: int) -> int:
        with lock:
            started[0] += 1
            ahead_max[0] = max(ahead_max[0], started[0] - len(taken))  # begun but not yet taken
        time.sleep(0.002 * (i % 3))  # later items often finish first
        return i * i

    with ThreadPoolExecutor(4) as pool:
        out = []
        for i, r in enumerate(in_order(pool, work, range(40), ahead=5)):
            out.append(r)
            taken.append(i)
            time.sleep(0.003)  # a slow consumer (the encoder): the producers must wait for it
    assert out == [i * i for i in range(40)]
    # begun but not yet taken, at any time: the window (5) plus the one being handed over
    # (Executor.map, which submits everything at once, reaches ~35 here)
    assert ahead_max[0] <= 6


@pytest.mark.slow  # a long robustness or end-to-end run: make test-all
def test_parallel_parsers_index_the_same_chunks_as_one(tmp_path, minilm, sample_copy):
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager

    chunks = {}
    for workers in (1, 2):
        mgr = KBManager(IndexerSettings(home=tmp_path / f"home{workers}", embed_model="minilm",
                                        parse_workers=workers, ingest_batch_chunks=8),
                        encoders={"minilm": minilm})
        rep = ingest(mgr, [sample_copy], kb="p")
        assert rep.count("indexed") == 5 and not rep.failed
        assert [r.source for r in rep.results] == sorted(r.source for r in rep.results)  # file order kept
        store = mgr.open("p")
        chunks[workers] = sorted((c.chunk_id, c.text) for d in store.documents() for c in store.doc_chunks(d.doc_id))
        store.close()
    assert chunks[1] and chunks[1] == chunks[2]


def test_in_order_cancels_what_has_not_started_when_the_consumer_stops():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from indexer.ingest import in_order

    started: list[int] = []
    gate = threading.Event()

    def work(i: int) -> int:
        started.append(i)
        if i:
            gate.wait(5)  # the second file is still parsing when the consumer gives up
        return i

    with ThreadPoolExecutor(1) as pool:
        results = in_order(pool, work, range(100), ahead=8)
        assert next(results) == 0
        results.close()  # the consumer gave up (an exception in the loop body closes it the same way)
        gate.set()
    assert started[:1] == [0] and len(started) <= 2  # the rest of the window was cancelled, not parsed
