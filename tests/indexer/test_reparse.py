"""Files read again after their parser changed (indexer.reread): real parsers, the real MiniLM model, the local store.

A KB written by an older parser or chunker is stood in for by its records: the catalog's content_hash is what
records them (`<sha256>+parser:<stamp>+chunk:<version>+screen:<version>`), so the test writes there what that
release would have."""
import sqlite3
from pathlib import Path

from cli.reread_notes import reread_lines
from indexer.chunk import CHUNKER_VERSION
from indexer.ingest import Ingestor
from indexer.parse.versions import stamp_for
from indexer.reread import CHUNKER_UPDATED, PARSER_UPDATED, check, recorded_stamp, stamped
from indexer.types import DocumentInfo, Element
from rag.retrieval.hybrid import HybridRetriever
from tests.lost_cards import EN, write_files
from tests.ocr_scans import FEE_EN, FEE_ZH, join_pdfs, needs_tesseract, save_pdf, scan, text_page_pdf

# what this version stamps (derived, so that the next version bump does not break the tests)
MD, TXT = stamp_for(".md", False), stamp_for(".txt", False)
CHUNK = f"+chunk:{CHUNKER_VERSION}"


def _files(tmp_path: Path) -> Path:
    return write_files(tmp_path / "docs")


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
    assert _stamps(manager) == {"cards.md": str(MD), "挂失.txt": str(TXT)}
    _record_as(manager, f"+parser:{MD}", f"+parser:markdown.{MD.version - 1}")  # an older Markdown parser read it

    counting = _Counting(manager.encoder())
    report = _index(manager, docs, counting)
    by_name = {Path(r.source).name: r for r in report.results}
    assert (by_name["cards.md"].status, by_name["cards.md"].reread) == ("updated", "parser updated")
    assert (by_name["挂失.txt"].status, by_name["挂失.txt"].reread) == ("unchanged", "")
    assert counting.passages == 0  # same text: its vectors were found, nothing encoded
    assert _stamps(manager)["cards.md"] == str(MD)
    assert "400-800-1234" in _top(manager, "How do I report a lost card?")
    assert "400-800-1234" in _top(manager, "银行卡丢了怎么挂失？")

    again = _index(manager, docs)  # current version: skipped, and the counter says so
    assert again.count("unchanged") == 2 and not any(r.reread for r in again.results)


def test_records_from_before_parser_versions_are_read_again_once_versions_pass_1_and_reparse_reads_them(
        manager, tmp_path):
    """A record without a stamp was read by version 1 of every parser and of the chunker: with the chunker past 1
    (and Markdown's parser) it is read again like any older record, re-embedding nothing that did not change;
    --reparse reads every given file."""
    docs = _files(tmp_path)
    _index(manager, docs)
    _record_as(manager, f"+parser:{MD}{CHUNK}", "")  # as the release before parser versions wrote them
    _record_as(manager, f"+parser:{TXT}{CHUNK}", "")
    assert set(_stamps(manager).values()) == {"None"}

    counting = _Counting(manager.encoder())
    report = _index(manager, docs, counting)
    assert sorted((Path(r.source).name, r.status, r.reread) for r in report.results) == [
        ("cards.md", "updated", PARSER_UPDATED),
        ("挂失.txt", "updated", CHUNKER_UPDATED if TXT.version == 1 else PARSER_UPDATED)]
    assert counting.passages == 0
    assert _stamps(manager) == {"cards.md": str(MD), "挂失.txt": str(TXT)}

    (docs / "cards.md").write_text(EN + "\nA replacement card costs 10 dollars.\n", encoding="utf-8")
    reparsed = _index(manager, docs, counting, reparse=True)
    by_name = {Path(r.source).name: r for r in reparsed.results}
    assert by_name["挂失.txt"].status == "updated" and by_name["挂失.txt"].reread == "--reparse"
    assert by_name["cards.md"].status == "updated" and by_name["cards.md"].reread == ""  # it changed: as any file
    assert 0 < counting.passages <= 4  # the changed chunk (and its window), not the unchanged Chinese file
    assert _stamps(manager) == {"cards.md": str(MD), "挂失.txt": str(TXT)}
    assert "10 dollars" in _top(manager, "What does a replacement card cost?")
    assert _index(manager, docs).count("unchanged") == 2


def test_a_record_from_before_stamps_meets_todays_parser_and_chunker_and_is_read_again():
    """An unstamped record was read by version 1 of its parser and of the chunker: today's are newer."""
    sha = "ab" * 32
    old = DocumentInfo("d1", "挂失.txt", sha, 10, 1, "2025-01-01T00:00:00Z")
    assert check(old, stamped(sha, TXT), TXT).reason == (CHUNKER_UPDATED if TXT.version == 1 else PARSER_UPDATED)


def test_a_file_cut_by_an_older_chunker_is_read_again_without_embedding_unchanged_text(manager, tmp_path):
    """English Markdown recorded with the chunker version before this one, Chinese text with none (as the first
    release with parser stamps wrote it, '+parser:text.1'): both are read again ('chunker updated'), the summary
    says why, and text that did not change is not embedded again."""
    docs = _files(tmp_path)
    _index(manager, docs)
    _record_as(manager, f"+parser:{MD}{CHUNK}", f"+parser:{MD}+chunk:{CHUNKER_VERSION - 1}")
    _record_as(manager, f"+parser:{TXT}{CHUNK}", f"+parser:{TXT}")

    counting = _Counting(manager.encoder())
    report = _index(manager, docs, counting)
    assert sorted((Path(r.source).name, r.status, r.reread) for r in report.results) == [
        ("cards.md", "updated", CHUNKER_UPDATED), ("挂失.txt", "updated", CHUNKER_UPDATED)]
    assert counting.passages == 0
    (line,) = reread_lines("t", report)
    assert "2 re-read: chunker updated" in line and "newer chunker" in line and "not embedded again" in line, line
    assert "400-800-1234" in _top(manager, "How do I report a lost card?")
    assert "400-800-1234" in _top(manager, "银行卡丢了怎么挂失？")
    again = _index(manager, docs)
    assert again.count("unchanged") == 2 and not any(r.reread for r in again.results)


def test_a_text_document_cut_by_an_older_chunker_is_cut_again(manager):
    """Documents given as text (index_elements: how rag eval indexes a benchmark corpus into a KB it reuses) record
    the chunker too: one recorded before its version was ('<sha256>' alone, as the release before wrote) is cut
    again, English and Chinese, encoding nothing whose text did not change; given again, it is unchanged."""
    docs = [("en", "beir:faq/en", [Element("Bring your referral letter.\n- ID card\n- Insurance card", "text",
                                           "Referrals")]),
            ("zh", "beir:faq/zh", [Element("请携带以下材料。\n1. 身份证\n2. 医保卡", "text", "就诊材料")])]
    store = manager.open("t", writable=True, create=True)
    try:
        assert Ingestor(store, manager.encoder(), manager.settings).index_elements(docs, progress=False) \
            .count("indexed") == 2
    finally:
        store.close()
    _record_as(manager, CHUNK, "")

    counting = _Counting(manager.encoder())
    store = manager.open("t", writable=True)
    try:
        report = Ingestor(store, counting, manager.settings).index_elements(docs, progress=False)
        again = Ingestor(store, counting, manager.settings).index_elements(docs, progress=False)
        texts = [c.text for d in ("en", "zh") for c in store.doc_chunks(d)]
    finally:
        store.close()
    assert [(r.status, r.reread) for r in report.results] == [("updated", CHUNKER_UPDATED)] * 2
    assert counting.passages == 0
    assert again.count("unchanged") == 2
    assert any("letter.\n- ID card" in t for t in texts) and any("材料。\n1. 身份证" in t for t in texts), texts


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
    assert before.count("indexed") == 1 and _stamps(manager) == {"mixed.pdf": str(stamp_for(".pdf", False))}
    assert "Monday to Friday" in _top(manager, "When are you open?")
    assert _index(manager, docs).count("unchanged") == 1  # still no OCR: nothing to gain by reading it again

    monkeypatch.undo()  # tesseract installed
    after = _index(manager, docs)
    assert [(r.status, r.reread) for r in after.results] == [("updated", "OCR now available")]
    assert _stamps(manager) == {"mixed.pdf": str(stamp_for(".pdf", True))}
    assert "10元" in _top(manager, "跨行转账手续费是多少？")
    assert "$29" in _top(manager, "What is the replacement card fee?")
    assert _index(manager, docs).count("unchanged") == 1

    # an older chunker cut it, and Tesseract is gone: reading it now would lose its scanned page, so it waits
    _record_as(manager, CHUNK, f"+chunk:{CHUNKER_VERSION - 1}")
    monkeypatch.setenv("PATH", str(tmp_path / "no-tesseract"))
    waiting = _index(manager, docs)
    assert [(r.status, r.deferred) for r in waiting.results] == [("unchanged", CHUNKER_UPDATED)]
    assert "cannot run now" in reread_lines("t", waiting)[0]
    assert "10元" in _top(manager, "跨行转账手续费是多少？")
    monkeypatch.undo()
    back = _index(manager, docs)
    assert [(r.status, r.reread) for r in back.results] == [("updated", CHUNKER_UPDATED)]
    assert "1 of them PDFs or images" in reread_lines("t", back)[0]
    assert "10元" in _top(manager, "跨行转账手续费是多少？")


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
    older = f"+parser:text.{TXT.version - 1}"
    for d in store.documents():
        store.client.upsert(store.names.docs, [{
            "doc_id": d.doc_id, "source": d.source, "content_hash": d.content_hash.replace(f"+parser:{TXT}", older),
            "size": d.size, "tags": d.tags, "indexed_at": d.indexed_at, "n_chunks": d.chunks, "_v": S.DUMMY_VECTOR}])
    store.close()
    assert _stamps(manager) == {"cards.md": str(MD), "挂失.txt": f"text.{TXT.version - 1}"}

    report = _index(manager, docs)
    assert sorted((Path(r.source).name, r.status, r.reread) for r in report.results) == [
        ("cards.md", "unchanged", ""), ("挂失.txt", "updated", "parser updated")]
    assert _stamps(manager) == {"cards.md": str(MD), "挂失.txt": str(TXT)}
    assert "400-800-1234" in _top(manager, "银行卡丢了怎么挂失？")
    assert _index(manager, docs).count("unchanged") == 2



@needs_tesseract  # ~6 s: one page read by OCR, in this process
def test_a_pdf_whose_scan_ocr_read_is_never_read_again_while_ocr_cannot_run(manager, tmp_path, monkeypatch):
    """Whatever asks for a re-read (--reparse, another screen, new tags), a document OCR read some of is kept as
    indexed while Tesseract is missing: reading it then would lose its scanned page. Each file says so, why, and
    what to do; the other files are read again as asked."""
    from cli.reread_notes import deferred_lines
    from indexer.reread import REPARSE, RETAGGED, SCREEN_UPDATED
    from rag.guard.document_guard import DOCUMENT_SCREEN

    docs = _files(tmp_path)
    text = text_page_pdf(tmp_path / "text.pdf", ["Opening hours", "We are open Monday to Friday, 9am to 5pm."])
    scanned = save_pdf(tmp_path / "scan.pdf", scan(["银行卡服务收费公告", "", FEE_ZH, "", FEE_EN]))
    join_pdfs(docs / "mixed.pdf", text, scanned)
    manager.settings.parse_isolation = False  # the parser runs here, and sees this process's PATH

    def index(screen=DOCUMENT_SCREEN, **kwargs):
        store = manager.open("t", writable=True, create=True)
        try:
            return Ingestor(store, manager.encoder(), manager.settings, screen=screen).index_paths(
                [str(docs)], progress=False, **kwargs)
        finally:
            store.close()

    def by_name(report):
        return {Path(r.source).name: (r.status, r.reread or r.deferred) for r in report.results}

    assert index().count("indexed") == 3
    assert "10元" in _top(manager, "跨行转账手续费是多少？") and "$29" in _top(manager, "What is the replacement card fee?")

    monkeypatch.setenv("PATH", str(tmp_path / "no-tesseract"))  # Tesseract removed (or broken) on this server
    reparsed = index(reparse=True)
    assert by_name(reparsed) == {"mixed.pdf": ("unchanged", REPARSE), "cards.md": ("updated", REPARSE),
                                 "挂失.txt": ("updated", REPARSE)}
    (line,) = deferred_lines(reparsed)
    assert line.startswith(f"NOT RE-READ {docs / 'mixed.pdf'} (--reparse): OCR read some of its pages"), line
    assert "Tesseract, which is not installed" in line and "apt-get install tesseract-ocr" in line, line
    assert by_name(index(screen=None)) == {"mixed.pdf": ("unchanged", SCREEN_UPDATED),  # --trust: no screen
                                           "cards.md": ("updated", ""), "挂失.txt": ("updated", "")}
    assert by_name(index(tags={"dept": "cards"}))["mixed.pdf"] == ("unchanged", RETAGGED)
    assert "10元" in _top(manager, "跨行转账手续费是多少？")  # the scanned page is still searchable
    assert "$29" in _top(manager, "What is the replacement card fee?")
    assert "Monday to Friday" in _top(manager, "When are you open?")

    monkeypatch.undo()  # Tesseract back: --reparse reads it again, its scanned page included
    again = index(reparse=True)
    assert by_name(again)["mixed.pdf"] == ("updated", REPARSE) and not deferred_lines(again)
    assert "10元" in _top(manager, "跨行转账手续费是多少？")
