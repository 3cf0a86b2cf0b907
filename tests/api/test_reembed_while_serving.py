"""`rag kb reembed NAME` while `rag serve` has NAME open: the running service answers from the re-embedded
KB (with its new embedding model) and indexes into it, without a restart."""
from __future__ import annotations

import pytest

from cli.testing import Server, wait_job


def _upload(c, name: str, text: str) -> dict:
    job = wait_job(c, c.post("/v1/kbs/bank/documents", files=[("files", (name, text.encode()))]).json()["job_id"])
    assert job["status"] == "done" and job["files"][0]["status"] == "indexed", job
    return job


@pytest.mark.slow
def test_a_serving_kb_reembedded_in_place_is_followed_by_the_service(tmp_path, minilm, ens):
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager

    home = tmp_path / "home"
    srv = Server(home).start()  # KBs embedded with MiniLM (the harness's RAG_EMBED_MODEL)
    try:
        c = srv.client()
        assert c.post("/v1/kbs", json={"name": "bank"}).status_code == 201
        _upload(c, "wires.md", "International wire transfers cost $45 and leave the same business day.")
        hits = c.post("/v1/kbs/bank/search", json={"query": "international wire fee", "k": 3}).json()
        assert hits[0]["source"] == "wires.md"  # the service now holds the KB open

        mgr = KBManager(IndexerSettings(home=home, embed_model="minilm"),
                        encoders={"minilm": minilm, "e5+minilm": ens})
        assert mgr.reembed("bank", "e5+minilm", progress=False)["reembedded"] == 1

        assert c.get("/v1/kbs/bank").json()["embed_model"] == "e5+minilm"
        hits = c.post("/v1/kbs/bank/search", json={"query": "international wire fee", "k": 3}).json()
        assert hits[0]["source"] == "wires.md"
        # written after the swap: the service must search the KB now under the name, not the one it opened
        _upload(c, "cards.md", "Report a lost card by calling 1-800-555-0199 at any hour of the day.")
        hits = c.post("/v1/kbs/bank/search", json={"query": "lost card phone number", "k": 3}).json()
        assert hits[0]["source"] == "cards.md", hits
    finally:
        srv.kill()
