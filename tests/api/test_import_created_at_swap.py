"""An import that is not to replace a KB never replaces one created just before it takes the name (Milvus,
indexer.archive.staging.MilvusStaging.put_in_place). The import looked whether a KB held the name, then took the
writer lock of whatever KB held it and swapped its own in: a KB created between the look and the lock (an upload
creating it) was swapped out and dropped with its documents, and the import reported a KB imported, not replaced.
Now the look is made under a lock no creation of the name passes (the KB's writer lock, else its creation lock),
held through the swap: the import fails with kb_exists's message, the KB keeps its documents, the import's copy stays
hidden for a run with --replace or --as.

The creation lands at the one point the race needs: right after the import's first look at the name once its copy
is complete (the manager's `exists`, answered, then the KB created as an upload would, before the answer returns).
Milvus Lite, real parsers and MiniLM; English and Chinese documents."""
from __future__ import annotations

import pytest

from api.jobs.indexing import index_upload
from indexer.archive.import_ import import_archive
from indexer.config import IndexerSettings
from indexer.kbs import KBManager
from tests.api.test_import_replace_kept import _archive
from tests.kb_sources import kb_sources
from tests.lost_cards import EN, ZH


class _CreatedRightAfterALook(KBManager):
    """Once `armed`, KB `name` is created, its `files` (name -> text) uploaded, right after the next look at
    whether it exists: the answer given is the one read before."""

    name, files, armed, created = "bank", {}, False, False

    def exists(self, name: str) -> bool:
        there = super().exists(name)
        if self.armed and name == self.name and not self.created:
            self.created = True
            self.open(name, writable=True, create=True).close()
            for filename, text in self.files.items():
                path = self.home.parent / filename
                path.write_text(text, encoding="utf-8")
                assert index_upload(self, name, filename, path, {}, None).status == "indexed"
        return there



@pytest.mark.slow  # ~25 s: Milvus Lite, uploads indexed, an export and an import
def test_an_import_not_replacing_never_drops_a_kb_created_as_it_takes_the_name(minilm, tmp_path):
    pytest.importorskip("milvus_lite")
    from milvus_lite.server_manager import server_manager_instance

    uri = tmp_path / "kb.db"
    manager = _CreatedRightAfterALook(IndexerSettings(home=tmp_path / "home", embed_model="minilm",
                                                      store_uri=str(uri), parse_isolation=False),
                                      encoders={"minilm": minilm})
    manager.files = {"营业时间.txt": ZH.replace("挂失银行卡", "网点营业"), "hours.md": EN.replace("Lost cards", "Hours")}
    try:
        archive, _carried = _archive(manager, None, tmp_path)

        def armed_once_written(stage: str, done: int, total: int) -> None:
            if stage == "importing" and done == total:  # the copy is complete: next, the name is taken
                manager.armed = True

        with pytest.raises(FileExistsError, match="was created while the archive was being imported"):
            import_archive(manager, archive, "bank", progress=False, report=armed_once_written)
        assert manager.created, "the KB was never created: the test did not reach the window it is about"
        assert kb_sources(manager, "bank") == {"营业时间.txt", "hours.md"}  # the KB created meanwhile, whole

        rep = import_archive(manager, archive, "copy", progress=False)  # the archive itself imports elsewhere
        assert rep.documents == 2 and kb_sources(manager, "copy") == {"cards.md", "挂失.txt"}
    finally:
        server_manager_instance.release_server(str(uri))
