"""`rag kb list|create|delete`: knowledge bases."""
from __future__ import annotations

import json
from typing import Optional

import typer

from cli.audited import audited
from cli.kb_state import restore_state, service_state, state_line, state_to_restore
from cli.state import fail, home_manager, open_kb, state

kb_app = typer.Typer(help="Manage knowledge bases.", no_args_is_help=True)


@kb_app.command("list")
def kb_list(as_json: bool = typer.Option(False, "--json")):
    mgr = home_manager()
    rows = []
    for name in mgr.names():
        store = mgr.open(name)
        rows.append({"name": name, "documents": len(store.documents()), "embed_model": store.embed_model,
                     "context_window": store.context_window})
        store.close()
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        print(f"no knowledge bases in {mgr.uri or mgr.home} yet; create one with `rag kb create NAME`")
    for r in rows if not as_json else []:
        print(f"{r['name']}\t{r['documents']} documents\t{r['embed_model']}\tcontext window {r['context_window']}")


@kb_app.command("create")
@audited("kb.create", kb="name", detail=("embed_model",))
def kb_create(name: str, embed_model: Optional[str] = typer.Option(None, "--embed-model",
              help="e5+minilm (default: both bundled models fused), e5 (multilingual alone, faster indexing), minilm (English) or a sentence-transformers folder")):
    mgr = home_manager()
    try:
        store = mgr.create(name, embed_model)
    except (FileExistsError, ValueError, OSError) as e:  # OSError: a folder that holds no loadable model
        fail(str(e))
    store.commit()
    print(f"created knowledge base {name!r} ({store.embed_model}, {store.dim}-d, context window "
          f"{store.context_window}) in {mgr.uri or mgr.home / name}")
    store.close()


@kb_app.command("delete")
@audited("kb.delete", kb="name")
def kb_delete(name: str):
    """Delete a KB with everything the service's state database holds for it (its API keys are revoked;
    its chat channels, jobs, recorded answers and votes, experiments and settings go), as
    DELETE /v1/kbs/NAME does: a KB created again under the name starts with none of them."""
    from indexer.kbs import KBNotFound, check_name

    mgr = home_manager()
    try:
        if not mgr.exists(check_name(name)):
            raise KBNotFound(f"knowledge base {name!r} does not exist")
        _forget_state(name)  # first: a delete that fails half-way leaves a KB no old key or bot reaches
        mgr.delete(name)
    except (KBNotFound, ValueError, ConnectionError) as e:
        fail(str(e))
    print(f"deleted knowledge base {name!r}")


def _forget_state(name: str) -> None:
    """The KB's rows in the state database (RAG_DATABASE_URL, else RAG_HOME/service.sqlite when the
    service has made one: without it there is nothing to forget, and none is created)."""
    from pathlib import Path

    from api.config import ServiceSettings
    from api.state.factory import open_database
    from api.state.forget import forget_kb

    url = ServiceSettings.load(state.config).database_url
    home = Path(state.settings().indexer.home)
    if not url and not (home / "service.sqlite").exists():
        return
    db = open_database(url, home)
    try:
        forget_kb(db, name)
    finally:
        db.close()


@kb_app.command("reembed")
@audited("kb.reembed", kb="name", detail=("embed_model", "into"))
def kb_reembed(name: str,
               embed_model: str = typer.Option(..., "--embed-model",
                                               help="a folder written by `rag tune embedder`, or e5+minilm / e5 / "
                                                    "minilm to go back to a bundled model"),
               into: Optional[str] = typer.Option(None, "--into", help="write the re-embedded copy to this new KB "
                                                  "and leave NAME as it is (compare the two with `rag eval "
                                                  "retrieval --kb NAME,NEW`)")):
    """Re-embed every chunk of a KB with another model and record it in the KB (queries then use it).
    Incremental and crash-safe: a re-run carries on where an interrupted one stopped."""
    from pathlib import Path

    from indexer.kbs import KBNotFound

    if Path(embed_model).expanduser().is_dir():
        embed_model = str(Path(embed_model).expanduser().resolve())  # the KB records where the model lives
    from api.jobs.originals import kept_originals
    from cli.kept_uploads import service_db

    mgr = state.manager()
    try:
        # a copy's uploads are kept where the service keeps them (the state database in cluster mode)
        with service_db(mgr) as db:
            rep = mgr.reembed(name, embed_model, into=into, originals=lambda kb: kept_originals(mgr.settings, kb, db))
    except (KBNotFound, ValueError, OSError) as e:
        fail(str(e))
    name = rep["kb"]
    copy = f" (a copy of {rep['source']}, which is unchanged)" if rep["kb"] != rep["source"] else ""
    print(f"{name}{copy}: {rep['chunks']} chunks of {rep['documents']} documents now embedded with {rep['embed_model']} "
          f"({rep['reembedded']} documents embedded in this run)")
    if "uploads_kept" in rep:
        print(f"{name}: {rep['uploads_kept']} uploads kept, to be read again after a parser upgrade")
    if not_kept := rep.get("uploads_not_kept"):
        typer.echo(f"{name}: {len(not_kept)} uploads not kept (not kept in {rep['source']}, or past the copy's "
                   f"originals_max_mb): {', '.join(not_kept[:10])}{' …' if len(not_kept) > 10 else ''}; upload them "
                   "again to read them with later parsers", err=True)
    from rag.adapt.tune_refusal import recalibrate

    cal = recalibrate(state.settings(), name, mgr, progress=lambda line: typer.echo(line, err=True))
    if cal is not None:
        print(f"{name}: {cal.line()}")


@kb_app.command("export")
@audited("kb.export", kb="name", detail=("file",))
def kb_export(name: str, file: str = typer.Argument(..., help="the archive to write (a .zip file)"),
              overwrite: bool = typer.Option(False, "--overwrite", help="replace FILE when it exists"),
              with_state: bool = typer.Option(False, "--with-state", help="also the service's state for the KB: its "
                                              "API keys (as their hashes), chat channels (without their secrets), "
                                              "promoted settings, experiments and settings history"),
              with_secrets: bool = typer.Option(False, "--with-secrets", help="with --with-state: the channels' "
                                                "secrets too (keep the archive as you keep those secrets)"),
              without_originals: bool = typer.Option(False, "--without-originals", help="leave out the KB's kept "
                                                     "uploads and OCR cache (carried by default, so that the "
                                                     "imported KB re-reads its uploads without OCR running again)")):
    """Write a KB to one portable archive: its documents, chunks and vectors, embedding model and settings
    (refusal threshold, ...), its kept uploads and OCR cache. `rag kb import` restores it, into the local store
    or Milvus. The KB keeps serving meanwhile."""
    from pathlib import Path

    from cli.kept_uploads import kb_originals
    from indexer.archive.export import export_kb
    from indexer.archive.format import ArchiveError

    out = Path(file).expanduser()
    if out.is_dir():
        fail(f"{file} is a folder; give the archive's file name, e.g. {Path(file) / (name + '.zip')}")
    if out.exists() and not overwrite:
        fail(f"{file} already exists; give another file name, or --overwrite to replace it")
    if with_secrets and not with_state:
        fail("--with-secrets goes with --with-state (the channels' secrets are part of the KB's service state)")
    settings = state.settings()
    mgr, store = open_kb(name)
    carried = service_state(name, with_secrets) if with_state else None
    try:
        with kb_originals(mgr, name) as kept:  # the KB's folder, or the state database in cluster mode
            rep = export_kb(store, name, out, settings.indexer.chunk.model_dump(), state=carried,
                            originals=None if without_originals else kept)
    except ArchiveError as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot write {file}: {e.strerror or e}")
    finally:
        store.close()
    if line := rep.swept.message("an interrupted export"):
        typer.secho(line, fg="yellow" if rep.swept.failed else None, err=True)
    m = rep.manifest
    print(f"exported {name!r}: {m.documents} documents, {m.chunks} chunks ({m.embed_model}, {m.dim}-d) to {out} "
          f"({out.stat().st_size / 2**20:.1f} MB)")
    if not without_originals:
        print(rep.files.line())
    if rep.files.damaged:
        typer.secho(f"warning: left out the kept copies of {len(rep.files.damaged)} uploads that no longer match "
                    f"their SHA-256 ({', '.join(rep.files.damaged[:5])}): upload them again", fg="yellow", err=True)
    if carried is not None:
        print(state_line(carried))
    if rep.left_out:
        typer.secho(f"warning: left out {len(rep.left_out)} documents rewritten throughout the export "
                    f"({', '.join(d.source for d in rep.left_out[:5])}; all named in the archive's manifest.json, "
                    f"left_out); export again when indexing is done", fg="yellow", err=True)


@kb_app.command("import")
@audited("kb.import", kb="as_name", detail=("file", "replace"))
def kb_import(file: str,
              as_name: Optional[str] = typer.Option(None, "--as", help="the KB's name here (default: the archive's)"),
              replace: bool = typer.Option(False, "--replace", help="replace a KB of that name (default: refuse)"),
              max_gb: float = typer.Option(64.0, "--max-gb", help="refuse archives holding more than this, "
                                           "uncompressed"),
              without_state: bool = typer.Option(False, "--without-state", help="leave the service state the "
                                                 "archive carries (--with-state) unrestored: the KB only")):
    """Restore a KB from an archive `rag kb export` wrote, into the store this configuration uses (the
    local folder, or Milvus with RAG_STORE_URI). The vectors are used as they are (no re-embedding). A
    damaged or hostile archive is refused before anything is written; an interrupted import is finished
    by running the same command again."""
    from pathlib import Path

    from cli.archive_originals import import_kept_for
    from cli.kept_uploads import kb_originals
    from indexer.archive.format import ArchiveError
    from indexer.archive.import_ import import_archive
    from indexer.archive.kept_settle import settle_kept
    from indexer.archive.reader import ArchiveLimits
    from indexer.store.base import KBLockedError
    from indexer.store.write_errors import KBWriteError

    mgr = home_manager()
    path, limits = Path(file).expanduser(), ArchiveLimits(max_gb=max_gb)
    try:
        restoring = None if without_state else state_to_restore(mgr, path, as_name, replace, limits)
        with import_kept_for(mgr) as kept_for:
            rep = import_archive(mgr, path, as_name, replace=replace, limits=limits, kept_for=kept_for)
        if replace:  # the replaced KB's uploads go, the archive's all stay
            with kb_originals(mgr, rep.kb) as kept:
                rep.files = settle_kept(mgr, path, rep.kb, kept, rep.files, limits)
        restored = restore_state(rep.kb, restoring, replace) if restoring is not None else []
    except (ArchiveError, FileExistsError, KBWriteError, KBLockedError, ValueError, ConnectionError) as e:
        fail(str(e))
    done = "replaced" if rep.replaced else "imported"
    print(f"{done} {rep.kb!r} from {file}: {rep.documents} documents, {rep.chunks} chunks ({rep.embed_model}) "
          f"in {rep.store}" + (f" ({rep.written} documents written in this run)" if rep.written != rep.documents
                               else ""))
    for line in restored:
        print(line)
    for line in rep.files.lines() if rep.files is not None else []:
        print(line)
    if rep.left_out:
        typer.secho(f"warning: the archive lacks {len(rep.left_out)} documents of KB {rep.source_kb!r}, left out of "
                    f"the export as they were being rewritten ({', '.join(rep.left_out[:5])}); index them again "
                    f"from their files", fg="yellow", err=True)


from cli.kb_synonyms import kb_synonyms  # noqa: E402  (its own module: the command is long)

kb_app.command("synonyms")(kb_synonyms)
