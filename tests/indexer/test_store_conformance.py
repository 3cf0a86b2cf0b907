"""The local store backend against the shipped store conformance suite (indexer.store.testing)."""
from indexer.store.local.snapshot import IndexParams
from indexer.store.local.store import LocalStore
from indexer.store.testing import DIM, StoreConformance


class TestLocalStore(StoreConformance):
    def make_store(self, folder, writable=True, context_window=0):
        return LocalStore(folder / "kb", IndexParams(dim=DIM), writable=writable, embed_model="test-vectors",
                          context_window=context_window)


def test_a_catalog_made_before_page_breaks_is_read_then_gains_them(tmp_path):
    """A KB's catalog from before chunks kept their page breaks (no page_breaks column): a reader reads it
    (each chunk on its first page); the first writer adds the column, and what it writes keeps them."""
    import sqlite3

    import numpy as np

    from indexer.store.base import text_hash
    from indexer.store.testing import put, vec
    from indexer.tokenize import tokenize
    from indexer.types import Chunk, DocumentInfo

    def store(writable):
        return LocalStore(tmp_path / "kb", IndexParams(dim=DIM), writable=writable, embed_model="test-vectors")

    w = store(True)
    put(w, "old", ["written before page breaks"], source="/docs/old.pdf")
    w.commit()
    w.close()
    db = sqlite3.connect(tmp_path / "kb" / "kb.sqlite")
    db.execute("UPDATE chunks SET page = 2")
    db.execute("ALTER TABLE chunks DROP COLUMN page_breaks")
    db.commit()
    db.close()
    [old] = store(False).doc_chunks("old")
    assert (old.page, old.page_breaks, old.page_end) == (2, (), 2)
    w = store(True)
    text = "The annual fee is waived for\ncustomers over 65."
    w.replace_document(DocumentInfo("new", "/docs/new.pdf", "h", 10, 1, "2026-01-01T00:00:00+00:00"),
                       [Chunk("new:0", "new", 0, text, "T", 3, 0, ((29, 4),))], [tokenize(text)],
                       np.vstack([vec(7)]), [text_hash(text)])
    w.commit()
    r = store(False)
    assert [(c.page, c.page_end) for c in r.doc_chunks("old") + r.doc_chunks("new")] == [(2, 2), (3, 4)]
