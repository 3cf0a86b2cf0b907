"""The local store backend against the shipped store conformance suite (indexer.store.testing)."""
from indexer.store.local.snapshot import IndexParams
from indexer.store.local.store import LocalStore
from indexer.store.testing import DIM, StoreConformance


class TestLocalStore(StoreConformance):
    def make_store(self, folder, writable=True, context_window=0):
        return LocalStore(folder / "kb", IndexParams(dim=DIM), writable=writable, embed_model="test-vectors",
                          context_window=context_window)
