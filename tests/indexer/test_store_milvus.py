"""The Milvus store backend: the shipped conformance suite on Milvus Lite in this process, a round
trip through a `milvus-lite server` over gRPC (as a Milvus server or cluster is reached), the
KBManager wiring, filter quoting, collection naming and the writer locks."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from indexer.config import IndexerSettings  # noqa: E402
from indexer.kbs import KBManager, KBNotFound  # noqa: E402
from indexer.store.base import KBLockedError, text_hash  # noqa: E402
from indexer.store.local.snapshot import IndexParams  # noqa: E402
from indexer.store.milvus import schema as S  # noqa: E402
from indexer.store.milvus.lock import FileLock, RedisLock, ThreadLock  # noqa: E402
from indexer.store.milvus.store import MilvusStore, drop_kb  # noqa: E402
from indexer.store.testing import DIM, StoreConformance, put, vec  # noqa: E402
from indexer.tokenize import tokenize  # noqa: E402
from indexer.types import Filters  # noqa: E402
from tests.conftest import kill_reembed_at_second_batch, on_first_reembed_batch  # noqa: E402


def _release(db: Path) -> None:
    """Stop the in-process Milvus Lite server of `db` (pymilvus starts one per .db path)."""
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(str(db))


class TestMilvusLiteStore(StoreConformance):
    def make_store(self, folder, writable=True, context_window=0):
        return MilvusStore(str(folder / "kb.db"), "kb", IndexParams(dim=DIM), writable=writable,
                           embed_model="test-vectors", context_window=context_window)

    def drop_kb(self, folder):
        assert drop_kb(str(folder / "kb.db"), "kb")

    @pytest.fixture(autouse=True)
    def _lite_server(self, tmp_path):
        yield
        _release(tmp_path / "kb.db")

    def test_bm25_counts_a_repeated_query_term_but_takes_no_term_weights(self, factory):
        """A weight could only be passed as whole repeats of a term, so BM25 feedback does not run on Milvus."""
        s = factory()
        put(s, "a", ["loan policy for loan rates"], seed=1)
        put(s, "b", ["贷款利率 savings rates"], seed=2)
        s.commit()
        once, twice = (dict((r.doc_id, sc) for r, sc in s.search_sparse(q, 5))
                       for q in (tokenize("loan 贷款"), tokenize("loan loan 贷款 贷款")))
        assert twice == pytest.approx({d: 2 * sc for d, sc in once.items()}) and set(once) == {"a", "b"}
        assert not s.sparse_weights
        with pytest.raises(ValueError, match="no per-term weights"):
            s.search_sparse(tokenize("loan"), 5, weights={"loan": 0.5})

    def test_odd_ids_tags_and_sources_filter_safely(self, factory):
        s = factory()
        odd = 'we"ird\\id \'x\' ]) or (1 == 1'
        put(s, odd, ["loan policy"], source='/x/"quoted" dir/a.md', tags={'de"pt': 'ret\\ail', "k": "中文"}, seed=1)
        put(s, "plain", ["loan rates"], seed=2)
        s.commit()
        q = tokenize("loan")
        assert {r.doc_id for r, _ in s.search_sparse(q, 10, Filters.make(doc_ids=[odd]))} == {odd}
        assert {r.doc_id for r, _ in s.search_sparse(q, 10, Filters.make(sources=['/x/"quoted" dir/a.md']))} == {odd}
        hits = s.search_dense(vec(1), 10, Filters.make(tags={'de"pt': 'ret\\ail', "k": "中文"}))
        assert [r.doc_id for r, _ in hits] == [odd] and hits[0][0].tags["k"] == "中文"
        assert s.document(odd).source == '/x/"quoted" dir/a.md' and [c.doc_id for c in s.doc_chunks(odd)] == [odd]
        assert s.delete_document(odd) and s.document(odd) is None
        assert {r.doc_id for r, _ in s.search_sparse(q, 10)} == {"plain"}

    def test_bm25_scores_equal_the_local_store(self, factory, tmp_path):
        from indexer.store.local.store import LocalStore

        texts = {"a": ["wire transfer fees and wire limits", "card replacement"],
                 "b": ["信用卡挂失流程与费用", "opening hours of the branch"],
                 "c": ["fees for foreign wire transfers", "C++ naïve café résumé 3.14 e-mail"]}
        m = factory()
        local = LocalStore(tmp_path / "local", IndexParams(dim=DIM), writable=True, embed_model="test-vectors")
        for s in (m, local):
            for i, (doc, t) in enumerate(texts.items()):
                put(s, doc, t, seed=10 * i)
            s.commit()
        for query in ("wire fees", "信用卡 费用", "branch hours wire", "naïve café", "e-mail 3.14", "c++"):
            toks = tokenize(query)
            got = [(r.chunk_id, round(sc, 4)) for r, sc in m.search_sparse(toks, 10)]
            want = [(r.chunk_id, round(sc, 4)) for r, sc in local.search_sparse(toks, 10)]
            assert got == want, query
        local.close()

    def test_second_writer_waits_then_gives_up(self, factory):
        w = factory()
        with pytest.raises(KBLockedError):
            MilvusStore(w.uri, "kb", IndexParams(dim=DIM), writable=True, lock_timeout=0.3)
        w.close()
        factory().close()  # released on close

    def test_many_rows_past_one_query_page(self, factory, monkeypatch):
        monkeypatch.setattr(S, "QUERY_MAX", 3)
        s = factory()
        for i in range(4):
            put(s, f"d{i}", [f"text {i} a", f"text {i} b"], seed=i * 2)
        s.commit()
        assert len(s.documents()) == 4 and len(s.cached_vectors([])) == 0
        assert sum(len(s.doc_chunks(f"d{i}")) for i in range(4)) == 8


def test_collection_names_are_one_to_one_and_side_collections_are_not_kbs():
    for kb in ("default", "a.b-c_d", "a_0", "A-", "x__docs", "9"):
        base = S.collection_base(kb)
        assert S.kb_name(base) == kb and "__" not in base
        assert all(S.kb_name(n) is None for n in S.Names.of(kb).all()[1:])
    assert S.collection_base("a_1") != S.collection_base("a.")
    assert S.kb_name("other_collection") is None


def test_bm25_spelling_keeps_every_token_one_word():
    import re

    toks = ["wire", "x86", "信用卡", "naïve", "c'est", "_x", "e"]
    spelled = S.bm25_text(toks).split(" ")
    assert len(spelled) == len(toks) and len(set(spelled)) == len(toks)
    assert all(re.fullmatch(r"[a-z0-9_]+", w) for w in spelled) and spelled[:2] == ["wire", "x86"]


# ---- locks --------------------------------------------------------------------------
def test_thread_and_file_locks_exclude_each_other(tmp_path):
    a, b = ThreadLock("k1"), ThreadLock("k1")
    a.acquire(1)
    with pytest.raises(KBLockedError):
        b.acquire(0.2)
    a.release()
    b.acquire(0.2)
    b.release()
    f, g = FileLock(tmp_path / "l.lock"), FileLock(tmp_path / "l.lock")
    f.acquire(1)
    with pytest.raises(KBLockedError):
        g.acquire(0.2)
    f.release()
    g.acquire(0.2)
    g.release()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port}")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_redis_lock_lease_renewal_and_release(tmp_path):
    import redis

    port = _free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc)
        url = f"redis://127.0.0.1:{port}/0"
        a = RedisLock(url, "t:kb", ttl_ms=300)
        a.acquire(1)
        time.sleep(0.8)  # past the ttl: only renewal keeps it
        b = RedisLock(url, "t:kb", ttl_ms=300)
        with pytest.raises(KBLockedError):
            b.acquire(0.3)
        assert a.held
        a.release()
        assert redis.Redis.from_url(url).get("t:kb") is None
        b.acquire(1)
        redis.Redis.from_url(url).set("t:kb", "someone else")  # taken over: b notices at its next renewal
        time.sleep(0.4)
        assert not b.held
        b.release()
        assert redis.Redis.from_url(url).get("t:kb") == b"someone else"  # not ours: left alone
    finally:
        proc.kill()
        proc.wait()


# ---- a Milvus server over gRPC ---------------------------------------------------------
class LiteServer:
    """A `milvus-lite server` subprocess: the same gRPC API as a Milvus server or cluster."""

    def __init__(self, data: Path):
        self.data, self.port = data, _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        exe = Path(sys.executable).with_name("milvus-lite")
        self.proc = subprocess.Popen([str(exe), "server", "--data-dir", str(self.data), "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.proc)

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None:
            self.proc.kill() if kill else self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


@pytest.fixture
def milvus_server(tmp_path):
    server = LiteServer(tmp_path / "milvus-data")
    server.start()
    yield server
    server.stop(kill=True)


def test_server_round_trip_write_search_restart_reopen(milvus_server, tmp_path):
    uri = milvus_server.uri
    w = MilvusStore(uri, "faq.v2-en", IndexParams(dim=DIM, dense_index="hnsw"), writable=True,
                    embed_model="test-vectors", context_window=1, lock_dir=tmp_path / "locks")
    v = put(w, "a", ["wire transfer fees", "card replacement"], tags={"dept": "retail"}, seed=1)
    put(w, "b", ["信用卡挂失流程", "wire limits"], seed=10)
    put(w, "b", ["信用卡挂失流程", "branch hours"], seed=10)  # an update replaces b's chunks
    w.commit()
    w.set_meta("refusal_threshold", "0.25")
    assert [r.chunk_id for r, _ in w.search_sparse(tokenize("wire"), 5)] == ["a:0"]
    assert w.search_dense(v[1], 1)[0][0].chunk_id == "a:1"
    gen = w.cache_generation()
    w.close()

    milvus_server.stop()  # the server goes down and comes back on the same data
    milvus_server.start()

    mgr = KBManager(IndexerSettings(home=tmp_path / "home", store_uri=uri))
    assert mgr.names() == ["faq.v2-en"] and mgr.exists("faq.v2-en") and not mgr.exists("faq")
    r = mgr.open("faq.v2-en")
    assert (r.embed_model, r.dim, r.context_window) == ("test-vectors", DIM, 1)
    assert r.get_meta("refusal_threshold") == "0.25" and r.cache_generation() == gen
    assert [h.chunk_id for h, _ in r.search_sparse(tokenize("信用卡挂失"), 5, Filters.make(doc_ids=["b"]))] == ["b:0"]
    assert r.search_sparse(tokenize("wire limits"), 5)[0][0].chunk_id == "a:0"  # b's old chunk is gone
    assert r.search_dense(v[1], 1, Filters.make(tags={"dept": "retail"}))[0][0].chunk_id == "a:1"
    np.testing.assert_allclose(r.cached_vectors([text_hash("card replacement")])[text_hash("card replacement")],
                               v[1], rtol=1e-6)
    assert r.term_coverage(tokenize("wire 转账")) == 0.5
    assert [d.doc_id for d in r.documents()] == ["a", "b"] and r.document("b").chunks == 2
    with pytest.raises(PermissionError):
        r.delete_document("a")
    r.close()

    w = mgr.open("faq.v2-en", writable=True)  # a writer again, after the restart: row ids continue
    put(w, "c", ["wire fees again"], seed=20)
    w.commit()
    assert len({h.row for h, _ in w.search_sparse(tokenize("wire"), 10)}) == 2
    w.close()

    mgr.delete("faq.v2-en")
    assert mgr.names() == [] and not mgr.exists("faq.v2-en")
    with pytest.raises(KBNotFound):
        mgr.open("faq.v2-en")
    with pytest.raises(KBNotFound):
        mgr.delete("faq.v2-en")


def _bank_on_milvus(tmp_path, db, minilm):
    """A KB 'bank' of four short documents (one Chinese), MiniLM vectors, one setting of its own."""
    from indexer.ingest import Ingestor
    from indexer.types import Element

    mgr = KBManager(IndexerSettings(home=tmp_path / "home", store_uri=str(db), embed_model="minilm"),
                    encoders={"minilm": minilm})
    texts = {"cards": "Report a lost card by calling 1-800-555-0199 at any hour.",
             "wires": "International wire transfers cost $45 and leave the same business day.",
             "hours": "Branches open at 9 a.m. on weekdays; the Marina Plaza branch also opens on Sundays.",
             "zh": "借记卡丢失后请立即致电客服热线挂失。"}
    src = mgr.open("bank", writable=True, create=True, embed_model="minilm")
    Ingestor(src, minilm, mgr.settings).index_elements(
        [(d, f"{d}.txt", [Element(t, "text", "")]) for d, t in texts.items()], progress=False)
    src.set_meta("custom_setting", "kept")
    src.commit()
    src.close()
    return mgr, texts


def test_reembed_in_place_on_milvus_survives_crashes_in_the_copy_and_in_the_swap(tmp_path, minilm, monkeypatch):
    """`rag kb reembed NAME --embed-model M` with the Milvus store: the copy is made in hidden collections
    while the KB serves with its old model, then renamed into its place. A crash while copying leaves the
    KB as it was and the re-run carries on; a crash inside the swap is finished by the re-run. A reader
    that had the KB open learns it was replaced; nothing is left beside the KB."""
    from pymilvus import MilvusClient

    db = tmp_path / "m.db"
    mgr, texts = _bank_on_milvus(tmp_path, db, minilm)
    try:
        reader = mgr.open("bank")
        resume = kill_reembed_at_second_batch(monkeypatch)
        with pytest.raises(KeyboardInterrupt):
            mgr.reembed("bank", "e5", progress=False, batch_docs=1)
        resume()
        assert mgr.names() == ["bank"] and not reader.replaced()
        q = minilm.encode_queries(["How much is an international wire?"])[0]
        assert reader.search_dense(q, 1)[0][0].doc_id == "wires"  # still the MiniLM KB, serving

        real, renames = MilvusClient.rename_collection, []

        def die_on_third(self, old, new, *a, **kw):
            renames.append((old, new))
            if len(renames) == 3:
                raise KeyboardInterrupt
            return real(self, old, new, *a, **kw)

        monkeypatch.setattr(MilvusClient, "rename_collection", die_on_third)
        with pytest.raises(KeyboardInterrupt):
            mgr.reembed("bank", "e5", progress=False, batch_docs=1)
        monkeypatch.setattr(MilvusClient, "rename_collection", real)
        assert renames[0] == (S.Names.of("bank").chunks, S.Names.of("bank", "replaced").chunks)
        assert not mgr.exists("bank")  # killed between moving the KB away and moving its copy in
        res = mgr.reembed("bank", "e5", progress=False, batch_docs=1)
        assert (res["kb"], res["documents"], res["reembedded"]) == ("bank", 4, 0)  # the copy was complete

        assert reader.replaced()
        reader.close()
        kb = mgr.open("bank")
        assert kb.embed_model == "e5" and kb.get_meta("custom_setting") == "kept" and not kb.replaced()
        assert sorted(d.doc_id for d in kb.documents()) == sorted(texts)
        assert kb.doc_chunks("zh")[0].text == texts["zh"]
        q = mgr.encoder("e5").encode_queries(["How much is an international wire?"])[0]
        assert kb.search_dense(q, 1)[0][0].doc_id == "wires"
        assert [r.doc_id for r, _ in kb.search_sparse(tokenize("挂失"), 3)] == ["zh"]
        kb.close()
        client = MilvusClient(str(db))
        assert sorted(client.list_collections()) == sorted(S.Names.of("bank").all())
        w = mgr.open("bank", writable=True)  # the writer lock of the new incarnation is free
        assert w.delete_document("hours")
        w.commit()
        w.close()
    finally:
        _release(db)


def test_writes_during_an_in_place_reembed_on_milvus_go_on_and_end_in_it(tmp_path, minilm, monkeypatch):
    """The bulk of the copy is made without the KB's writer lock: a writer that comes meanwhile gets it at
    once, and its writes (a document added, one deleted) are in the KB the copy becomes."""
    from indexer.ingest import Ingestor
    from indexer.types import Element

    db = tmp_path / "m.db"
    mgr, texts = _bank_on_milvus(tmp_path, db, minilm)

    def write_meanwhile():
        w = mgr.open("bank", writable=True, lock_timeout=2)  # KBLockedError if the copy held the lock
        try:
            Ingestor(w, minilm, mgr.settings).index_elements(
                [("boxes", "boxes.txt", [Element("Safe deposit boxes are rented by the year.", "text", "")])],
                progress=False)
            assert w.delete_document("hours")
            w.commit()
        finally:
            w.close()

    on_first_reembed_batch(monkeypatch, write_meanwhile)
    try:
        mgr.reembed("bank", "e5", progress=False, batch_docs=1)
        kb = mgr.open("bank")
        assert kb.embed_model == "e5"
        assert sorted(d.doc_id for d in kb.documents()) == ["boxes", "cards", "wires", "zh"]
        q = mgr.encoder("e5").encode_queries(["Where can I rent a safe deposit box?"])[0]
        assert kb.search_dense(q, 1)[0][0].doc_id == "boxes"
        kb.close()
    finally:
        _release(db)


def test_reembed_into_a_copy_on_milvus_resumes_after_a_crash(tmp_path, minilm, monkeypatch):
    """`rag kb reembed NAME --embed-model M --into NEW` with the Milvus store: the copy is a KB of its own,
    unfinished until every document is in; a re-run after a crash carries on; the source keeps its model
    and vectors."""
    db = tmp_path / "m.db"
    mgr, texts = _bank_on_milvus(tmp_path, db, minilm)
    try:
        resume = kill_reembed_at_second_batch(monkeypatch)
        with pytest.raises(KeyboardInterrupt):
            mgr.reembed("bank", "e5", progress=False, batch_docs=1, into="bank-e5")
        half = mgr.open("bank-e5")
        assert half.get_meta(KBManager.REEMBED_DONE) == "0" and len(half.documents()) == 1
        half.close()
        resume()
        res = mgr.reembed("bank", "e5", progress=False, batch_docs=1, into="bank-e5")
        assert (res["kb"], res["source"], res["documents"], res["reembedded"]) == ("bank-e5", "bank", 4, 3)

        src, copy = mgr.open("bank"), mgr.open("bank-e5")
        assert (src.embed_model, copy.embed_model) == ("minilm", "e5")
        assert copy.get_meta(KBManager.REEMBED_DONE) == "1" and copy.get_meta("custom_setting") == "kept"
        assert [d.doc_id for d in copy.documents()] == [d.doc_id for d in src.documents()]
        assert copy.doc_chunks("zh")[0].text == texts["zh"]
        q = mgr.encoder("e5").encode_queries(["How much is an international wire?"])[0]
        assert copy.search_dense(q, 1)[0][0].doc_id == "wires"  # e5 vectors, searched with e5
        q = minilm.encode_queries(["How much is an international wire?"])[0]
        assert src.search_dense(q, 1)[0][0].doc_id == "wires"  # the source still answers with MiniLM
        src.close()
        copy.close()
        with pytest.raises(ValueError, match="already exists \\(a finished copy\\)"):
            mgr.reembed("bank", "e5", progress=False, into="bank-e5")
    finally:
        _release(db)


@pytest.mark.slow  # ~7 s: the server killed and started again
def test_a_writer_with_the_server_away_sees_an_outage_not_a_deleted_or_new_kb(milvus_server, tmp_path):
    """A Milvus restart under a job's writer: what it meets must read as the server away (api.outage keeps
    the file pending and the job tries again), never as the KB deleted ('deleted while it was being
    written') or missing (the path that creates a KB: 'a new knowledge base needs an embedding model'),
    both of which failed the file for good (tests/cluster/test_outages.py, once in a full run)."""
    from pymilvus import MilvusException

    from api.outage import outage_of

    uri, locks = milvus_server.uri, tmp_path / "locks"
    w = MilvusStore(uri, "bank", IndexParams(dim=DIM), writable=True, embed_model="test-vectors", lock_dir=locks)
    put(w, "fees", ["wire transfer fees"], seed=1)
    put(w, "loss", ["信用卡挂失流程"], seed=2)
    w.commit()
    milvus_server.stop(kill=True)
    with pytest.raises(MilvusException) as mid_job:  # the writer's next document
        put(w, "hours", ["branch hours"], seed=3)
    assert outage_of(mid_job.value) is not None, mid_job.value
    w.close()
    with pytest.raises(MilvusException) as opening:  # the job's next file opens the KB as a worker does
        MilvusStore(uri, "bank", IndexParams(dim=0), writable=True, lock_dir=locks)
    assert outage_of(opening.value) is not None, opening.value

    milvus_server.start()
    w = MilvusStore(uri, "bank", IndexParams(dim=0), writable=True, lock_dir=locks)
    put(w, "hours", ["营业时间 branch hours"], seed=3)
    w.commit()
    assert [d.doc_id for d in w.documents()] == ["fees", "hours", "loss"]
    assert w.search_sparse(tokenize("挂失"), 1)[0][0].doc_id == "loss"
    w.close()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_a_writer_whose_redis_lock_was_lost_stops_at_its_next_write(tmp_path):
    """Redis loses its data (restarted without persistence) while writer A holds a KB's lock: writer B
    takes the lock at once. A must stop at its next write, not at its next renewal (up to 10 s later,
    both writing the KB meanwhile). While Redis is only unreachable, A's lease still counts."""
    import redis

    from cli.testing.redis_server import RedisServer

    db = str(tmp_path / "kb.db")
    with RedisServer(tmp_path / "redis") as server:
        def locks(name):
            return RedisLock(server.url, f"t:{name}", what=name)

        a = MilvusStore(db, "bank", IndexParams(dim=DIM), writable=True, embed_model="test-vectors", locks=locks)
        try:
            put(a, "fees", ["wire transfer fees"], seed=1)
            server.stop()  # unreachable, not yet lost: the lease runs (30 s) and A goes on
            put(a, "hours", ["branch hours"], seed=2)
            server.start()  # back without its data: the lock is free for anyone
            b = MilvusStore(db, "bank", IndexParams(dim=0), writable=True, locks=locks, lock_timeout=2)
            with pytest.raises(KBLockedError, match="lost the writer lock"):
                put(a, "loss", ["信用卡挂失流程"], seed=3)
            with pytest.raises(KBLockedError):
                a.delete_document("fees")
            put(b, "loss", ["信用卡挂失流程 挂失"], seed=4)
            b.commit()
            a.close()  # releasing a lock that is not A's leaves B's alone
            assert redis.Redis.from_url(server.url).get(b._lock.key) == b._lock.token.encode()
            put(b, "cards", ["card replacement"], seed=5)
            assert [d.doc_id for d in b.documents()] == ["cards", "fees", "hours", "loss"]
            assert b.search_sparse(tokenize("挂失"), 1)[0][0].doc_id == "loss"
            b.close()
        finally:
            a.close()
            _release(tmp_path / "kb.db")


def _chunks_collection_before_page_breaks(client, name: str) -> None:
    """The chunks collection as versions before page breaks made it (schema.chunk_schema without the
    page_breaks field), with its indexes."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("row", DataType.INT64, is_primary=True)
    for field in ("chunk_id", "doc_id"):
        s.add_field(field, DataType.VARCHAR, max_length=S.ID_MAX)
    s.add_field("source", DataType.VARCHAR, max_length=S.VARCHAR_MAX)
    s.add_field("ordinal", DataType.INT64)
    s.add_field("text", DataType.VARCHAR, max_length=S.VARCHAR_MAX)
    s.add_field("title", DataType.VARCHAR, max_length=S.VARCHAR_MAX)
    s.add_field("page", DataType.INT64, nullable=True)
    s.add_field("tags", DataType.JSON)
    s.add_field("text_hash", DataType.VARCHAR, max_length=64)
    s.add_field("bm25_text", DataType.VARCHAR, max_length=S.VARCHAR_MAX, enable_analyzer=True,
                analyzer_params=S.ANALYZERS[-1])
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["bm25_text"],
                            output_field_names=["sparse"]))
    S.create_collection(client, name, s, S.chunk_index(client, "flat", 16))


def test_a_kb_made_before_page_breaks_is_written_and_read_without_them(tmp_path):
    """Milvus adds no field to an existing collection: a KB whose chunks collection lacks page_breaks takes
    chunks that cross pages (each then shown on its first page) and reads them back, by document and by
    search."""
    from indexer.types import Chunk, DocumentInfo

    db = str(tmp_path / "kb.db")
    try:
        s = MilvusStore(db, "kb", IndexParams(dim=DIM), writable=True, embed_model="test-vectors")
        s.client.drop_collection(s.names.chunks)
        _chunks_collection_before_page_breaks(s.client, s.names.chunks)
        s.close()
        s = MilvusStore(db, "kb", IndexParams(dim=DIM), writable=True, embed_model="test-vectors")
        text = "The annual fee is waived for\ncustomers over 65."
        s.replace_document(DocumentInfo("a", "/docs/a.pdf", "h", 10, 1, "2026-01-01T00:00:00+00:00"),
                           [Chunk("a:0", "a", 0, text, "T", 3, 0, ((29, 4),))], [tokenize(text)],
                           np.vstack([vec(1)]), [text_hash(text)])
        s.commit()
        r = MilvusStore(db, "kb", IndexParams(dim=DIM))
        [c] = r.doc_chunks("a")
        assert (c.page, c.page_breaks, c.page_end) == (3, (), 3)
        [(hit, _)] = r.search_dense(vec(1), 1)
        assert (hit.chunk_id, hit.page, hit.page_end) == ("a:0", 3, 3)
        r.close()
        s.close()
    finally:
        _release(tmp_path / "kb.db")
