"""A KB as one archive (indexer.archive): exported from the local store and imported under another name into
the local store and into Milvus Lite, and back, it searches the same (English and Chinese); a damaged or
hostile archive is refused before anything is written; an interrupted import is finished by its re-run."""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from indexer.archive import format as F
from indexer.archive.export import export_kb
from indexer.archive.import_ import import_archive
from indexer.archive.reader import ArchiveLimits
from indexer.config import IndexerSettings
from indexer.kbs import KBManager
from indexer.store.local.store import LocalStore
from indexer.tokenize import tokenize

QUERIES = ["how do I report a lost card?", "wire transfer fees", "mortgage interest rate", "如何挂失银行卡？",
           "信用卡丢失怎么办"]


def _export(manager: KBManager, name: str, out: Path) -> F.Manifest:
    store = manager.open(name)
    try:
        return export_kb(store, name, out, manager.settings.chunk.model_dump(), progress=False).manifest
    finally:
        store.close()


def _results(manager: KBManager, name: str, encoder) -> list:
    """Top 5 dense and BM25 hits (chunk id, score rounded) for each query."""
    store = manager.open(name)
    try:
        out = []
        for q in QUERIES:
            dense = store.search_dense(encoder.encode_queries([q])[0], 5)
            sparse = store.search_sparse(tokenize(q), 5)
            out.append([(r.chunk_id, r.source, r.tags, round(s, 4)) for r, s in dense + sparse])
        return out
    finally:
        store.close()


def _kb_state(manager: KBManager, name: str) -> tuple:
    store = manager.open(name)
    try:
        meta = {k: v for k, v in store.meta_items().items() if k.startswith("refusal")}
        return store.embed_model, store.dim, store.context_window, store.documents(), meta
    finally:
        store.close()


@pytest.fixture
def archive(manager, sample_copy, tmp_path):
    """KB 't' (English and Chinese sample files) with a refusal threshold, exported."""
    store = manager.open("t", writable=True)
    store.set_meta("refusal_threshold", "0.42")
    store.set_meta("refusal_threshold_by_language", '{"en": 0.4, "zh": 0.5}')
    store.commit()
    store.close()
    path = tmp_path / "t.zip"
    _export(manager, "t", path)
    return path


def test_export_then_import_under_another_name_searches_the_same(manager, archive, minilm):
    rep = import_archive(manager, archive, "copy", progress=False)
    assert (rep.kb, rep.source_kb, rep.written, rep.replaced) == ("copy", "t", rep.documents, False)
    assert rep.documents == 5 and rep.chunks > 5
    assert _kb_state(manager, "copy") == _kb_state(manager, "t")  # documents, model, refusal settings
    assert _results(manager, "copy", minilm) == _results(manager, "t", minilm)
    assert sorted(manager.names()) == ["copy", "t"] and not list(manager.home.glob(".*importing"))


def test_import_refuses_an_existing_kb_unless_asked_to_replace_it(manager, archive, minilm):
    with pytest.raises(FileExistsError, match="'t' already exists: import under another name with --as"):
        import_archive(manager, archive, progress=False)
    store = manager.open("t", writable=True)
    gone = store.documents()[0].doc_id
    store.delete_document(gone)  # the KB changes after the backup ...
    store.commit()
    store.close()
    rep = import_archive(manager, archive, replace=True, progress=False)  # ... and is restored
    assert rep.replaced and rep.kb == "t"
    assert gone in {d.doc_id for d in _kb_state(manager, "t")[3]}
    assert manager.names() == ["t"] and not [p for p in manager.home.iterdir() if p.name.startswith(".")]


def test_a_rerun_of_an_import_stopped_once_its_kb_took_the_name_finds_it_done(manager, archive, minilm):
    """An import job taken up again after its service stopped between the KB taking its name and the job
    recording it: the KB is the job's result, not a KB in its way."""
    first = import_archive(manager, archive, "copy", progress=False)
    again = import_archive(manager, archive, "copy", progress=False, rerun=True)
    assert (again.kb, again.written, again.documents, again.chunks) == ("copy", 0, first.documents, first.chunks)
    with pytest.raises(FileExistsError, match="'copy' already exists"):  # a new import: the KB is in the way
        import_archive(manager, archive, "copy", progress=False)
    with pytest.raises(FileExistsError, match="'t' already exists"):  # 't' was indexed, not imported from it
        import_archive(manager, archive, progress=False, rerun=True)


def test_from_the_local_store_into_milvus_lite_and_back(manager, archive, minilm, tmp_path):
    pytest.importorskip("milvus_lite")
    from milvus_lite.server_manager import server_manager_instance

    db = tmp_path / "kb.db"
    cluster = KBManager(IndexerSettings(home=tmp_path / "cluster", embed_model="minilm", store_uri=str(db)),
                        encoders={"minilm": minilm})
    try:
        rep = import_archive(cluster, archive, "moved", progress=False)
        assert rep.store == str(db) and cluster.names() == ["moved"]
        assert _results(cluster, "moved", minilm) == _results(manager, "t", minilm)
        assert _kb_state(cluster, "moved") == _kb_state(manager, "t")
        back = tmp_path / "back.zip"
        _export(cluster, "moved", back)
    finally:
        server_manager_instance.release_server(str(db))
    import_archive(manager, back, "back", progress=False)
    assert _results(manager, "back", minilm) == _results(manager, "t", minilm)


@pytest.mark.parametrize("backend", ["local", "milvus"])
def test_an_interrupted_import_leaves_no_kb_and_its_rerun_finishes_it(manager, archive, minilm, monkeypatch,
                                                                       tmp_path, backend):
    target, store_class = manager, LocalStore
    if backend == "milvus":
        pytest.importorskip("milvus_lite")
        from indexer.store.milvus.store import MilvusStore

        target = KBManager(IndexerSettings(home=tmp_path / "cluster", embed_model="minilm",
                                           store_uri=str(tmp_path / "kb.db")), encoders={"minilm": minilm})
        store_class = MilvusStore
    try:
        _interrupt_and_rerun(manager, target, archive, minilm, monkeypatch, store_class)
    finally:
        if backend == "milvus":
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(str(tmp_path / "kb.db"))


def _interrupt_and_rerun(manager, target, archive, minilm, monkeypatch, store_class):
    real, calls = store_class.replace_document, []

    def killed_at_the_third(self, *args):  # as a kill -9 part-way: the documents written so far stay
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(store_class, "replace_document", killed_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        import_archive(target, archive, "copy", progress=False)
    monkeypatch.setattr(store_class, "replace_document", real)
    assert "copy" not in target.names()  # no half KB under the name
    rep = import_archive(target, archive, "copy", progress=False)
    assert rep.written == rep.documents - 2  # the two written before the kill were kept
    assert _results(target, "copy", minilm) == _results(manager, "t", minilm)
    assert not list(target.home.glob(".*importing"))


# ---- damaged and hostile archives ------------------------------------------------------
def _rewrite(src: Path, dst: Path, *, manifest=None, documents=None, vectors=None, extra=(), fix_sums=True) -> Path:
    """A copy of archive `src` with members changed (functions of the old bytes / manifest dict), checksums
    and sizes in its manifest made to match unless `fix_sums` is False."""
    with zipfile.ZipFile(src) as z:
        parts = {n: z.read(n) for n in F.MEMBERS}
    m = json.loads(parts[F.MANIFEST])
    if documents:
        parts[F.DOCUMENTS] = documents(parts[F.DOCUMENTS])
    if vectors:
        parts[F.VECTORS] = vectors(parts[F.VECTORS])
    if fix_sums:
        for name in (F.DOCUMENTS, F.VECTORS):
            m["members"][name] = {"size": len(parts[name]), "sha256": hashlib.sha256(parts[name]).hexdigest()}
    if manifest:
        manifest(m)
    parts[F.MANIFEST] = json.dumps(m).encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
        for name, data in extra:
            z.writestr(name, data)
    return dst


def _flip_a_byte(data: bytes) -> bytes:
    mid = len(data) // 2
    return data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]


def _other_doc_chunk(data: bytes) -> bytes:
    lines = data.split(b"\n")
    first = json.loads(lines[0])
    first["chunks"][0]["chunk_id"] = "someone-else:0:abc"
    return b"\n".join([json.dumps(first).encode()] + lines[1:])


def _nan(data: bytes) -> bytes:
    return np.full(1, np.nan, "<f4").tobytes() + data[4:]


HOSTILE = {
    "not a zip": (lambda src, dst: dst.write_bytes(b"PK\x03\x04 not really"), "not a readable zip file"),
    "truncated": (lambda src, dst: dst.write_bytes(src.read_bytes()[:-200]), "not a readable zip file"),
    "a path outside": (lambda src, dst: _rewrite(src, dst, extra=[("../../etc/cron.d/x", b"boom")]),
                       "'../../etc/cron.d/x', which no knowledge base archive holds"),
    "an absolute path": (lambda src, dst: _rewrite(src, dst, extra=[("/tmp/x", b"boom")]), "which no knowledge base"),
    "damaged vectors": (lambda src, dst: _rewrite(src, dst, vectors=_flip_a_byte, fix_sums=False),
                        "checksum of vectors.f32 differs"),
    "damaged documents": (lambda src, dst: _rewrite(src, dst, documents=_flip_a_byte, fix_sums=False),
                          r"checksum of documents.jsonl differs|documents.jsonl line \d+ is not a valid"),
    "a chunk of another document": (lambda src, dst: _rewrite(src, dst, documents=_other_doc_chunk),
                                    "does not belong to document"),
    "not finite": (lambda src, dst: _rewrite(src, dst, vectors=_nan), "not finite numbers"),
    "counts off": (lambda src, dst: _rewrite(src, dst, manifest=lambda m: m.update(documents=m["documents"] + 1)),
                   "the manifest says"),
    "more than it says": (lambda src, dst: _rewrite(src, dst, manifest=lambda m: m.update(documents=1)),
                          "holds more than the manifest's 1 documents"),
    "vectors short": (lambda src, dst: _rewrite(src, dst, vectors=lambda v: v[:-4]), "float32 values of the"),
    "another format": (lambda src, dst: _rewrite(src, dst, manifest=lambda m: m.update(format="other")),
                       "does not name the format"),
    "a newer version": (lambda src, dst: _rewrite(src, dst, manifest=lambda m: m.update(version=99)),
                        "format version 99, newer"),
    "an unknown field": (lambda src, dst: _rewrite(src, dst, manifest=lambda m: m.update(next_row="0")),
                         "next_row: Extra inputs are not permitted"),
    "a zip bomb": (lambda src, dst: _rewrite(src, dst, documents=lambda d: d + b" " * (40 << 20)),
                   "would inflate .* times"),
    "damaged service state": (lambda src, dst: _with_state(src, dst, b'{"keys": []}', listed=b'{"keys":[1]}'),
                              "checksum of service_state.json differs"),
    "service state not listed": (lambda src, dst: _with_state(src, dst, b"{}", listed=None),
                                 r"manifest's members differ from those it holds \(service_state.json\)"),
    "a kept upload outside its folder": (lambda src, dst: _with_kept(src, dst, b"boom", name="originals/../x.txt"),
                                         "'originals/../x.txt', which no knowledge base archive holds"),
    "a kept upload not listed": (lambda src, dst: _with_kept(src, dst, b"kept", listed=None),
                                 "manifest's members differ from those it holds"),
    "a kept upload of other bytes than its name": (
        lambda src, dst: _with_kept(src, dst, b"KEPT", name=f"originals/{hashlib.sha256(b'kept').hexdigest()}.txt",
                                    listed=b"kept"), r"checksum of originals/[0-9a-f]{64}\.txt differs"),
    "a kept upload listed with another SHA-256": (
        lambda src, dst: _with_kept(src, dst, b"kept", name=f"originals/{hashlib.sha256(b'other').hexdigest()}.txt"),
        "another SHA-256 than its name"),
    "a directory too large to read": (lambda src, dst: dst.write_bytes(_directory_of(src.read_bytes(), 100 << 20)),
                                      "directory lists .* entries in 100 MB, over the limit"),
    "a damaged OCR cache": (lambda src, dst: _with_kept(src, dst, b"SQLite", name=F.OCR_CACHE, listed=b"sqlite"),
                            "checksum of ocr-cache.sqlite differs"),
}


def _directory_of(data: bytes, size: int) -> bytes:
    """Zip bytes whose end record says its directory takes `size` bytes (what zipfile would read into memory)."""
    end = data.rindex(b"PK\x05\x06")
    return data[:end + 12] + size.to_bytes(4, "little") + data[end + 16:]


def _with_kept(src: Path, dst: Path, data: bytes, name: str | None = None, listed: bytes | None = b"=") -> Path:
    """`src` with a kept upload member (default: named by the SHA-256 of `data`), listed in the manifest with the
    size and checksum of `listed` (its own bytes by default; None: not listed)."""
    name = name or f"{F.ORIGINALS}{hashlib.sha256(data).hexdigest()}.txt"
    listed = data if listed == b"=" else listed

    def manifest(m: dict) -> None:
        if listed is not None:
            m["members"][name] = {"size": len(listed), "sha256": hashlib.sha256(listed).hexdigest()}
    return _rewrite(src, dst, manifest=manifest, extra=[(name, data)])


def _with_state(src: Path, dst: Path, state: bytes, listed: bytes | None) -> Path:
    """`src` with a service state member (F.STATE) of `state`, listed in the manifest with the size and checksum
    of `listed` (None: not listed)."""
    def manifest(m: dict) -> None:
        if listed is not None:
            m["members"][F.STATE] = {"size": len(listed), "sha256": hashlib.sha256(listed).hexdigest()}
    return _rewrite(src, dst, manifest=manifest, extra=[(F.STATE, state)])


def test_an_archive_carries_a_service_state_member_checked_like_the_others(archive, tmp_path):
    from indexer.archive.reader import ArchiveReader

    state = '{"format": "harbor-rag-kb-state", "keys": [], "label": "柜员"}'.encode()
    with ArchiveReader(_with_state(archive, tmp_path / "s.zip", state, listed=state)) as r:
        r.verify(progress=False)
        assert r.state() == state
    with ArchiveReader(archive) as r:
        assert r.state() is None  # exported without it: none


def test_an_import_names_the_documents_its_export_left_out(manager, archive, tmp_path):
    gone = [{"doc_id": "d-zh", "source": "/docs/收费标准.txt"}, {"doc_id": "d-en", "source": "/docs/rates.md"}]
    lacking = _rewrite(archive, tmp_path / "lacking.zip", manifest=lambda m: m.update(left_out=gone))
    rep = import_archive(manager, lacking, "lacking", progress=False)
    assert rep.left_out == ["/docs/收费标准.txt", "/docs/rates.md"]
    assert import_archive(manager, archive, "whole", progress=False).left_out == []


def test_an_archive_naming_its_kb_with_a_path_is_imported_only_under_a_name_given(manager, archive, tmp_path):
    bad = _rewrite(archive, tmp_path / "named.zip", manifest=lambda m: m.update(kb="../../etc"))
    with pytest.raises(F.ArchiveError, match="names its KB '../../etc', which is not a valid name.*--as NAME"):
        import_archive(manager, bad, progress=False)
    assert manager.names() == ["t"] and not (manager.home.parent / "etc").exists()
    assert import_archive(manager, bad, "given", progress=False).kb == "given"


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_damaged_or_hostile_archive_is_refused_saying_why_and_nothing_is_written(manager, archive, tmp_path, case):
    make, message = HOSTILE[case]
    bad = tmp_path / "bad.zip"
    make(archive, bad)
    with pytest.raises(F.ArchiveError, match=message):
        import_archive(manager, bad, "copy", progress=False)
    assert manager.names() == ["t"] and not [p for p in manager.home.iterdir() if p.name.startswith(".")]


def test_a_byte_altered_anywhere_is_refused_as_a_damaged_archive(manager, archive, tmp_path):
    """zipfile's own errors (a CRC, a deflate stream, names that differ) are the archive's, said as such."""
    data, bad = archive.read_bytes(), tmp_path / "bad.zip"
    refused = 0
    for at in range(0, len(data), len(data) // 30):
        bad.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:])
        try:
            import_archive(manager, bad, "copy", progress=False)
        except F.ArchiveError:
            refused += 1
            assert manager.names() == ["t"] and not list(manager.home.glob(".*importing"))
            continue
        assert _kb_state(manager, "copy") == _kb_state(manager, "t")  # a byte no reader looks at (a date)
        manager.delete("copy")
    assert refused >= 25


def test_an_archive_cannot_set_the_stores_bookkeeping(manager, archive, tmp_path):
    forged = {"next_row": "0", "generation": "-5", "pending_write": "{}", "incarnation": "x", "dim": "3",
              "refusal_threshold": "0.3"}
    bad = _rewrite(archive, tmp_path / "forged.zip", manifest=lambda m: m["meta"].update(forged))
    import_archive(manager, bad, "copy", progress=False)
    meta = manager.open("copy").meta_items()
    assert meta["refusal_threshold"] == "0.3" and meta["dim"] == "384" and int(meta["generation"]) > 0
    assert "next_row" not in meta and "pending_write" not in meta and "incarnation" not in meta


def test_an_archive_over_the_size_limit_is_refused(manager, archive):
    with pytest.raises(F.ArchiveError, match="over the limit of 1e-06 GB; if you trust it, import with a higher"):
        import_archive(manager, archive, "copy", progress=False, limits=ArchiveLimits(max_gb=1e-6))


def test_an_archive_of_a_model_not_installed_here_says_which_and_what_to_do(manager, archive, tmp_path):
    tuned = "/srv/models/bank-tuned"
    bad = _rewrite(archive, tmp_path / "tuned.zip", manifest=lambda m: m.update(embed_model=tuned))
    with pytest.raises(F.ArchiveError, match=f"embedding model '{tuned}' \\(384 dimensions\\), which cannot be "
                                             f"loaded here .*copy the model folder {tuned} from the machine"):
        import_archive(manager, bad, "copy", progress=False)
    rng = np.random.default_rng(0)
    other = _rewrite(archive, tmp_path / "other.zip",  # vectors another model made, under this model's name
                     vectors=lambda v: rng.standard_normal(len(v) // 4).astype("<f4").tobytes())
    with pytest.raises(F.ArchiveError, match="'minilm' here does not give the archive's vectors"):
        import_archive(manager, other, "copy", progress=False)
    assert manager.names() == ["t"]


# ---- kept uploads and the OCR cache (indexer.archive.kept_files) ----------------------------------------------
UPLOAD = "u0123456789abcde"  # an upload's document id (indexer.originals.upload_doc_id's form)
KEPT = "挂失须知 Lost cards: call 400-800-1234.\n".encode()


def _as_upload(src: Path, dst: Path, cache: Path) -> Path:
    """`src` with its first document made an upload of KEPT named 挂失.txt, its kept copy and an OCR cache
    (`cache`, a real SQLite file) carried as an export writes them."""
    sha = hashlib.sha256(KEPT).hexdigest()

    def documents(data: bytes) -> bytes:
        lines = data.split(b"\n")
        first = json.loads(lines[0])
        old = first["doc_id"]
        first.update(doc_id=UPLOAD, source="挂失.txt", content_hash=sha, size=len(KEPT))
        for c in first["chunks"]:
            c["chunk_id"] = UPLOAD + c["chunk_id"][len(old):]
        return b"\n".join([json.dumps(first, ensure_ascii=False).encode()] + lines[1:])

    extra = [(f"{F.ORIGINALS}{sha}.txt", KEPT), (F.OCR_CACHE, cache.read_bytes())]

    def manifest(m: dict) -> None:
        for name, data in extra:
            m["members"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return _rewrite(src, dst, documents=documents, manifest=manifest, extra=extra)


def _ocr_cache(path: Path) -> Path:
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("CREATE TABLE pages (key TEXT PRIMARY KEY, lines TEXT)")
    db.execute("INSERT INTO pages VALUES ('k', '银行卡服务收费公告')")
    db.commit()
    db.close()
    return path


def test_kept_uploads_and_the_ocr_cache_travel_with_the_kb_within_this_sites_bounds(manager, archive, tmp_path):
    from indexer.originals import Originals

    carried = _as_upload(archive, tmp_path / "kept.zip", _ocr_cache(tmp_path / "cache.sqlite"))
    rep = import_archive(manager, carried, "copy", progress=False)
    assert (rep.files.originals, rep.files.not_kept, rep.files.ocr_cache) == (1, 0, True)
    store = manager.open("copy")
    try:
        info = store.document(UPLOAD)
    finally:
        store.close()
    kept = Originals.of(manager.settings, "copy").path_for(info)
    assert kept is not None and kept.read_bytes() == KEPT  # `rag index --reparse` reads it from there
    assert (manager.home / "copy" / F.OCR_CACHE).read_bytes() == (tmp_path / "cache.sqlite").read_bytes()

    store = manager.open("copy")  # exported again: carried as they were, or left out when asked
    try:
        out = export_kb(store, "copy", tmp_path / "again.zip", manager.settings.chunk.model_dump(), progress=False,
                        originals=Originals.of(manager.settings, "copy"))
        export_kb(store, "copy", tmp_path / "bare.zip", manager.settings.chunk.model_dump(), progress=False)
    finally:
        store.close()
    assert (out.files.originals, out.files.originals_bytes) == (1, len(KEPT)) and out.files.ocr_cache_bytes > 0
    assert "carried 1 kept uploads" in out.files.line()
    with zipfile.ZipFile(tmp_path / "again.zip") as z:
        assert sorted(z.namelist()) == sorted([*F.MEMBERS, F.OCR_CACHE, kept_name := f"{F.ORIGINALS}{kept.name}"])
        assert z.read(kept_name) == KEPT
    with zipfile.ZipFile(tmp_path / "bare.zip") as z:
        assert sorted(z.namelist()) == sorted(F.MEMBERS)

    # a site that keeps fewer uploads than the archive carries: the rest are not kept, and said so
    manager.settings.originals_max_mb = len(KEPT) / 2 / 2**20
    manager.settings.ocr_cache_mb = 0
    rep = import_archive(manager, carried, "small", progress=False)
    assert (rep.files.originals, rep.files.not_kept, rep.files.ocr_cache) == (0, 1, False)
    assert "originals_max_mb" in rep.files.not_kept_reason and "ocr_cache_mb" in rep.files.ocr_cache_reason
    assert not (manager.home / "small" / "originals").exists() or not list((manager.home / "small" / "originals")
                                                                           .glob("*.txt"))
    assert not (manager.home / "small" / F.OCR_CACHE).exists()
