"""Files read again after their parser changed (indexer.reread): real parsers, the real MiniLM model, the local store.

A KB written by an older parser is stood in for by its records: the catalog's content_hash is what records the
parser (`<sha256>+parser:<stamp>+screen:<version>`), so the test writes there what that release would have."""
import sqlite3
from pathlib import Path

from indexer.ingest import Ingestor
from indexer.reread import recorded_stamp
from rag.retrieval.hybrid import HybridRetriever
from tests.ocr_scans import FEE_EN, FEE_ZH, join_pdfs, needs_tesseract, save_pdf, scan, text_page_pdf

EN = "# Lost cards\n\nCall 400-800-1234 at any hour to report a lost or stolen card.\n"
ZH = "挂失银行卡请拨打客服电话 400-800-1234，全天二十四小时服务。\n"


def _files(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cards.md").write_text(EN, encoding="utf-8")
    (docs / "挂失.txt").write_text(ZH, encoding="utf-8")
    return docs


def _index(manager, docs, encoder=None, **kwargs):
    store = manager.open("t", writable=True, create=True)
    try:
        return Ingestor(store, encoder or manager.encoder(), manager.settings).index_paths(
            [str(docs)], progress=False, **kwargs)
    finally:
        store.close()


def _record_as(manager, old: str, new: str) -> None:
    """Rewrite every document's record as a release whose parsers stamped `new` where this one stamps `old`."""
    db = sqlite3.connect(manager.home / "t" / "kb.sqlite")
    with db:
        db.execute("UPDATE documents SET content_hash = replace(content_hash, ?, ?)", (old, new))
    db.close()


def _stamps(manager) -> dict[str, str]:
    store = manager.open("t")
    try:
        return {Path(d.source).name: str(recorded_stamp(d.content_hash)) for d in store.documents()}
    finally:
        store.close()


def _top(manager, question: str) -> str:
    store = manager.open("t")
    try:
        return HybridRetriever(store, manager.encoder()).run(question, 1)[0].text
    finally:
        store.close()


class _Counting:
    """The real encoder, counting the passages it is asked to encode."""

    def __init__(self, encoder):
        self.encoder, self.passages = encoder, 0

    def __getattr__(self, name):
        return getattr(self.encoder, name)

    def encode_passages(self, texts, show_progress=False):
        self.passages += len(texts)
        return self.encoder.encode_passages(texts, show_progress)


def test_a_file_read_by_an_older_parser_is_read_again_without_embedding_its_text_again(manager, tmp_path):
    docs = _files(tmp_path)
    assert _index(manager, docs).count("indexed") == 2
    assert _stamps(manager) == {"cards.md": "markdown.1", "挂失.txt": "text.1"}
    _record_as(manager, "+parser:markdown.1", "+parser:markdown.0")  # an older Markdown parser read cards.md

    counting = _Counting(manager.encoder())
    report = _index(manager, docs, counting)
    by_name = {Path(r.source).name: r for r in report.results}
    assert (by_name["cards.md"].status, by_name["cards.md"].reread) == ("updated", "parser updated")
    assert (by_name["挂失.txt"].status, by_name["挂失.txt"].reread) == ("unchanged", "")
    assert counting.passages == 0  # same text: its vectors were found, nothing encoded
    assert _stamps(manager)["cards.md"] == "markdown.1"
    assert "400-800-1234" in _top(manager, "How do I report a lost card?")
    assert "400-800-1234" in _top(manager, "银行卡丢了怎么挂失？")

    again = _index(manager, docs)  # current version: skipped, and the counter says so
    assert again.count("unchanged") == 2 and not any(r.reread or r.unstamped for r in again.results)


def test_records_from_before_parser_versions_are_left_and_counted_and_reparse_reads_them(manager, tmp_path):
    """Upgrading must not re-read every document of every KB unasked: a record without a stamp is unchanged,
    flagged `unstamped` (rag index says how many, and that --reparse reads them); --reparse reads every file."""
    docs = _files(tmp_path)
    _index(manager, docs)
    _record_as(manager, "+parser:markdown.1", "")
    _record_as(manager, "+parser:text.1", "")
    assert set(_stamps(manager).values()) == {"None"}

    report = _index(manager, docs)
    assert report.count("unchanged") == 2 and all(r.unstamped for r in report.results)

    counting = _Counting(manager.encoder())
    (docs / "cards.md").write_text(EN + "\nA replacement card costs 10 dollars.\n", encoding="utf-8")
    reparsed = _index(manager, docs, counting, reparse=True)
    by_name = {Path(r.source).name: r for r in reparsed.results}
    assert by_name["挂失.txt"].status == "updated" and by_name["挂失.txt"].reread == "--reparse"
    assert by_name["cards.md"].status == "updated" and by_name["cards.md"].reread == ""  # it changed: as any file
    assert 0 < counting.passages <= 4  # the changed chunk (and its window), not the unchanged Chinese file
    assert _stamps(manager) == {"cards.md": "markdown.1", "挂失.txt": "text.1"}
    assert "10 dollars" in _top(manager, "What does a replacement card cost?")
    assert _index(manager, docs).count("unchanged") == 2


@needs_tesseract  # ~4 s: one page read by OCR, in this process
def test_a_mixed_pdf_indexed_before_tesseract_was_installed_has_its_scan_read_once_it_is(manager, tmp_path,
                                                                                         monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    text = text_page_pdf(tmp_path / "text.pdf", ["Opening hours", "We are open Monday to Friday, 9am to 5pm."])
    scanned = save_pdf(tmp_path / "scan.pdf", scan(["银行卡服务收费公告", "", FEE_ZH, "", FEE_EN]))
    join_pdfs(docs / "mixed.pdf", text, scanned)
    manager.settings.parse_isolation = False  # the parser runs here, and sees this process's PATH
    monkeypatch.setenv("PATH", str(tmp_path / "no-tesseract"))  # no tesseract on this server yet

    before = _index(manager, docs)
    assert before.count("indexed") == 1 and _stamps(manager) == {"mixed.pdf": "pdf.1.noocr"}
    assert "Monday to Friday" in _top(manager, "When are you open?")
    assert _index(manager, docs).count("unchanged") == 1  # still no OCR: nothing to gain by reading it again

    monkeypatch.undo()  # tesseract installed
    after = _index(manager, docs)
    assert [(r.status, r.reread) for r in after.results] == [("updated", "OCR now available")]
    assert _stamps(manager) == {"mixed.pdf": "pdf.1.ocr1"}
    assert "10元" in _top(manager, "跨行转账手续费是多少？")
    assert "$29" in _top(manager, "What is the replacement card fee?")
    assert _index(manager, docs).count("unchanged") == 1


def test_on_milvus_a_file_read_by_an_older_parser_is_read_again(tmp_path, minilm):
    """The stamp lives in the `__docs` collection's content_hash, a field every existing KB has."""
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager
    from indexer.store.milvus import schema as S

    manager = KBManager(IndexerSettings(home=tmp_path / "home", store_uri=str(tmp_path / "m.db"),
                                        embed_model="minilm"), encoders={"minilm": minilm})
    docs = _files(tmp_path)
    assert _index(manager, docs).count("indexed") == 2
    store = manager.open("t", writable=True)  # write the records as a release with an older text parser did
    for d in store.documents():
        store.client.upsert(store.names.docs, [{
            "doc_id": d.doc_id, "source": d.source, "content_hash": d.content_hash.replace("+parser:text.1", "+parser:text.0"),
            "size": d.size, "tags": d.tags, "indexed_at": d.indexed_at, "n_chunks": d.chunks, "_v": S.DUMMY_VECTOR}])
    store.close()
    assert _stamps(manager) == {"cards.md": "markdown.1", "挂失.txt": "text.0"}

    report = _index(manager, docs)
    assert sorted((Path(r.source).name, r.status, r.reread) for r in report.results) == [
        ("cards.md", "unchanged", ""), ("挂失.txt", "updated", "parser updated")]
    assert _stamps(manager) == {"cards.md": "markdown.1", "挂失.txt": "text.1"}
    assert "400-800-1234" in _top(manager, "银行卡丢了怎么挂失？")
    assert _index(manager, docs).count("unchanged") == 2

