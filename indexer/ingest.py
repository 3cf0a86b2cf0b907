"""Ingestion: paths -> content-hash check -> parse -> chunk -> embed -> store.

Files are parsed ahead of embedding, `parse_workers` at a time (each in its own sandboxed
process), at most 8 files per parser ahead of the encoder; chunks of several documents are embedded
together in batches of ingest_batch_chunks; text already embedded in this KB is never
encoded again. Each document lands in its own transaction and the indexes are published
once at the end, so a crash (or kill -9) leaves the KB at its old or new state per file,
and a re-run finishes the job: it finds the interrupted run's mark in the KB (RUN_MARK) and says so
(`IngestReport.resumed`); the documents that run finished are unchanged and not embedded again.
One bad file never stops the others.

A document records which parser read it and which chunker cut it (indexer.reread: the parser's version, for
PDFs and images whether OCR could run, the chunker's version): an unchanged file is read again when its parser
or the chunker has changed since, or OCR can run now and could not then (`FileResult.reread` says why);
`reparse` reads every given file again. Either way the chunks whose text (and neighbours' text, the context
window) did not change are not embedded again (their vectors are found by text).

Documents are untrusted: with settings.parse_isolation (the default) every file is parsed in a
sandboxed child process (indexer.parse.sandbox) with memory, CPU and wall-time limits, so a
hostile file fails alone instead of exhausting this process. ZIP bomb and PDF page bounds
(indexer.parse.limits) apply either way, and a file may give at most max_chunks_per_file chunks.

With prune, indexing a folder also removes the documents of files under it that are gone (deleted,
moved away or now hidden): only documents whose source is a path under that folder and whose id is
the one that path gives (so never an upload, nor a file indexed from another working directory).
"""
from __future__ import annotations

import hashlib
import logging
from collections import deque
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, TypeVar

import numpy as np
from tqdm import tqdm

from indexer.chunk import chunk_elements
from indexer.config import IndexerSettings
from indexer.embed.base import Encoder
from indexer.embed.context import mix, vector_key, window_texts
from indexer.ocr_tags import given_tags, with_ocr_tags
from indexer.parse import progress as parse_progress
from indexer.parse import sandbox
from indexer.parse.dispatch import SUPPORTED_EXTENSIONS, ParseError, parse_file
from indexer.parse.extension import file_extension
from indexer.parse.images import IMAGE_EXTENSIONS
from indexer.parse.limits import ParseLimits
from indexer.parse.ocr import unavailable_reason
from indexer.parse.ocr_cache_where import OcrCacheAt
from indexer.parse.ocr_options import OcrOptions
from indexer.parse.versions import ParserStamp, stamp_for
from indexer.reread import (
    DAMAGED_COPY,
    REPARSE,
    RETAGGED,
    Check,
    KnownDigest,
    check,
    chunked,
    file_sha,
    loses_ocr_text,
    screen_part,
    sha256_file,
    stamped,
    text_reread_reason,
)
from indexer.screen import KeptOut, Screen, fingerprint, screen_chunks
from indexer.store.base import KBGoneError, Store, now, text_hash
from indexer.store.write_errors import write_error
from indexer.tokenize import tokenize
from indexer.tokenize import warm_up_in_background as warm_up_tokenizer
from indexer.types import Chunk, DocumentInfo, Element

log = logging.getLogger(__name__)


@dataclass
class FileResult:
    source: str
    status: str  # indexed | updated | unchanged | failed | removed
    doc_id: str = ""
    chunks: int = 0
    reason: str = ""
    screened: int = 0  # sentences kept out of the index because they address the assistant
    rescreened: bool = False  # the file had not changed: indexed again under another screen (or none, --trust)
    reread: str = ""  # the file had not changed: read again because (indexer.reread) "parser updated", "--reparse", ...
    deferred: str = ""  # unchanged though it would be re-read for this reason: OCR read some of it and cannot run now
    # (`reason` then says why OCR cannot run and what to do)


RUN_MARK = "indexing_since"  # KB meta: when a run that has not finished began ("" once it finished)


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)
    resumed: str = ""  # when the interrupted run this one finished had begun (RUN_MARK), else ""

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "failed"]


@dataclass
class _Parsed:
    info: DocumentInfo
    chunks: list[Chunk]
    status: str
    screened: list[KeptOut] = field(default_factory=list)  # sentences (or whole chunks) kept out
    rescreened: bool = False
    reread: str = ""


def doc_id_for(path: Path) -> str:
    """Stable id from the absolute path, so the same file keeps its id across runs."""
    return "d" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:15]


def expand(paths: Iterable[str]) -> Iterator[tuple[str, Path | None, str]]:
    """(source as given, path, error) for every file under the given files and folders."""
    for given in paths:
        p = Path(given)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts):
                    yield str(f), f, ""
        elif p.is_file():
            yield given, p, ""
        else:
            yield given, None, "no such file or folder"


def embed_text(chunk: Chunk) -> str:
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


def prestart_parsers(settings: IndexerSettings, workers: int | None = None) -> None:
    """Start what indexing needs besides the model, in the background, to overlap loading the model
    when called first: with parse_isolation the parser processes (~2.3 s to import and warm up the
    parsers), and the BM25 tokenizer's dictionary (~0.6 s)."""
    if settings.parse_isolation:
        sandbox.prestart(workers or settings.parse_workers)
    warm_up_tokenizer()


T = TypeVar("T")
R = TypeVar("R")


def in_order(pool: Executor, fn: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[R]:
    """fn over items on the pool, results in the items' order, at most `ahead` running or waiting
    to be taken (Executor.map submits everything at once: a 100,000-file job would hold every
    parsed file in memory while the encoder lags behind)."""
    window: deque[Future[R]] = deque()
    try:
        for item in items:
            window.append(pool.submit(fn, item))
            if len(window) >= ahead:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:  # the consumer stopped (an error writing the store): files not started are not parsed
        for future in window:
            future.cancel()


class Ingestor:
    def __init__(self, store: Store, encoder: Encoder, settings: IndexerSettings, screen: Screen | None = None):
        """`screen` (rag.guard.document_guard.DOCUMENT_SCREEN): documents are untrusted; a sentence the
        screen flags (text that addresses the assistant) is never stored, and the file's result says so
        (indexer.screen). A document indexed under another screen, or none, is not unchanged."""
        self.store, self.encoder, self.settings, self.screen = store, encoder, settings, screen
        self.batch_chunks = settings.ingest_batch_chunks
        self.parse_limits = ParseLimits(
            zip_check=settings.parse_zip_check, zip_member_mb=settings.parse_zip_member_mb,
            zip_total_mb=settings.parse_zip_total_mb, zip_ratio=settings.parse_zip_ratio,
            pdf_max_pages=settings.parse_max_pages, ocr=ocr_options(settings, ocr_cache_at(store)))
        self.sandbox_limits = sandbox.SandboxLimits(
            memory_mb=settings.parse_memory_mb, cpu_s=settings.parse_cpu_s, timeout_s=settings.parse_timeout_s,
            max_output_mb=settings.parse_max_output_mb)
        # a PDF or an image may need OCR: its file's bounds grow by OCR's (tesseract runs in processes of its
        # own, bounded per page; rendering a page for it costs the parser ~0.1 s of CPU, 0.25 s allowed)
        self.ocr_sandbox_limits = replace(
            self.sandbox_limits, timeout_s=settings.parse_timeout_s + settings.ocr_timeout_s,
            cpu_s=settings.parse_cpu_s + int(settings.ocr_max_pages * 0.25))

    def warm_up(self, parse_workers: int | None = None) -> None:
        """Start the sandboxed parser processes in the background (see `prestart_parsers`)."""
        prestart_parsers(self.settings, parse_workers)

    # ---- files -----------------------------------------------------------------
    def index_paths(self, paths: list[str], tags: dict[str, str] | None = None,
                    progress: bool = True, prune: bool = False, reparse: bool = False) -> IngestReport:
        """prune: then remove the documents of files that are gone from the given folders (`gone_under`),
        each in its own transaction, published together (the delete path of `delete`).
        reparse: read every file again, changed or not."""
        files = list(expand(paths))
        report = IngestReport([FileResult(source, "failed", reason=err) for source, _, err in files if err])
        done = self.index_files([(s, p, None) for s, p, e in files if not e], tags, progress, reparse=reparse)
        report.results += done.results
        report.resumed = done.resumed
        if prune:
            folders = [Path(p) for p in paths if Path(p).is_dir()]
            present = {doc_id_for(p) for _, p, e in files if not e}
            for info in gone_under(self.store, folders, present):
                if self.store.delete_document(info.doc_id):
                    report.results.append(FileResult(info.source, "removed", info.doc_id, info.chunks))
            if report.count("removed"):
                self.store.commit()
        return report

    def index_files(self, files: list[tuple[str, Path, str | None]], tags: dict[str, str] | None = None,
                    progress: bool = True, reparse: bool = False, keep_tags: bool = False,
                    digests: Mapping[Path, KnownDigest] | None = None) -> IngestReport:
        """files: (source shown to users, path to read, doc id or None = derived from the path).
        reparse: read every file again, changed or not. keep_tags: each document keeps the tags it was
        indexed with (`tags` is then unused): a KB's own files read again (`rag index --reparse` alone).
        digests: the SHA-256 of files the caller already knows (an upload hashed once, a kept copy), by path;
        the others are hashed here."""
        tags = tags or {}
        no_ocr = unavailable_reason(self.parse_limits.ocr)  # OCR: checked once a run
        run = _Run(reparse, keep_tags, no_ocr is None, no_ocr or "", dict(digests or {}))
        report = IngestReport()
        bar = tqdm(total=len(files), unit="file", desc="indexing", disable=not progress)
        pending: list[_Parsed] = []
        workers = max(1, min(self.settings.parse_workers, len(files)))
        if files:
            self.warm_up(workers)
        try:
            if files:  # a run that never clears its mark was interrupted: the next one says it finished it
                report.resumed = self.store.get_meta(RUN_MARK) or ""
                self.store.set_meta(RUN_MARK, now())
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="parse") as pool:
                # parse ahead while the model embeds; results in file order
                note = (lambda text: bar.set_postfix_str(text)) if progress else None
                for outcome in in_order(pool, lambda f: self._prepare(f[0], f[1], tags, f[2], note, run), files,
                                        8 * workers):
                    bar.update(1)
                    if isinstance(outcome, FileResult):
                        report.results.append(outcome)
                        if outcome.status == "failed" and progress:  # as it happens, above the bar
                            bar.write(f"FAILED {outcome.source}: {outcome.reason}")
                        continue
                    if outcome.reread and progress:
                        bar.write(f"{outcome.info.source}: re-read: {outcome.reread}")
                    pending.append(outcome)
                    if sum(len(p.chunks) for p in pending) >= self.batch_chunks:
                        self._write(pending, progress, report.results)
                        pending = []
                self._write(pending, progress, report.results)
            if files:
                self.store.set_meta(RUN_MARK, "")
            self.store.commit()
        except Exception as e:  # a full disk, a read-only folder: say so, and what was written is kept
            if isinstance(e, KBGoneError):
                forget_read(ocr_cache_at(self.store), run.read)
            err = write_error(e, written=report.count("indexed") + report.count("updated"))
            if err is None:
                raise
            raise err from e
        finally:
            bar.close()
        return report

    def rereads(self) -> Callable[[DocumentInfo], bool]:
        """Whether index_files(keep_tags=True) would read a document's unchanged file again under its own name and
        tags (a parser or chunker upgrade, OCR now available, another screen) or name it deferred: what a caller
        asks before fetching bytes that cost something to fetch (an upload kept in the state database)."""
        ocr_ready = unavailable_reason(self.parse_limits.ocr) is None  # checked once, as a run does

        def rereads(old: DocumentInfo) -> bool:
            stamp = stamp_for(file_extension(old.source), ocr_ready)
            digest = fingerprint(stamped(file_sha(old.content_hash), stamp), self.screen)
            found = _same_file(old, old.source, given_tags(old.tags, {}), digest, stamp, reparse=False)
            return not found.unchanged or bool(found.deferred)
        return rereads

    def _prepare(self, source: str, path: Path, tags: dict[str, str], doc_id: str | None,
                 note: Callable[[str], None] | None, run: _Run) -> _Parsed | FileResult:
        try:
            size = path.stat().st_size
            limit = int(self.settings.max_file_mb * 1024 * 1024)
            if size > limit:
                raise ParseError(f"file is {size / 2**20:.3g} MB, over the {self.settings.max_file_mb:g} MB limit "
                                 "(raise max_file_mb / RAG_MAX_FILE_MB to index it)")
            if (extension := file_extension(path)) not in SUPPORTED_EXTENSIONS:
                raise ParseError(f"unsupported file type {extension or '(none)'}; supported: "
                                 + ", ".join(sorted(SUPPORTED_EXTENSIONS)))
            known = run.digests.get(path)
            sha = known.sha if known is not None else sha256_file(path)
            stamp = stamp_for(extension, run.ocr_ready)
            digest = fingerprint(stamped(sha, stamp), self.screen)
            doc_id = doc_id or doc_id_for(path)
            old = self.store.document(doc_id)
            if old and run.keep_tags:
                tags = given_tags(old.tags, {})
            reread = ""
            if old and file_sha(old.content_hash) == sha:  # the same bytes as when it was indexed
                found = _same_file(old, source, tags, digest, stamp, run.reparse)
                if found.unchanged:
                    return FileResult(source, "unchanged", doc_id, old.chunks,
                                      reason=run.no_ocr if found.deferred else "", deferred=found.deferred)
                reread = found.reason
            if known is not None and not known.checked and sha256_file(path) != known.sha:
                raise ParseError(f"{DAMAGED_COPY} ({known.sha[:12]}…): the copy is damaged, so the document was left "
                                 "as it was; upload the file again")
            run.read.add(sha)  # before: a parse that fails half-way may have cached pages already
            elements = self.parse(path, max_bytes=limit, note=note, sha=sha)
            return self._prepare_elements(doc_id, source, elements, digest, size, tags, "updated" if old else "indexed",
                                          rescreened=_only_screen_differs(old, digest, tags, source), reread=reread)
        except ParseError as e:
            return FileResult(source, "failed", reason=str(e))
        except Exception as e:  # a parser bug on one file must not stop the batch
            log.exception("unexpected error parsing %s", source)
            return FileResult(source, "failed", reason=f"unexpected {type(e).__name__}: {e}")

    def parse(self, path: Path, max_bytes: int | None = None,
              note: Callable[[str], None] | None = None, sha: str = "") -> list[Element]:
        """One file -> Elements, in the sandbox when settings.parse_isolation. Raises ParseError.
        note: shown while a long parse goes on ("OCR scan.pdf: page 3/40"). sha: the file's SHA-256 when known,
        so that the OCR cache does not hash the file again (its pages' owner); '' = it hashes it."""
        parse_limits = self.parse_limits
        if sha:
            parse_limits = replace(parse_limits, ocr=replace(parse_limits.ocr, file_sha=sha))
        limits = self.sandbox_limits
        if self.settings.ocr is not False and file_extension(path) in (".pdf", *IMAGE_EXTENSIONS):
            limits = self.ocr_sandbox_limits
        on_progress = None
        if note is not None:
            def on_progress(done: int, total: int) -> None:
                note(f"OCR {path.name}: page {done}/{total}")
        if self.settings.parse_isolation:
            return sandbox.parse_isolated(path, max_bytes, parse_limits, limits, on_progress)
        with parse_progress.watching(on_progress):
            return parse_file(path, max_bytes=max_bytes, limits=parse_limits)

    def _prepare_elements(self, doc_id, source, elements: list[Element], digest, size, tags, status,
                          rescreened: bool = False, reread: str = "") -> _Parsed:
        chunks = chunk_elements(doc_id, elements, self.settings.chunk)
        if not chunks:
            raise ParseError("no text to index after parsing (the file is empty or has no text layer)")
        cap = self.settings.max_chunks_per_file
        if len(chunks) > cap:
            raise ParseError(f"it gives {len(chunks)} chunks, over the limit of {cap} chunks per file "
                             "(max_chunks_per_file / RAG_MAX_CHUNKS_PER_FILE); split it into smaller files, "
                             "or ask an administrator to raise the limit")
        screened: list[KeptOut] = []
        if self.screen is not None:
            result = screen_chunks(chunks, self.screen)
            if not result.chunks:
                raise ParseError(f"every sentence of it addresses the assistant instead of the reader "
                                 f"({result.kept_out[0].rule}); nothing was indexed")
            chunks, screened = result.chunks, result.kept_out
        info = DocumentInfo(doc_id=doc_id, source=source, content_hash=digest, size=size, chunks=len(chunks),
                            indexed_at=now(), tags=with_ocr_tags(elements, tags))
        return _Parsed(info, chunks, status, screened, rescreened, reread)

    # ---- already-parsed documents (BEIR corpora, API uploads with text) --------
    def index_elements(self, docs: list[tuple[str, str, list[Element]]], tags: dict[str, str] | None = None,
                       progress: bool = True) -> IngestReport:
        """docs: (doc_id, source, elements). Unchanged documents are skipped by content hash (the text's, and the
        chunker version that cut it: one an older chunker cut is cut again, `reread` "chunker updated")."""
        report, pending = IngestReport(), []
        for doc_id, source, elements in tqdm(docs, desc="chunking", unit="doc", disable=not progress):
            digest = fingerprint(chunked(hashlib.sha256("\n\n".join(e.section + "\x00" + e.text for e in elements)
                                                        .encode()).hexdigest()), self.screen)
            old = self.store.document(doc_id)
            if old and old.content_hash == digest:
                report.results.append(FileResult(source, "unchanged", doc_id, old.chunks))
                continue
            try:
                pending.append(self._prepare_elements(doc_id, source, elements, digest,
                                                      sum(len(e.text) for e in elements), tags or {},
                                                      "updated" if old else "indexed",
                                                      _only_screen_differs(old, digest, old.tags if old else {},
                                                                           source),
                                                      text_reread_reason(old, digest) if old else ""))
            except ParseError as e:
                report.results.append(FileResult(source, "failed", doc_id, reason=str(e)))
        bar = tqdm(total=sum(len(p.chunks) for p in pending), desc="embedding", unit="chunk", disable=not progress)
        for i in range(0, len(pending), 512):
            part = pending[i:i + 512]
            report.results += self._write(part, False)
            bar.update(sum(len(p.chunks) for p in part))
        bar.close()
        self.store.commit()
        return report

    # ---- documents already in another KB (`rag kb reembed`) ---------------------
    def reembed_documents(self, docs: list[tuple[DocumentInfo, list[Chunk]]]) -> list[FileResult]:
        """Write documents as they are (same ids, chunks and info) with vectors from this Ingestor's encoder."""
        return self._write([_Parsed(info, chunks, "updated") for info, chunks in docs], False)

    # ---- embedding and writing -------------------------------------------------
    def _embed(self, pairs: list[tuple[str, str | None]], progress: bool) -> np.ndarray:
        """Vectors for (chunk text, window text or None): windows are embedded too and mixed in."""
        vecs = np.asarray(self.encoder.encode_passages([t for t, _ in pairs],
                                                       show_progress=progress and len(pairs) > 64))
        with_window = [i for i, (_, w) in enumerate(pairs) if w is not None]
        if with_window:
            window_vecs = self.encoder.encode_passages([pairs[i][1] for i in with_window],
                                                       show_progress=progress and len(with_window) > 64)
            vecs[with_window] = mix(vecs[with_window], window_vecs)
        return vecs

    def _write(self, parsed: list[_Parsed], progress: bool, out: list[FileResult] | None = None) -> list[FileResult]:
        """Embed and store `parsed`, each document in its own transaction; their results are appended to
        `out` (returned) as each lands, so a failure part-way leaves the results of those written."""
        out = [] if out is None else out
        if not parsed:
            return out
        per_doc = [[embed_text(c) for c in p.chunks] for p in parsed]
        texts = [t for doc in per_doc for t in doc]
        windows = [w for doc in per_doc for w in window_texts(doc, self.store.context_window)]
        hashes = [text_hash(vector_key(t, w)) for t, w in zip(texts, windows)]
        cached = self.store.cached_vectors(list(set(hashes)))
        missing = sorted({h: (t, w) for h, t, w in zip(hashes, texts, windows) if h not in cached}.items())
        if missing:
            cached.update(zip([h for h, _ in missing], self._embed([tw for _, tw in missing], progress)))
        pos = 0
        for p in parsed:
            n = len(p.chunks)
            hs = hashes[pos:pos + n]
            toks = [tokenize(t) for t in texts[pos:pos + n]]
            vectors = np.vstack([cached[h] for h in hs]).astype(np.float32)
            self.store.replace_document(p.info, p.chunks, toks, vectors, hs)
            out.append(FileResult(p.info.source, p.status, p.info.doc_id, n, _screened_note(p.screened),
                                  sum(k.sentences for k in p.screened), p.rescreened, p.reread))
            pos += n
        return out


@dataclass(frozen=True)
class _Run:
    """What one index_files run does besides indexing changed files (see there); ocr_ready: OCR can run, else
    no_ocr says why not and what to do (indexer.parse.ocr.unavailable_reason)."""

    reparse: bool = False
    keep_tags: bool = False
    ocr_ready: bool = False
    no_ocr: str = ""
    digests: dict[Path, KnownDigest] = field(default_factory=dict)  # index_files' `digests`
    read: set[str] = field(default_factory=set)  # the SHA-256 of each file given to the parser


def _same_file(old: DocumentInfo, source: str, tags: dict[str, str], digest: str, stamp: ParserStamp | None,
               reparse: bool) -> Check:
    """Whether a file whose bytes did not change is read again: when its tags or source changed, under --reparse,
    or for a reason of indexer.reread.check. Whatever asks for it, a document OCR read some of waits while OCR
    cannot run (`deferred`): reading it then would lose its scanned pages' text."""
    if given_tags(old.tags, tags) != tags or old.source != source:
        found = Check(False, "")  # indexed again as any file with new tags or source: no re-read reason
    elif reparse:
        found = Check(False, REPARSE)
    else:
        return check(old, digest, stamp)  # defers by the same rule
    return Check(True, deferred=found.reason or RETAGGED) if loses_ocr_text(old, stamp) else found


def _only_screen_differs(old: DocumentInfo | None, digest: str, tags: dict[str, str], source: str) -> bool:
    """The file is as it was when indexed, but was indexed under another screen (or none)."""
    return bool(old and file_sha(old.content_hash) == file_sha(digest)
                and screen_part(old.content_hash) != screen_part(digest)
                and given_tags(old.tags, tags) == tags and old.source == source)


def _screened_note(screened: list[KeptOut]) -> str:
    if not screened:
        return ""
    n = sum(k.sentences for k in screened)
    quote = " ".join(screened[0].text.split())[:100]
    return (f"{n} sentence{'s' if n > 1 else ''} kept out of the index because "
            f"{'they address' if n > 1 else 'it addresses'} the assistant ({screened[0].rule}), the rest of the "
            f"file is indexed: \u201c{quote}\u201d")


def gone_under(store: Store, folders: list[Path], present: set[str]) -> list[DocumentInfo]:
    """The documents of files under `folders` whose ids are not in `present` (the ids of the files found
    there now): a document is under a folder when its source, as a path from here, lies in it and gives
    the document's id (doc_id_for). Uploads (ids of their own) and sources relative to another working
    directory give another id and are never among them."""
    roots = [f.resolve() for f in folders]
    if not roots:
        return []
    out = []
    for info in store.documents():
        if info.doc_id in present:
            continue
        path = Path(info.source)
        if doc_id_for(path) == info.doc_id and any(path.resolve().is_relative_to(r) for r in roots):
            out.append(info)
    return out


def delete(store: Store, doc_id_or_path: str) -> list[str]:
    """Delete by doc id, by source as indexed, or by a path resolving to an indexed file."""
    targets = [doc_id_or_path] if store.document(doc_id_or_path) else []
    if not targets:
        targets = [d.doc_id for d in store.documents_by_source(doc_id_or_path)]
    if not targets and Path(doc_id_or_path).exists():
        did = doc_id_for(Path(doc_id_or_path))
        targets = [did] if store.document(did) else []
    for t in targets:
        store.delete_document(t)
    if targets:
        store.commit()
    return targets


def ocr_options(settings: IndexerSettings, cache: OcrCacheAt | None = None) -> OcrOptions:
    """cache: where the KB keeps what OCR read (ocr_cache_at); None for none."""
    cache = cache or OcrCacheAt()
    return OcrOptions(enabled=settings.ocr, languages=settings.ocr_languages, dpi=settings.ocr_dpi,
                      max_pixels=settings.ocr_max_pixels, max_pages=settings.ocr_max_pages,
                      page_timeout_s=settings.ocr_page_timeout_s, timeout_s=settings.ocr_timeout_s,
                      memory_mb=settings.ocr_memory_mb, psm=settings.ocr_psm, cache_path=cache.path,
                      cache_url=cache.url, cache_kb=cache.kb, cache_mb=settings.ocr_cache_mb)


def forget_read(at: OcrCacheAt, files: set[str]) -> None:
    """The OCR pages of `files` (SHA-256s), read for a KB that was deleted or replaced while they were read, go:
    its delete took the KB's pages out before the parser had put these (in cluster mode the shared cache stays
    with the name, so they stayed for good, read by no one). A KB created again under the name meanwhile that
    holds the same file loses them too: only a cache, read by OCR again."""
    if files and (cache := at.cache()) is not None:
        try:
            for sha in sorted(files):
                cache.forget(sha)
        finally:
            cache.close()


def ocr_cache_at(store: Store) -> OcrCacheAt:
    """Where the KB keeps what OCR read (indexer.parse.ocr_cache_where), as its store says (`ocr_cache`): in cluster
    mode the state database, else the KB's folder, so that it goes with the KB (a local KB's, beside its catalog; a
    Milvus KB's RAG_HOME/NAME); none for a store with neither."""
    at = getattr(store, "ocr_cache", None)
    return at if isinstance(at, OcrCacheAt) else OcrCacheAt()
