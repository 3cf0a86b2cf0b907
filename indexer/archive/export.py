"""Write a knowledge base to an archive (indexer.archive), through a reader: the KB keeps serving and
taking uploads meanwhile. A document changed while it is read is read again, so each document in the
archive is one version of it, chunks and vectors alike; one rewritten throughout READ_TRIES reads is left
out, and named in the manifest's `left_out` (and the report). The archive appears under its name only once
complete (written beside it, then renamed)."""
from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

from indexer.archive import format as F
from indexer.archive import leftovers
from indexer.archive.kept_files import CarriedFiles, write_kept
from indexer.archive.keys import vector_hashes
from indexer.archive.meta import carried_meta
from indexer.originals import KeptOriginals
from indexer.store.base import Store
from indexer.tokenize import count_tokens
from indexer.types import Chunk, DocumentInfo

READ_TRIES = 5  # a document rewritten this many times while being read is left out (and reported)
COPY_BLOCK = 1 << 20


@dataclass
class ExportReport:
    path: Path
    manifest: F.Manifest
    left_out: list[F.LeftOut]  # documents changing too fast to read one version of (READ_TRIES)
    swept: leftovers.Swept = field(default_factory=leftovers.Swept)  # what killed exports of it had left
    files: CarriedFiles = field(default_factory=CarriedFiles)  # kept uploads and OCR cache carried


def export_kb(store: Store, kb: str, out: Path, chunking: dict[str, int], progress: bool = True,
              state: bytes | None = None, originals: KeptOriginals | None = None) -> ExportReport:
    """`state`: the service's state for the KB (F.STATE, from api.state.kb_state), written only when given.
    `originals`: where the KB keeps its uploads (its folder, or the state database in cluster mode: api.jobs.originals),
    carried with its OCR cache (indexer.archive.kept_files); None leaves both out (`--without-originals`)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    swept = leftovers.sweep_exports(out.parent, out.name)
    fd, part = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    vec_fd, vec_path = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".vectors", dir=out.parent)
    ocr_fd, ocr_path = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".ocr", dir=out.parent)
    os.close(ocr_fd)
    # held until the end: a sweeper (the next export of this archive) leaves them alone while this runs
    locks = [leftovers.hold(Path(part)), leftovers.hold(Path(vec_path)), leftovers.hold(Path(ocr_path))]
    try:
        with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf, \
                os.fdopen(vec_fd, "wb") as vec_out:
            docs, chunks, left_out, doc_member, vec_hash, written = _write_documents(store, zf, vec_out, progress)
            vec_out.flush()
            vectors = F.Member(size=os.path.getsize(vec_path), sha256=vec_hash)
            info = zipfile.ZipInfo(F.VECTORS, date_time=_zip_time())
            info.compress_type = zipfile.ZIP_STORED  # float32 vectors do not compress
            with zf.open(info, "w", force_zip64=True) as dst, open(vec_path, "rb") as src:
                while block := src.read(COPY_BLOCK):
                    dst.write(block)
            members = {F.DOCUMENTS: doc_member, F.VECTORS: vectors}
            files = CarriedFiles()
            if originals is not None:
                kept, files = write_kept(zf, written, originals, getattr(store, "ocr_cache", None), Path(ocr_path))
                members.update(kept)
            if state is not None:
                zf.writestr(zipfile.ZipInfo(F.STATE, date_time=_zip_time()), state, zipfile.ZIP_DEFLATED)
                members[F.STATE] = F.Member(size=len(state), sha256=hashlib.sha256(state).hexdigest())
            manifest = F.Manifest(
                format=F.FORMAT, version=F.VERSION, kb=kb,
                exported_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                embed_model=store.embed_model, dim=store.dim, context_window=store.context_window,
                chunking=dict(chunking), documents=docs, chunks=chunks, meta=carried_meta(store),
                members=members, left_out=left_out)
            zf.writestr(F.MANIFEST, manifest.to_json())
        os.replace(part, out)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
    finally:
        Path(vec_path).unlink(missing_ok=True)
        Path(ocr_path).unlink(missing_ok=True)
        for lock in locks:
            leftovers.release(lock)
    return ExportReport(out, manifest, left_out, swept, files)


def _write_documents(store: Store, zf: zipfile.ZipFile, vec_out, progress: bool):
    """documents.jsonl into the zip, the vectors into `vec_out`; returns (documents, chunks, the documents
    left out, the documents member, the vectors' SHA-256, the records of the documents written)."""
    listed = store.documents()
    doc_hash, vec_hash = hashlib.sha256(), hashlib.sha256()
    docs = n_chunks = size = 0
    left_out: list[F.LeftOut] = []
    written: list[DocumentInfo] = []
    bar = tqdm(total=sum(d.chunks for d in listed), desc="exporting", unit="chunk", disable=not progress)
    with zf.open(zipfile.ZipInfo(F.DOCUMENTS, date_time=_zip_time()), "w", force_zip64=True) as dst:
        for d in listed:
            got = _read_document(store, d.doc_id)
            bar.update(d.chunks)
            if got is None:
                if (now := store.document(d.doc_id)) is not None:
                    left_out.append(F.LeftOut(doc_id=d.doc_id, source=now.source))
                continue  # deleted since listed
            info, chunks, vectors = got
            written.append(info)
            line = (F.DocumentLine.of(info, chunks).model_dump_json() + "\n").encode("utf-8")
            dst.write(line)
            doc_hash.update(line)
            size += len(line)
            data = np.ascontiguousarray(vectors, dtype="<f4").tobytes()
            vec_out.write(data)
            vec_hash.update(data)
            docs += 1
            n_chunks += len(chunks)
    bar.close()
    return (docs, n_chunks, left_out, F.Member(size=size, sha256=doc_hash.hexdigest()), vec_hash.hexdigest(),
            written)


def _read_document(store: Store, doc_id: str) -> tuple[DocumentInfo, list[Chunk], np.ndarray] | None:
    """One version of a document: its record, chunks and vectors, read again while a writer changes it."""
    for _ in range(READ_TRIES):
        info = store.document(doc_id)
        if info is None:
            return None
        records = store.doc_chunks(doc_id)
        chunks = [c.as_chunk(int(c.chunk_id.rsplit(":", 2)[-2]), count_tokens(c.text)) for c in records]
        hashes = vector_hashes(chunks, store.context_window)
        found = store.cached_vectors(list(dict.fromkeys(hashes)))  # chunks of one text: one lookup
        if len(chunks) == info.chunks and all(h in found for h in hashes) and store.document(doc_id) == info:
            return info, chunks, np.vstack([found[h] for h in hashes]).astype(np.float32)
    return None


def _zip_time() -> tuple[int, int, int, int, int, int]:
    return datetime.now().timetuple()[:6]
