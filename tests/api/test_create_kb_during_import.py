"""POST /v1/kbs for a name an import puts a KB under while the request is on its way answers 409 kb_exists, as for
any existing KB, and leaves the imported KB as the import made it. Before, the route looked (no KB), the manager
looked again (no KB), then its writable open waited on the name's lock while the import put its KB there, found that
KB and handed it back: 201 "created" for a KB the request never made. Now the store says whether its open made the
KB (Store.created) and KBManager.create refuses one it found.

The import lands at the one point the race needs: after both looks, as the manager's creating open begins (a
KBManager subclass imports there first). An in-process service (its real routes and error handlers) on the local
store (embedded mode) and on Milvus Lite (cluster mode's store); English and Chinese documents in the archive."""
from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cli.testing import ADMIN
from indexer.archive.import_ import import_archive
from indexer.config import IndexerSettings
from indexer.kbs import KBManager
from tests.api.test_import_replace_kept import _archive
from tests.kb_sources import kb_sources


class _ImportedAsItIsCreated(KBManager):
    """Once `archive` is set, it is imported as `name` when a creating open of that name begins (once)."""

    name, archive = "bank", None

    def open(self, name: str, writable: bool = False, create: bool = False, **kw):
        if create and name == self.name and self.archive is not None:
            archive, self.archive = self.archive, None
            import_archive(self, archive, name, progress=False)
        return super().open(name, writable=writable, create=create, **kw)



@pytest.mark.slow  # ~20 s: uploads indexed, an export, an import, an in-process service
@pytest.mark.parametrize("backend", ["local", "milvus"])
def test_creating_a_kb_an_import_puts_in_place_meanwhile_is_409_and_keeps_the_import(minilm, tmp_path, monkeypatch,
                                                                                     backend):
    uri = ""
    if backend == "milvus":
        pytest.importorskip("milvus_lite")
        uri = str(tmp_path / "kb.db")
    home = tmp_path / "home"
    for k, v in {"RAG_HOME": str(home), "RAG_ADMIN_KEY": ADMIN, "RAG_EMBED_MODEL": "minilm", "RAG_WARM_UP": "false",
                 "RAG_RATE_LIMIT": "0", "RAG_ANSWER_MODE": "extract", "RAG_STORE_URI": uri}.items():
        monkeypatch.setenv(k, v)
    settings = IndexerSettings(home=home, embed_model="minilm", store_uri=uri or None, parse_isolation=False)
    manager = _ImportedAsItIsCreated(settings, encoders={"minilm": minilm})
    try:
        archive, _carried = _archive(manager, None, tmp_path)  # KB 'src': cards.md, 挂失.txt
        from api.app import create_app

        app = create_app()
        with TestClient(app) as c:
            app.state.service.manager = manager
            manager.archive = archive
            r = c.post("/v1/kbs", json={"name": "bank"}, headers={"Authorization": f"Bearer {ADMIN}"})
            assert manager.archive is None, "the import never ran: the test did not reach the window it is about"
            assert r.status_code == 409, r.text
            assert r.json()["error"]["code"] == "kb_exists", r.text
            assert "'bank' already exists" in r.json()["error"]["message"]

            # the imported KB is whole, and a create of a free name still creates
            assert kb_sources(manager, "bank") == {"cards.md", "挂失.txt"}
            r = c.post("/v1/kbs", json={"name": "hospital"}, headers={"Authorization": f"Bearer {ADMIN}"})
            assert r.status_code == 201 and r.json()["name"] == "hospital", r.text
            assert kb_sources(manager, "hospital") == set()
    finally:
        if uri:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(uri)


def test_a_second_create_of_a_name_finds_the_kb_the_first_made(tmp_path: Path, minilm):
    """KBManager.create itself: a KB put under the name after its look (here: created by another manager as the
    creating open begins) is refused, closed untouched; the local store."""
    settings = IndexerSettings(home=tmp_path / "home", embed_model="minilm", parse_isolation=False)
    other = KBManager(settings, encoders={"minilm": minilm})

    class _CreatedMeanwhile(KBManager):
        def open(self, name: str, writable: bool = False, create: bool = False, **kw):
            if create and not other.exists(name):
                other.create(name).close()
            return super().open(name, writable=writable, create=create, **kw)

    mine = _CreatedMeanwhile(settings, encoders={"minilm": minilm})
    with pytest.raises(FileExistsError, match="'school' already exists"):
        mine.create("school")
    store = mine.open("school")
    try:
        assert store.embed_model == "minilm" and store.documents() == []
    finally:
        store.close()
