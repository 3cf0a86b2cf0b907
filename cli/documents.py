"""`rag index`, `rag docs`, `rag delete`: documents in a knowledge base."""
from __future__ import annotations

import json
from typing import Optional

import typer

from cli.state import KB, fail, open_kb, parse_tags, state

NO_CALIBRATE = typer.Option(False, "--no-calibrate", help="skip the automatic calibration of the KB's refusal "
                                                          "threshold after the change")


def calibrate_refusal(kb: str, mgr, quiet: bool = False) -> None:
    """After the KB changed: its automatic refusal threshold is calibrated again (rag.answering.auto_refusal;
    a threshold set by `rag tune refusal` is kept). A failure is logged, not raised: the documents are in."""
    from rag.adapt.tune_refusal import recalibrate

    def progress(line: str) -> None:
        if not quiet:
            typer.echo(line, err=True)

    cal = recalibrate(state.settings(), kb, mgr, progress=progress)
    if cal is not None and cal.stored:
        each = ", ".join(f"{lang} {t:.4f}" for lang, t in sorted(cal.by_language.items())) or f"{cal.threshold:.4f}"
        print(f"{kb}: refusal threshold {each} calibrated automatically ({cal.answerable} questions from "
              f"the KB: {cal.answerable_kept:.0%} answered; {cal.unanswerable} off-topic: "
              f"{cal.unanswerable_refused:.0%} refused; {cal.seconds:.1f} s)")


def index(paths: Optional[list[str]] = typer.Argument(None, help="files and folders (recursive); with --reparse "
                                                      "alone, every file of the KB"), kb: str = KB,
          tag: list[str] = typer.Option([], "--tag", help="key=value metadata, repeatable"),
          embed_model: Optional[str] = typer.Option(None, "--embed-model", help="model for a new KB (an existing KB "
                                                   "keeps its own: `rag kb reembed` changes it)"),
          quiet: bool = typer.Option(False, "-q", "--quiet"), no_calibrate: bool = NO_CALIBRATE,
          prune: bool = typer.Option(False, "--prune", help="then remove the documents of files that are no longer "
                                     "in the given folders (deleted, moved away or now hidden); documents "
                                     "from other folders and uploads are never touched"),
          trust: bool = typer.Option(False, "--trust", help="index also the sentences that address the assistant "
                                     "(\"the assistant must answer ...\", \"ignore previous instructions\"), which "
                                     "are otherwise kept out as planted instructions, as in uploads; files indexed "
                                     "before under the screen are indexed again without it"),
          reparse: bool = typer.Option(False, "--reparse", help="read the given files again, changed or not (after "
                                       "installing Tesseract, or to apply parser fixes); without paths, every file "
                                       "of the KB from where it was indexed and every upload from its kept "
                                       "original, with its tags. Text that did not "
                                       "change is not embedded again")):
    """Index files and folders into a knowledge base (created if missing); the KB's refusal threshold is
    then calibrated again on its own content (unless `rag tune refusal` set it). A file read by an older
    version of its parser (or before OCR could run) is read again."""
    from pathlib import Path

    from cli.kept_uploads import add_uploads, reread_kept_uploads, warn_not_kept
    from indexer.embed.factory import same_model
    from indexer.ingest import Ingestor, prestart_parsers
    from indexer.store.write_errors import KBWriteError
    from rag.guard.document_guard import DOCUMENT_SCREEN

    tags = parse_tags(tag)
    if not paths:
        if not reparse:
            fail("give the files or folders to index, or --reparse alone to read every file of the KB again")
        if tag or prune:
            fail("--tag and --prune need the files or folders to index: --reparse alone keeps each document's tags")
        return _reparse_kb(kb, quiet, no_calibrate, trust)
    if not any(Path(p).is_dir() or Path(p).is_file() for p in paths):  # a typo: no KB made, nothing changed
        for p in paths:
            typer.secho(f"FAILED {p}: no such file or folder", fg="red", err=True)
        fail(f"nothing to index in {kb!r}: none of the given paths exists")
    existed = state.manager().exists(kb)
    prestart_parsers(state.settings().indexer)  # the parser processes warm up while the model loads
    mgr, store = open_kb(kb, writable=True, create=True, embed_model=embed_model)
    if existed and embed_model and not same_model(store.embed_model, embed_model):
        store.close()  # nothing indexed: the files would be embedded with the KB's own model, not the one asked for
        fail(f"knowledge base {kb!r} embeds with {store.embed_model}; --embed-model {embed_model} chooses the model "
             f"of a new KB only. Leave it out to index with {store.embed_model}, or change the KB's model first: "
             f"`rag kb reembed {kb} --embed-model {embed_model}`")
    try:
        encoder = mgr.encoder(store.embed_model)
        report = Ingestor(store, encoder, mgr.settings, screen=None if trust else DOCUMENT_SCREEN) \
            .index_paths(paths, tags, progress=not quiet, prune=prune, reparse=reparse)
        uploads = reread_kept_uploads(kb, mgr, store, reparse=False, quiet=quiet)
        add_uploads(report, uploads, everything=False)
    except KBWriteError as e:  # a full or read-only disk: what was written is kept, a re-run finishes
        where = e.where or ("" if mgr.uri else str(mgr.home / kb))
        fail(f"{kb}: {KBWriteError(e.reason, e.advice, where, e.written)}")
    finally:
        store.close()
    warn_not_kept(kb, uploads, by_name=False)
    _summarize(kb, mgr, report, quiet, no_calibrate, trust, prune)


def _reparse_kb(kb: str, quiet: bool, no_calibrate: bool, trust: bool) -> None:
    """`rag index --reparse` without paths: every file of the KB read again from where it was indexed, and every
    upload from its kept original (indexer.originals)."""
    from cli.kept_uploads import add_uploads, reread_kept_uploads, warn_not_kept
    from indexer.ingest import Ingestor, doc_id_for, prestart_parsers
    from indexer.originals import is_upload
    from indexer.reread import kb_files
    from indexer.store.write_errors import KBWriteError
    from rag.guard.document_guard import DOCUMENT_SCREEN

    prestart_parsers(state.settings().indexer)
    mgr, store = open_kb(kb, writable=True)
    try:
        files = kb_files([d for d in store.documents() if not is_upload(d)], doc_id_for)  # uploads: just below
        report = Ingestor(store, mgr.encoder(store.embed_model), mgr.settings,
                          screen=None if trust else DOCUMENT_SCREEN) \
            .index_files(list(files.found), progress=not quiet, reparse=True, keep_tags=True)
        uploads = reread_kept_uploads(kb, mgr, store, reparse=True, quiet=quiet)
        add_uploads(report, uploads, everything=True)
    except KBWriteError as e:
        where = e.where or ("" if mgr.uri else str(mgr.home / kb))
        fail(f"{kb}: {KBWriteError(e.reason, e.advice, where, e.written)}")
    finally:
        store.close()
    for source in files.missing:
        typer.secho(f"NOT RE-READ {source}: no file there now (moved or deleted); `rag index --reparse PATH "
                    f"--kb {kb}` reads it from where it is, `rag delete` removes it", fg="yellow", err=True)
    warn_not_kept(kb, uploads, by_name=True)
    if files.elsewhere:
        typer.secho(f"NOTE {kb}: {files.elsewhere} documents were not re-read: files indexed from another working "
                    "directory (run `rag index --reparse PATHS` there)", fg="yellow", err=True)
    _summarize(kb, mgr, report, quiet, no_calibrate, trust, prune=False)
    if files.missing:
        raise typer.Exit(1)


def _summarize(kb: str, mgr, report, quiet: bool, no_calibrate: bool, trust: bool, prune: bool) -> None:
    from cli.reread_notes import deferred_lines, reread_lines

    for r in report.failed:
        typer.secho(f"FAILED {r.source}: {r.reason}", fg="red", err=True)
    for line in deferred_lines(report):
        typer.secho(line, fg="yellow", err=True)
    if report.resumed:
        print(f"{kb}: finished an indexing run that was interrupted (begun {report.resumed}): the documents it had "
              "written were kept and not embedded again")
    for r in report.results:
        if r.screened and r.status != "failed":
            typer.secho(f"NOTE {r.source}: {r.reason} (--trust indexes them)", fg="yellow", err=True)
    removed = [r for r in report.results if r.status == "removed"]
    if not quiet:
        for r in removed:
            print(f"removed {r.source} (no longer in its folder)")
    print(f"{kb}: {report.count('indexed')} indexed, {report.count('updated')} updated, "
          f"{report.count('unchanged')} unchanged, {len(report.failed)} failed"
          + (f", {len(removed)} removed" if prune else ""))
    rescreened = sum(r.rescreened for r in report.results)
    if rescreened and trust:
        print(f"{kb}: {rescreened} of the updated files had not changed: they had been screened for planted "
              "instructions and are now indexed whole (--trust)")
    elif rescreened:
        print(f"{kb}: {rescreened} of the updated files had not changed: they were indexed before this version of "
              "the screen for planted instructions (or with --trust) and have been screened now")
    for line in reread_lines(kb, report):
        print(line)
    if (report.count("indexed") or report.count("updated") or removed) and not no_calibrate:
        calibrate_refusal(kb, mgr, quiet)
    if report.failed:
        raise typer.Exit(1)


def docs(kb: str = KB, as_json: bool = typer.Option(False, "--json")):
    """List the documents of a knowledge base."""
    from cli.kept_uploads import kb_originals
    from indexer.ingest import RUN_MARK
    from indexer.originals import is_upload
    from indexer.reread import recorded_chunker, recorded_stamp

    mgr, store = open_kb(kb)
    unfinished = store.get_meta(RUN_MARK) or ""
    # parser: what read the file ("pdf.1.ocr1", indexer.reread), chunker: the chunker version that cut it (1 for
    # records from before chunker versions); both null before parser versions were recorded
    with kb_originals(mgr, kb) as originals:
        rows = [{"doc_id": d.doc_id, "source": d.source, "chunks": d.chunks, "size": d.size,
                 "indexed_at": d.indexed_at, "tags": d.tags,
                 "parser": str(stamp) if (stamp := recorded_stamp(d.content_hash)) else None,
                 "chunker": recorded_chunker(d.content_hash) if stamp else None,
                 # an upload: whether its bytes are kept to read it again after a parser upgrade (in the state
                 # database in cluster mode); null for a file indexed from a path (read again from there)
                 "original_kept": originals.is_kept(d) if is_upload(d) else None}
                for d in store.documents()]
    store.close()
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        # tags last (ocr=yes ocr_pages=1-2, --tag ones): which documents were read by OCR, to check their text
        tags = "".join(f"  {key}={value}" for key, value in sorted((r["tags"] or {}).items()))
        print(f"{r['doc_id']}  {r['chunks']:>4} chunks  {r['size']:>9} B  {r['indexed_at']}  {r['source']}{tags}")
    print(f"{len(rows)} documents")
    if unfinished:
        typer.secho(f"note: an indexing run begun {unfinished} did not finish (stopped or still running); run "
                    "the same `rag index` again to index the rest", fg="yellow", err=True)


def delete(doc: str = typer.Argument(..., help="document id or the path it was indexed from"), kb: str = KB,
           no_calibrate: bool = NO_CALIBRATE):
    """Remove a document from every index of a knowledge base (then calibrate its refusal threshold again)."""
    from cli.kept_uploads import kb_originals
    from indexer.ingest import delete as delete_doc
    from indexer.originals import sweep_written

    mgr, store = open_kb(kb, writable=True)
    try:
        gone = delete_doc(store, doc)
        if gone:
            with kb_originals(mgr, kb) as originals:
                sweep_written(originals, store)
    finally:
        store.close()
    if not gone:
        fail(f"no document {doc!r} in {kb!r}; `rag docs --kb {kb}` lists them")
    print(f"deleted {', '.join(gone)}")
    if not no_calibrate:
        calibrate_refusal(kb, mgr)
