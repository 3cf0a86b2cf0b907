"""Uploaded files and parser versions (indexer.reread) through the service's indexing of an upload."""
from tests.indexer.test_reparse import MD, TXT, _files, _record_as, _stamps


def test_an_upload_sent_again_is_read_again_when_an_older_parser_read_it(manager, tmp_path):
    """The service's indexing of an uploaded file (api.jobs.indexing.index_upload) checks the record as `rag index`
    does: the same bytes uploaded again are unchanged, or read again when an older parser read them."""
    from api.jobs.indexing import index_upload

    docs = _files(tmp_path)
    manager.settings.parse_isolation = False  # parsed in this process: the record's check is what is tested
    manager.open("t", writable=True, create=True).close()
    for name in ("cards.md", "挂失.txt"):
        assert index_upload(manager, "t", name, docs / name, {}).status == "indexed"
    assert index_upload(manager, "t", "挂失.txt", docs / "挂失.txt", {}).status == "unchanged"
    _record_as(manager, f"+parser:{TXT}", f"+parser:text.{TXT.version - 1}")
    assert index_upload(manager, "t", "挂失.txt", docs / "挂失.txt", {}).status == "updated"
    assert index_upload(manager, "t", "cards.md", docs / "cards.md", {}).status == "unchanged"
    assert _stamps(manager) == {"cards.md": str(MD), "挂失.txt": str(TXT)}
