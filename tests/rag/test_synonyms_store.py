"""A KB's synonyms kept in its store's settings (rag.synonyms.kb) on both stores, the local one and Milvus
(Lite, in this process): a list as long as the bounds allow is stored and read back, and a reader opened
before a change (another replica) reads the new list after its refresh, as at its next request."""
from __future__ import annotations

from pathlib import Path

import pytest

from indexer.store.local.snapshot import IndexParams
from indexer.store.testing import DIM
from rag.synonyms.kb import store_synonyms, stored_synonyms
from rag.synonyms.matcher import matcher
from rag.synonyms.rules import MAX_RULES, Synonyms, parse


def _local(folder: Path, writable: bool):
    from indexer.store.local.store import LocalStore

    return LocalStore(folder / "kb", IndexParams(dim=DIM), writable=writable, embed_model="test-vectors")


def _milvus(folder: Path, writable: bool):
    pytest.importorskip("milvus_lite")
    from indexer.store.milvus.store import MilvusStore

    return MilvusStore(str(folder / "kb.db"), "kb", IndexParams(dim=DIM), writable=writable, embed_model="test-vectors")


@pytest.fixture(params=["local", "milvus"])
def open_store(request, tmp_path):
    opened = []

    def open_(writable: bool = True):
        store = (_local if request.param == "local" else _milvus)(tmp_path, writable)
        opened.append(store)
        return store
    yield open_
    for store in opened:
        store.close()
    if request.param == "milvus":
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(str(tmp_path / "kb.db"))


def test_the_longest_list_is_stored_and_another_replica_reads_it_at_its_next_request(open_store):
    """Milvus keeps a setting in a VARCHAR of at most 65,535 bytes: a list of a few thousand rules (the bounds
    allow 5,000 and 256 KB, stored as JSON) could not be set on a Milvus KB. It is now kept in parts."""
    writer = open_store()
    writer.commit()
    replica = open_store(writable=False)
    assert stored_synonyms(replica) == Synonyms()
    long = parse("".join(f"挂号费{i}, 诊查费{i}, registration fee {i}\n" for i in range(MAX_RULES - 1))
                 + "A&E, ER => emergency department\n")
    assert len(long.to_json().encode()) > 3 * 65535
    store_synonyms(writer, long)
    replica.refresh()
    assert stored_synonyms(replica) == long
    assert matcher(stored_synonyms(replica)).expansions("where is A&E") == ["emergency department"]
    short = parse("挂号费, 诊查费")
    store_synonyms(writer, short)  # a short list replaces the parts; a cleared list is none
    replica.refresh()
    assert stored_synonyms(replica) == short
    assert not [k for k, v in replica.meta_items().items() if k.startswith("synonyms.") and v]  # no parts left
    store_synonyms(writer, long)
    store_synonyms(writer, Synonyms())
    replica.refresh()
    assert stored_synonyms(replica) == Synonyms()
    assert not [k for k, v in replica.meta_items().items() if k.startswith("synonyms") and v]
