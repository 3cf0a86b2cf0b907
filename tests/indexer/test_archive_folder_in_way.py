"""An import into a name whose folder is there but holds no KB yet (a KB being created under the name right then,
its kb.lock taken before its kb.sqlite is written, or what a creation killed half-way left) fails saying so, and
loses nothing: the rename of the import's hidden copy onto that folder failed with 'OSError: [Errno 39] Directory
not empty: <two paths>', which an import job reported as 'could not be indexed (OSError: ...)'. The folder is left
as it was and the hidden copy kept: once the folder is gone the same import finishes.

The local store, real parsers and MiniLM; English and Chinese documents."""
from __future__ import annotations

import pytest

from indexer.archive.import_ import import_archive
from tests.api.test_import_replace_kept import _archive, _named


@pytest.mark.slow  # ~10 s: uploads indexed, an export and two imports
def test_an_import_onto_a_folder_holding_no_kb_yet_says_so_and_keeps_its_copy(manager, tmp_path):
    manager.settings.parse_isolation = False
    archive, carried = _archive(manager, None, tmp_path)
    creating = manager.home / "bank"
    creating.mkdir()
    (creating / "kb.lock").write_bytes(b"")  # what a creation takes first (indexer.store.local.store)

    with pytest.raises(FileExistsError, match="is in the way of the imported knowledge base 'bank'") as e:
        import_archive(manager, archive, "bank", progress=False)
    assert str(creating) in str(e.value) and "--as OTHER" in str(e.value)
    assert [p.name for p in creating.iterdir()] == ["kb.lock"] and not manager.exists("bank")
    assert (manager.home / ".bank.importing" / "kb.sqlite").is_file()  # the import's copy, kept

    (creating / "kb.lock").unlink()
    creating.rmdir()
    rep = import_archive(manager, archive, "bank", progress=False)
    assert rep.written == 0 and rep.documents == 2  # the kept copy, put in place
    assert _named(manager, "bank") == carried
