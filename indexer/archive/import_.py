"""Import an archive as a knowledge base, into the store the configuration selects (local or Milvus).

The archive is checked whole first (indexer.archive.reader), then its embedding model (installed, and
giving the archive's vectors: indexer.archive.model_check); nothing is written before. Documents are
written with their vectors as they are, one transaction per document, into a hidden copy
(indexer.archive.staging) that takes the KB's name once complete. A re-run of an interrupted import of
the same archive carries on where it stopped (the documents already in the copy are skipped); a copy
left by another archive is discarded. An existing KB is replaced only when asked (`replace`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from indexer.archive import format as F
from indexer.archive import meta as M
from indexer.archive.kept_files import RestoredFiles, kept_member, restore_kept, shared_ocr_cache
from indexer.archive.keys import bm25_tokens, vector_hashes
from indexer.archive.model_check import check_vectors, missing_model
from indexer.archive.progress import Meter, OnProgress
from indexer.archive.reader import ArchiveLimits, ArchiveReader
from indexer.archive.staging import NotWanted, StillWanted, staging_for
from indexer.kbs import KBManager, check_name
from indexer.originals import FOLDER, KeptOriginals, Originals
from indexer.parse.ocr_cache_base import MB
from indexer.store.base import Store
from indexer.store.write_errors import write_error

BATCH_CHUNKS = 2048  # chunks written between progress updates


@dataclass
class ImportReport:
    kb: str
    source_kb: str
    embed_model: str
    documents: int
    chunks: int
    written: int   # documents written in this run (the others were in place from an interrupted run)
    replaced: bool
    store: str     # where the KB now is
    left_out: list[str] = field(default_factory=list)  # sources the export left out (manifest left_out)
    files: RestoredFiles | None = None  # kept uploads and OCR cache put back (None: a re-run found it all done)


def import_archive(mgr: KBManager, path: Path, name: str | None = None, *, replace: bool = False,
                   progress: bool = True, limits: ArchiveLimits = ArchiveLimits(),
                   report: OnProgress | None = None, rerun: bool = False,
                   kept_for: Callable[[str], KeptOriginals] | None = None,
                   still_wanted: StillWanted | None = None) -> ImportReport:
    """Raises ArchiveError (the archive or its model), FileExistsError (the KB exists and not `replace`),
    ValueError (a bad name), OSError (a full disk, ...). `report`: told how far it is (indexer.archive.progress).
    `rerun`: this is an interrupted import run again (an import job taken up again after its service stopped),
    which may have stopped after the KB took its name: a KB of that name holding this archive's import, complete,
    is then its result (nothing is written), not a KB in the way. `kept_for(kb)`: where KB `kb` keeps its uploads
    when not in its folder (cluster mode: the state database, api.jobs.originals); None: the KB's folder (the
    hidden copy's, which becomes it). `still_wanted()`: asked under the lock guarding the swap, right before the copy
    takes the name (an import job: whether the job still exists); False: the copy is discarded, nothing is put in
    place, and NotWanted is raised. None (the CLI): always wanted."""
    with ArchiveReader(path, limits) as archive:
        m = archive.manifest
        target = target_name(m, name)
        existed = mgr.exists(target)
        if existed and rerun and _imported_as(mgr, target, m):
            staging_for(mgr, target).put_files_in_place()  # a Milvus KB's, when stopped before they were moved
            shared_ocr_cache(mgr.settings.ocr_cache_url, mgr.home / target, target, replaced=False,
                             max_bytes=mgr.settings.ocr_cache_mb * MB)
            return _report(mgr, target, m, written=0, replaced=replace)
        if existed and not replace:
            raise FileExistsError(exists_message(target))
        archive.verify(progress, report)
        encoder = _encoder(mgr, m)
        check_vectors(encoder, m, _first(archive, 2))
        staging = staging_for(mgr, target)
        try:
            store = _open_fresh(staging, m)
            try:
                written, wanted = _write(store, archive, progress, report)
                files = _restore_files(mgr, archive, staging, wanted, kept_for(target) if kept_for else None)
            except Exception as e:
                err = write_error(e, written=0)
                if err is None:
                    raise
                raise err from e
            finally:
                store.close()
            try:
                staging.put_in_place(replace, still_wanted)
            except NotWanted:
                staging.discard()
                raise
            shared_ocr_cache(mgr.settings.ocr_cache_url, mgr.home / target, target, replaced=existed,
                             max_bytes=mgr.settings.ocr_cache_mb * MB)
        finally:
            staging.release()
    rep = _report(mgr, target, m, written=written, replaced=existed)
    rep.files = files
    return rep


def _restore_files(mgr: KBManager, archive: ArchiveReader, staging, wanted: set[str],
                   kept: KeptOriginals | None) -> RestoredFiles:
    """The archive's kept uploads (into `kept`, else the hidden copy's folder) and OCR cache (the hidden copy's
    folder), through this configuration's keep_originals, originals_max_mb and ocr_cache_mb
    (indexer.archive.kept_files)."""
    s = mgr.settings
    if kept is None:
        kept = Originals(staging.files / FOLDER, s.keep_originals, int(s.originals_max_mb * 2**20))
    return restore_kept(archive, wanted, kept, staging.files, s.ocr_cache_mb)


def _report(mgr: KBManager, target: str, m: F.Manifest, written: int, replaced: bool) -> ImportReport:
    return ImportReport(kb=target, source_kb=m.kb, embed_model=m.embed_model, documents=m.documents,
                        chunks=m.chunks, written=written, replaced=replaced, store=str(mgr.uri or mgr.home / target),
                        left_out=[d.source for d in m.left_out])


def _imported_as(mgr: KBManager, target: str, m: F.Manifest) -> bool:
    """KB `target` is an import of this archive that was complete when it took the name (the hidden copy's marks
    travel with it)."""
    store = mgr.open(target)
    try:
        return store.get_meta(M.IMPORT_ARCHIVE) == m.archive_id and store.get_meta(M.IMPORT_DONE) == "1"
    finally:
        store.close()


def exists_message(target: str) -> str:
    return (f"knowledge base {target!r} already exists: import under another name with --as NAME (?name= over "
            "HTTP), or replace it with --replace (?replace=true)")


def target_name(m: F.Manifest, name: str | None) -> str:
    """The KB an archive is imported as: `name`, else the archive's own (ValueError, ArchiveError: not a valid one)."""
    return check_name(name) if name else _archive_name(m)


def _archive_name(m: F.Manifest) -> str:
    try:
        return check_name(m.kb)
    except ValueError as e:
        raise F.ArchiveError(f"the archive names its KB {m.kb[:100]!r}, which is not a valid name ({e}); import it "
                             "under a name of your own (--as NAME, or ?name= over HTTP)") from e


def _encoder(mgr: KBManager, m: F.Manifest):
    from indexer.embed.factory import UnknownModel

    try:
        enc = mgr.encoder(m.embed_model)
        enc.warm_up()
    except (UnknownModel, OSError, ImportError, ValueError) as e:
        raise missing_model(m, e) from e
    return enc


def _first(archive: ArchiveReader, n: int) -> list:
    out = []
    for item in archive.documents():
        out.append(item)
        if len(out) >= n:
            break
    return out


def _open_fresh(staging, m: F.Manifest) -> Store:
    """The hidden copy, created, or resumed when an interrupted run was importing this same archive."""
    store = staging.open(m.embed_model, m.dim, m.context_window)
    mark = store.get_meta(M.IMPORT_ARCHIVE)
    same = (mark == m.archive_id and store.embed_model == m.embed_model and store.dim == m.dim
            and store.context_window == m.context_window)
    if not same and (mark is not None or store.documents()):
        store.close()
        staging.discard()
        store = staging.open(m.embed_model, m.dim, m.context_window)
    store.set_meta(M.IMPORT_ARCHIVE, m.archive_id)
    store.set_meta(M.IMPORT_DONE, "0")
    for key, value in M.carried(m.meta).items():
        store.set_meta(key, value)
    return store


def _write(store: Store, archive: ArchiveReader, progress: bool, report: OnProgress | None) -> tuple[int, set[str]]:
    """Every document of the archive into `store`, skipping those already there as they are; returns how many
    were written, and the archive members of the kept uploads its documents name."""
    m = archive.manifest
    have = {d.doc_id: d for d in store.documents()}
    bar = Meter("importing", m.chunks, "chunk", progress, report)
    written, wanted = 0, set()
    for doc, vectors in archive.documents():
        info = doc.info()
        if (name := kept_member(info)) is not None:
            wanted.add(name)
        if have.get(info.doc_id) != info:
            chunks = doc.as_chunks()
            store.replace_document(info, chunks, bm25_tokens(chunks), vectors,
                                   vector_hashes(chunks, m.context_window))
            written += 1
        bar.update(len(doc.chunks))
    bar.close()
    if len(store.documents()) != m.documents:
        raise F.ArchiveError(f"the import holds {len(store.documents())} documents, the archive {m.documents}: "
                             "run the import again")
    store.set_meta(M.IMPORT_DONE, "1")
    store.commit()
    return written, wanted
