"""PUT /v1/kbs/{kb}/synonyms while the KB is being indexed, on a real `rag serve`: the save took the KB's writer
lock, which an indexing run holds from start to end, and answered 409 kb_busy after 30 s. It now takes the
KB's settings lock only (indexer.store.settings_lock): it answers at once, the next question (English and
Chinese) uses the rules, and the run, let go afterwards, indexes its files and leaves the rules in place."""
from __future__ import annotations

import threading
import time

import pytest

from cli.testing import Server, wait_job
from indexer.config import IndexerSettings
from indexer.ingest import Ingestor
from indexer.kbs import KBManager
from indexer.store.base import KBLockedError
from tests.conftest import SAMPLE

DOCS = [SAMPLE / "en" / "lost_or_stolen_cards.txt", SAMPLE / "en" / "wire_transfers.html",
        SAMPLE / "zh" / "card_loss_reporting.txt"]
NEW = {"parking.txt": "Customers park free for two hours in the Harbor Plaza garage beside the branch.\n",
       "停车.txt": "客户可在港湾广场地下停车场免费停车两小时，停车场入口在网点东侧。\n"}


class _Held:
    """The real encoder, held before it embeds until the test lets it go: an indexing run in progress (its
    files read, its writer lock held, nothing embedded or written yet)."""

    def __init__(self, encoder):
        self.encoder, self.embedding, self.go = encoder, threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self.encoder, name)

    def encode_passages(self, texts, show_progress=False):
        self.embedding.set()
        if not self.go.wait(180):
            raise TimeoutError("the test never let the indexing run go on")
        return self.encoder.encode_passages(texts, show_progress)


def _bm25_first(c, query: str) -> str | None:
    hits = c.post("/v1/kbs/bank/search", json={"query": query, "k": 3, "mode": "bm25"}).json()
    return hits[0]["source"] if hits else None


@pytest.mark.slow  # ~40 s: a service, an upload's indexing and an indexing run in this process
def test_synonyms_are_saved_at_once_while_the_kb_is_indexed_and_used_by_the_next_question(tmp_path, minilm):
    srv = Server(tmp_path / "home", RAG_WARM_UP="false").start()
    run: threading.Thread | None = None
    held = _Held(minilm)
    try:
        admin = srv.client()
        assert admin.post("/v1/kbs", json={"name": "bank"}).status_code == 201
        r = admin.post("/v1/kbs/bank/documents", files=[("files", (p.name, p.read_bytes())) for p in DOCS])
        wait_job(admin, r.json()["job_id"])
        wire = {"question": "What is the zorblax code for an incoming wire?"}
        assert "HRBRUS33" not in admin.post("/v1/kbs/bank/query", json=wire).json()["answer"]
        assert _bm25_first(admin, "报失") is None  # a word no document holds

        docs = tmp_path / "new"
        docs.mkdir()
        for name, text in NEW.items():
            (docs / name).write_text(text, encoding="utf-8")
        manager = KBManager(IndexerSettings(home=srv.home, embed_model="minilm"), encoders={"minilm": minilm})
        store = manager.open("bank", writable=True)
        report: list = []

        def index() -> None:
            try:
                report.append(Ingestor(store, held, manager.settings).index_paths([str(docs)], progress=False))
            finally:
                store.close()
        run = threading.Thread(target=index)
        run.start()
        assert held.embedding.wait(120), "the indexing run never reached its embedding"
        with pytest.raises(KBLockedError):  # the run holds the writer lock
            manager.open("bank", writable=True, lock_timeout=0.2)

        started = time.monotonic()
        put = admin.put("/v1/kbs/bank/synonyms", json={"text": "zorblax => SWIFT\n报失, 挂失\n"})
        took = time.monotonic() - started
        assert put.status_code == 200, put.text
        assert took < 10, took  # before: 409 kb_busy after 30 s
        assert run.is_alive() and not report  # still in progress
        after = admin.post("/v1/kbs/bank/query", json=wire).json()
        assert "HRBRUS33" in after["answer"], after["answer"]
        assert _bm25_first(admin, "报失") == "card_loss_reporting.txt"

        held.go.set()
        run.join(timeout=180)
        assert report and sorted(r.status for r in report[0].results) == ["indexed", "indexed"]
        assert admin.get("/v1/kbs/bank/synonyms").json()["text"] == "zorblax => SWIFT\n报失, 挂失\n"
        sources = {d["source"].rsplit("/", 1)[-1] for d in admin.get("/v1/kbs/bank/documents").json()}
        assert sources == {p.name for p in DOCS} | set(NEW)
        assert _bm25_first(admin, "Harbor Plaza garage").endswith("parking.txt")
        assert _bm25_first(admin, "港湾广场停车场").endswith("停车.txt")
        assert "HRBRUS33" in admin.post("/v1/kbs/bank/query", json=wire).json()["answer"]
    finally:
        held.go.set()
        if run is not None:
            run.join(timeout=180)
        srv.stop()
