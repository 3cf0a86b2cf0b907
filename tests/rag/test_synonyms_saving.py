"""Saving a KB's synonyms (rag.synonyms.kb.save_synonyms) under the KB's settings lock, not its writer lock
(indexer.store.settings_lock), on both stores (local, and Milvus Lite in this process): a save made while an
indexing run holds the writer lock is stored at once and read by the next question, two saves of one KB
take turns, and `rag kb reembed`'s last pass (which copies the settings, then swaps the copy in) takes the
lock too, so that a setting saved meanwhile is in the re-embedded KB, not lost with the old one."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from indexer.config import IndexerSettings
from indexer.kbs import KBManager
from indexer.store.base import KBLockedError
from indexer.store.settings_lock import settings_lock
from rag.synonyms.kb import save_synonyms, store_synonyms, stored_synonyms
from rag.synonyms.rules import Synonyms, parse
from tests.indexer.test_reparse import _files, _index

RULES = {"en": "zorblax => lost card", "zh": "报失, 挂失"}


def _indexed(tmp_path: Path, minilm, uri: str | None = None) -> KBManager:
    """A home with KB "t" holding the lost-card documents (en, zh), on the local store or at Milvus `uri`."""
    mgr = KBManager(IndexerSettings(home=tmp_path / "home", store_uri=uri, embed_model="minilm",
                                    parse_isolation=False), encoders={"minilm": minilm})
    _index(mgr, _files(tmp_path), minilm)
    return mgr


@pytest.fixture(params=["local", "milvus"])
def manager(request, tmp_path, minilm):
    uri = None
    if request.param == "milvus":
        pytest.importorskip("milvus_lite")
        uri = str(tmp_path / "m.db")
    mgr = _indexed(tmp_path, minilm, uri)
    yield mgr
    if uri:
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(uri)


def _stored(manager) -> Synonyms:
    store = manager.open("t")
    try:
        return stored_synonyms(store)
    finally:
        store.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_save_while_the_writer_lock_is_held_is_stored_at_once(manager, lang):
    text = RULES[lang]
    writer = manager.open("t", writable=True)  # as an indexing run holds it, start to end
    try:
        with pytest.raises(KBLockedError):
            manager.open("t", writable=True, lock_timeout=0.3)
        started = time.monotonic()
        save_synonyms(manager, "t", parse(text), lock_timeout=5)
        assert time.monotonic() - started < 5
        assert _stored(manager) == parse(text)  # another reader (the service's next question) reads them
        writer.commit()  # the writer goes on and publishes: the settings stay
    finally:
        writer.close()
    assert _stored(manager) == parse(text)


def test_a_save_waits_for_another_settings_write_and_then_gives_up_leaving_the_synonyms_as_they_were(manager):
    save_synonyms(manager, "t", parse(RULES["en"]))
    with settings_lock(manager.home / "t", manager.uri):
        started = time.monotonic()
        with pytest.raises(KBLockedError, match="settings of knowledge base 't'"):
            save_synonyms(manager, "t", parse(RULES["zh"]), lock_timeout=0.5)
        assert time.monotonic() - started >= 0.5
    assert _stored(manager) == parse(RULES["en"])
    save_synonyms(manager, "t", parse(RULES["zh"]), lock_timeout=0.5)  # free again
    assert _stored(manager) == parse(RULES["zh"])


def test_a_save_to_a_kb_that_does_not_exist_says_so(manager):
    from indexer.kbs import KBNotFound

    with pytest.raises(KBNotFound, match="'nope' does not exist"):
        save_synonyms(manager, "nope", parse(RULES["en"]))
    assert not (manager.home / "nope").exists()


def test_a_setting_saved_while_reembedding_waits_for_its_last_pass_is_in_the_reembedded_kb(tmp_path, minilm):
    """`rag kb reembed` copies the KB's settings in its last pass (under the writer lock) and swaps the copy
    in: a save between the two was lost with the old KB. The last pass holds the settings lock: the test
    holds it as a save does, the re-embedding waits for it, and what the save wrote goes across."""
    mgr = _indexed(tmp_path, minilm)
    done: list[dict] = []
    with settings_lock(mgr.home / "t"):
        reembedding = threading.Thread(target=lambda: done.append(mgr.reembed("t", "minilm", progress=False)))
        reembedding.start()
        deadline = time.monotonic() + 120
        while True:  # the last pass has begun when it holds the writer lock
            try:
                mgr.open("t", writable=True, lock_timeout=0).close()
            except KBLockedError:
                break
            assert time.monotonic() < deadline and reembedding.is_alive(), "the re-embedding never took the lock"
            time.sleep(0.05)
        time.sleep(1.0)
        assert reembedding.is_alive() and not done  # waiting for the settings lock, not swapped yet
        reader = mgr.open("t")  # what a save does under the lock
        try:
            store_synonyms(reader, parse(RULES["zh"]))
        finally:
            reader.close()
    reembedding.join(timeout=120)
    assert done and done[0]["documents"] == 2
    assert _stored(mgr) == parse(RULES["zh"])


def test_rag_kb_synonyms_set_does_not_wait_for_rag_index(tmp_path, minilm):
    """`rag kb synonyms NAME --set FILE` (a process of its own) while another process indexes the KB (its
    writer lock held here): stored at once; before, it waited up to 10 minutes for the writer lock."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    mgr = _indexed(tmp_path, minilm)
    rules = tmp_path / "synonyms.txt"
    rules.write_text(f"{RULES['zh']}\n{RULES['en']}\n", encoding="utf-8")
    env = {**os.environ, "RAG_HOME": str(mgr.home), "HF_HUB_OFFLINE": "1"}
    writer = mgr.open("t", writable=True)
    try:
        p = subprocess.run([sys.executable, "-m", "cli", "kb", "synonyms", "t", "--set", str(rules)], env=env,
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert "t: 2 synonym rules stored" in p.stdout and "waiting for another writer" not in p.stderr
        assert _stored(mgr) == parse(rules.read_text(encoding="utf-8"))
    finally:
        writer.close()
    p = subprocess.run([sys.executable, "-m", "cli", "kb", "synonyms", "nope", "--set", str(rules)], env=env,
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "'nope' does not exist" in p.stderr and "unchanged" in p.stderr, p.stderr
