"""The store conformance suite, shipped with the package: every backend passes it with one import.

    from indexer.store.testing import StoreConformance

    class TestMyStore(StoreConformance):
        def make_store(self, folder, writable=True, context_window=0):
            return MyStore(folder / "kb", dim=DIM, writable=writable, embed_model="test-vectors",
                           context_window=context_window)

        def drop_kb(self, folder):        # delete the KB so that one of the same name can be created
            ...

Needs pytest (a dev dependency); vectors are random unit vectors of `DIM` dimensions, texts are short
English and Chinese strings tokenized by indexer.tokenize.
"""
from __future__ import annotations

import numpy as np
import pytest

from indexer.store.base import Store, text_hash
from indexer.tokenize import tokenize
from indexer.types import Chunk, DocumentInfo, Filters

DIM = 16


def vec(seed):
    v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def put(store, doc_id, texts, source=None, tags=None, seed=0):
    chunks = [Chunk(f"{doc_id}:{i}", doc_id, i, t, title="T") for i, t in enumerate(texts)]
    vecs = np.vstack([vec(seed + i) for i in range(len(texts))])
    info = DocumentInfo(doc_id, source or f"/docs/{doc_id}.txt", "h-" + "".join(texts), 10, len(texts),
                        "2026-01-01T00:00:00+00:00", tags or {})
    store.replace_document(info, chunks, [tokenize(t) for t in texts], vecs, [text_hash(t) for t in texts])
    return vecs


class StoreConformance:
    """Subclass it in a test module and implement `make_store` (and `drop_kb` if the KB is not one folder)."""

    def make_store(self, folder, writable: bool = True, context_window: int = 0) -> Store:
        raise NotImplementedError

    def drop_kb(self, folder) -> None:
        import shutil

        shutil.rmtree(folder / "kb")

    @pytest.fixture
    def factory(self, tmp_path):
        return lambda writable=True, **kw: self.make_store(tmp_path, writable, **kw)

    def test_add_search_both_indexes(self, factory):
        s = factory()
        vecs = put(s, "a", ["wire transfer fees", "card replacement"], seed=1)
        put(s, "b", ["信用卡挂失流程", "opening hours"], seed=10)
        s.commit()
        dense = s.search_dense(vecs[1], 2)
        assert dense[0][0].chunk_id == "a:1" and dense[0][1] == pytest.approx(1.0, abs=1e-4)
        sparse = s.search_sparse(tokenize("信用卡挂失"), 5)
        assert [r.chunk_id for r, _ in sparse] == ["b:0"]
        assert sparse[0][0].source == "/docs/b.txt" and sparse[0][0].text == "信用卡挂失流程"
        assert {d.doc_id for d in s.documents()} == {"a", "b"}

    def test_replace_removes_old_chunks(self, factory):
        s = factory()
        put(s, "a", ["old overdraft text"], seed=1)
        s.commit()
        put(s, "a", ["new savings text"], seed=2)
        s.commit()
        assert s.search_sparse(tokenize("overdraft"), 5) == []
        assert [r.chunk_id for r, _ in s.search_sparse(tokenize("savings"), 5)] == ["a:0"]
        assert s.document("a").chunks == 1

    def test_delete_is_never_returned_again(self, factory):
        s = factory()
        v = put(s, "a", ["mortgage rates"], seed=1)
        put(s, "b", ["mortgage calculator"], seed=5)
        s.commit()
        assert s.delete_document("a") and not s.delete_document("missing")
        s.commit()
        assert all(r.doc_id != "a" for r, _ in s.search_dense(v[0], 10))
        assert all(r.doc_id != "a" for r, _ in s.search_sparse(tokenize("mortgage"), 10))
        s.close()
        s = factory(False)
        assert s.document("a") is None and all(r.doc_id != "a" for r, _ in s.search_dense(v[0], 10))

    def test_filters(self, factory):
        s = factory()
        put(s, "a", ["loan policy"], source="/x/a.md", tags={"dept": "retail"}, seed=1)
        put(s, "b", ["loan rates"], source="/x/b.md", tags={"dept": "corporate"}, seed=2)
        s.commit()
        q = tokenize("loan")
        assert {r.doc_id for r, _ in s.search_sparse(q, 10, Filters.make(doc_ids=["b"]))} == {"b"}
        assert {r.doc_id for r, _ in s.search_sparse(q, 10, Filters.make(sources=["/x/a.md"]))} == {"a"}
        assert {r.doc_id for r, _ in s.search_dense(vec(1), 10, Filters.make(tags={"dept": "corporate"}))} == {"b"}
        assert s.search_dense(vec(1), 10, Filters.make(tags={"dept": "nobody"})) == []

    def test_persists_and_readers_refresh(self, factory):
        w = factory()
        put(w, "a", ["branch hours"], seed=1)
        w.commit()
        r = factory(False)
        assert len(r.search_sparse(tokenize("branch"), 5)) == 1
        put(w, "b", ["branch address"], seed=2)
        w.commit()
        r.refresh()
        assert len(r.search_sparse(tokenize("branch"), 5)) == 2
        with pytest.raises(PermissionError):
            r.delete_document("a")

    def test_cached_vectors(self, factory):
        s = factory()
        v = put(s, "a", ["foreign exchange"], seed=3)
        s.commit()
        got = s.cached_vectors([text_hash("foreign exchange"), "nope"])
        np.testing.assert_allclose(got[text_hash("foreign exchange")], v[0])
        assert "nope" not in got

    def test_term_coverage(self, factory):
        s = factory()
        put(s, "a", ["wire transfer fees"], seed=1)
        s.commit()
        assert s.term_coverage(tokenize("wire fees")) == 1.0
        assert s.term_coverage(tokenize("wire 转账")) == 0.5
        assert s.term_coverage([]) == 0.0
        assert s.known_terms(tokenize("wire 转账 fees wire")) == {"wire", "fee"} and s.known_terms([]) == set()

    def test_cache_generation_grows_with_commits_and_across_recreation(self, factory, tmp_path):
        s = factory()
        g0 = s.cache_generation()
        put(s, "a", ["branch hours"], seed=1)
        s.commit()
        put(s, "b", ["branch address"], seed=2)
        s.commit()
        g2 = s.cache_generation()
        assert g2 >= g0 + 2
        s.close()
        self.drop_kb(tmp_path)  # delete the KB, then create one of the same name
        fresh = factory()
        # an answer cached (or in flight) for the old KB can never pass for the new one's
        assert fresh.cache_generation() > g2
        fresh.close()

    def test_context_window_is_fixed_at_creation(self, factory):
        s = factory(context_window=2)
        assert (s.embed_model, s.dim, s.context_window) == ("test-vectors", DIM, 2)
        s.close()
        # reopened (by a reader, or a writer configured otherwise), the KB keeps the window it was built with
        assert factory(writable=False).context_window == 2
        assert factory(context_window=0).context_window == 2

    def test_meta_round_trip_and_visible_to_readers(self, factory):
        w = factory()
        assert w.get_meta("refusal_threshold") is None and w.get_meta("missing", "d") == "d"
        w.set_meta("refusal_threshold", "0.25")
        w.commit()
        assert factory(False).get_meta("refusal_threshold") == "0.25"
        w.set_meta("tuned", "yes")
        items = factory(False).meta_items()
        assert items["refusal_threshold"] == "0.25" and items["tuned"] == "yes"
        assert items["embed_model"] == "test-vectors"  # the store's own keys too

    def test_a_writer_of_a_deleted_kb_is_fenced_off(self, factory, tmp_path):
        """Deleting a KB while a writer has it open, then creating one of the same name: the old
        writer's later writes fail and never reach the new KB."""
        from indexer.store.base import KBGoneError

        old = factory()
        put(old, "a", ["old tenant secret"], seed=1)
        old.commit()
        self.drop_kb(tmp_path)
        fresh = factory()
        put(fresh, "b", ["new tenant text"], seed=2)
        fresh.commit()
        with pytest.raises(KBGoneError):
            put(old, "c", ["written after the delete"], seed=3)
            old.commit()
        reader = factory(False)
        assert [r.doc_id for r, _ in reader.search_sparse(tokenize("tenant"), 10)] == ["b"]
        assert reader.search_sparse(tokenize("secret"), 10) == []

    def test_a_reader_knows_when_its_kb_left_the_name(self, factory, tmp_path):
        """replaced(): false while the KB it opened is the one under the name, whatever is written to it;
        true once that KB is deleted, and still true when another KB of the name is created."""
        w = factory()
        put(w, "a", ["branch hours"], seed=1)
        w.commit()
        reader = factory(False)
        put(w, "b", ["branch address"], seed=2)
        w.commit()
        w.close()
        assert not reader.replaced()
        self.drop_kb(tmp_path)
        assert reader.replaced()
        fresh = factory()
        assert reader.replaced() and not fresh.replaced() and not factory(False).replaced()
        fresh.close()

    def test_reads_by_document_and_source_and_settings_through_a_reader(self, factory):
        """doc_chunks in reading order, documents_by_source, and KB settings written through a read-only
        store (rag/adapt/tune_refusal.py stores the refusal threshold through the pipeline's reader)."""
        w = factory()
        put(w, "a", ["first part", "second part", "third part"], source="/x/a.md", seed=1)
        put(w, "b", ["other"], source="/x/b.md", seed=5)
        w.commit()
        r = factory(False)
        assert [c.chunk_id for c in r.doc_chunks("a")] == ["a:0", "a:1", "a:2"] and r.doc_chunks("zz") == []
        assert [d.doc_id for d in r.documents_by_source("/x/a.md")] == ["a"] and r.documents_by_source("/n") == []
        r.set_meta("refusal_threshold", "0.5")
        assert factory(False).get_meta("refusal_threshold") == "0.5"

    def test_a_chunk_keeps_the_pages_it_runs_over(self, factory):
        """A chunk crossing page breaks (indexer.page_breaks) is read back with them, by document and by
        search; one on a single page, or without pages, has none."""
        w = factory()
        texts = ["The annual fee is waived for\ncustomers over 65.", "第三页的内容。", "no pages here"]
        chunks = [Chunk("a:0", "a", 0, texts[0], "T", 3, 0, ((29, 4),)), Chunk("a:1", "a", 1, texts[1], "T", 3),
                  Chunk("a:2", "a", 2, texts[2], "T")]
        info = DocumentInfo("a", "/docs/a.pdf", "h-a", 10, 3, "2026-01-01T00:00:00+00:00")
        vecs = np.vstack([vec(i) for i in range(3)])
        w.replace_document(info, chunks, [tokenize(t) for t in texts], vecs, [text_hash(t) for t in texts])
        w.commit()
        r = factory(False)
        read = r.doc_chunks("a")
        assert [(c.page, c.page_breaks, c.page_end) for c in read] == [(3, ((29, 4),), 4), (3, (), 3),
                                                                       (None, (), None)]
        found = {rec.chunk_id: rec for rec, _ in r.search_dense(vecs[0], 3) + r.search_sparse(tokenize("waived"), 3)}
        assert found["a:0"].page_breaks == ((29, 4),) and found["a:0"].page_end == 4
