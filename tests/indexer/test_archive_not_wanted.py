"""An import whose `still_wanted()` says no right before its hidden copy takes the name (an import job deleted
meanwhile with its KB: api.jobs.importing) puts nothing in place and discards the copy, raising NotWanted; asked
when it says yes, or not asked (the CLI), it ends in place. Local store (a KB to replace in the way, and none) and
Milvus Lite; the archive holds English and Chinese documents."""
from __future__ import annotations

import pytest

from indexer.archive.import_ import import_archive
from indexer.archive.staging import NotWanted
from indexer.config import IndexerSettings
from indexer.kbs import KBManager
from tests.api.test_import_replace_kept import _archive
from tests.kb_sources import kb_sources


def _not_wanted_then_wanted(manager: KBManager, tmp_path, hidden_left) -> None:
    archive, _carried = _archive(manager, None, tmp_path)  # KB 'src': cards.md, 挂失.txt
    asked = []

    def no() -> bool:
        asked.append(True)
        return False

    with pytest.raises(NotWanted, match="'gone'.*no longer wanted"):
        import_archive(manager, archive, "gone", progress=False, still_wanted=no)
    assert asked == [True]
    assert not manager.exists("gone") and not hidden_left("gone")

    manager.open("bank", writable=True, create=True).close()  # a KB the import is to replace, kept as it was
    with pytest.raises(NotWanted):
        import_archive(manager, archive, "bank", replace=True, progress=False, still_wanted=no)
    assert manager.exists("bank") and kb_sources(manager, "bank") == set()
    assert not hidden_left("bank")

    rep = import_archive(manager, archive, "bank", replace=True, progress=False, still_wanted=lambda: True)
    assert rep.replaced and kb_sources(manager, "bank") == {"cards.md", "挂失.txt"}
    rep = import_archive(manager, archive, "copy", progress=False)  # the CLI: not asked
    assert rep.documents == 2 and not hidden_left("copy")


@pytest.mark.slow  # ~10 s: uploads indexed, an export and four imports
def test_an_unwanted_import_puts_nothing_in_place_locally(minilm, tmp_path):
    home = tmp_path / "home"
    manager = KBManager(IndexerSettings(home=home, embed_model="minilm", parse_isolation=False),
                        encoders={"minilm": minilm})
    _not_wanted_then_wanted(manager, tmp_path, lambda kb: (home / f".{kb}.importing").exists())


@pytest.mark.slow  # ~25 s: Milvus Lite, uploads indexed, an export and four imports
def test_an_unwanted_import_puts_nothing_in_place_in_milvus(minilm, tmp_path):
    pytest.importorskip("milvus_lite")
    from milvus_lite.server_manager import server_manager_instance

    from indexer.archive.staging import ROLE
    from indexer.store.factory import drop_kb

    uri = str(tmp_path / "kb.db")
    home = tmp_path / "home"
    manager = KBManager(IndexerSettings(home=home, embed_model="minilm", store_uri=uri, parse_isolation=False),
                        encoders={"minilm": minilm})
    try:  # drop_kb: False where no hidden collection was left to drop
        _not_wanted_then_wanted(manager, tmp_path, lambda kb: drop_kb(uri, kb, role=ROLE)
                                or (home / f".{kb}.importing").exists())
    finally:
        server_manager_instance.release_server(uri)
