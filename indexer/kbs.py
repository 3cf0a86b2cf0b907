"""Knowledge bases under one home folder: list, create, open, delete."""
from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from indexer import kb_trash
from indexer.config import IndexerSettings
from indexer.embed.base import Encoder
from indexer.embed.factory import make_encoder
from indexer.originals import FOLDER as ORIGINALS
from indexer.originals import CopiedUploads, KeptOriginals, Originals, carry_over, copy_kept
from indexer.parse import ocr_cache_files
from indexer.store.base import Store
from indexer.store.factory import backend_for, drop_kb, kb_exists, kb_names, open_store
from indexer.store.local.snapshot import IndexParams
from indexer.store.settings_lock import settings_lock

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # also the HTTP API's (api.schemas.KBCreate)
NAME_RULE = "1-64 letters, digits, '_', '-' or '.', the first a letter or digit"
NAME = re.compile(NAME_PATTERN)
TUNED_SPEC = "rag_embedder.json"  # names the members of a tuned encoder folder (`rag tune embedder --out`)


def tuned_spec(model: str) -> dict | None:
    """The member list of a tuned encoder folder, or None when `model` is not one.

    A tuned folder holds one standard BERT / sentence-transformers folder per member and
    rag_embedder.json: {"members": {"e5": {"path": "e5"}, "minilm": {"path": "minilm"}}, ...}. Member
    names are the base models' (their prefixes, ensemble constants and languages hold for the tuned
    weights); a member without "path" is the bundled base model of that name."""
    path = Path(model).expanduser() / TUNED_SPEC
    if "+" in model or not path.is_file():
        return None
    spec = json.loads(path.read_text(encoding="utf-8"))
    for m in spec["members"].values():
        if m.get("path"):  # a member without a path was left untuned: its bundled base model
            m["path"] = str((path.parent / m["path"]).resolve())
    return spec


def tuned_encoder(model: str, batch_size: int = 64, device: str = "auto") -> Encoder:
    """The encoder of a tuned folder (see `tuned_spec`): each member through the compact BERT encoder, set
    up as the factory sets up its base model; two or more are fused by the factory's ensemble."""
    from indexer.embed.bert import CompactBertEncoder

    spec = tuned_spec(model)
    if spec is None:
        raise ValueError(f"{model} is not a tuned encoder folder (no {TUNED_SPEC})")

    def load(name: str) -> Encoder:
        m = spec["members"][name]
        base = make_encoder(name, batch_size, device)  # cheap until warm_up: nothing loads here
        if not m.get("path"):
            return base
        # the tuned weights run exactly as the factory runs the base model: prefixes, length, precision, engine
        extra = {"engine": base.engine} if hasattr(base, "engine") else {}
        return CompactBertEncoder(m["path"], name, base.query_prefix, base.passage_prefix, batch_size=batch_size,
                                  device=device, max_seq_length=base.max_seq_length, quantize=base.quantize,
                                  **extra)

    names = list(spec["members"])
    if len(names) == 1:
        return load(names[0])
    return make_encoder("+".join(names), batch_size, device, member=load)


class KBNotFound(LookupError):
    pass


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(f"invalid knowledge base name {name!r}: use {NAME_RULE}")
    return name


class KBManager:
    def __init__(self, settings: IndexerSettings, encoders: dict[str, Encoder] | None = None):
        """`encoders`: loaded encoders by model name to share (several managers in one process, tests);
        the dict is used, not copied, so encoders this manager loads are shared back."""
        self.settings = settings
        self.home = Path(settings.home)
        self._encoders: dict[str, Encoder] = encoders if encoders is not None else {}

    @property
    def uri(self) -> str | None:
        """The Milvus holding the KBs (settings.store_uri), or None for KB folders under home."""
        return self.settings.store_uri or None

    def names(self) -> list[str]:
        if self.uri:
            return kb_names(self.uri)
        if not self.home.exists():
            return []
        # '.NAME....deleting': a KB whose delete was interrupted (not a KB; sweep_deleted removes it)
        return sorted(p.name for p in self.home.iterdir() if not p.name.startswith(".") and (p / "kb.sqlite").exists())

    def exists(self, name: str) -> bool:
        if self.uri:
            return kb_exists(self.uri, check_name(name))
        return (self.home / check_name(name) / "kb.sqlite").exists()

    def encoder(self, model: str | None = None) -> Encoder:
        """One encoder per model per process."""
        model = model or self.settings.embed_model
        if model not in self._encoders:
            # an ensemble ('e5+minilm') shares its members with KBs of the single models: each loads once
            if tuned_spec(model) is not None:  # a `rag tune embedder` folder, recorded by `rag kb reembed`
                self._encoders[model] = tuned_encoder(model, self.settings.embed_batch_size, self.settings.device)
            else:
                self._encoders[model] = make_encoder(model, self.settings.embed_batch_size, self.settings.device,
                                                     member=self.encoder, engine=self.settings.embed_engine)
        return self._encoders[model]

    def params(self, dim: int) -> IndexParams:
        s = self.settings
        return IndexParams(dim=dim, dense_index=s.dense_index, hnsw_threshold=s.hnsw_threshold,
                           hnsw_m=s.hnsw_m, hnsw_ef_search=s.hnsw_ef_search)

    def create(self, name: str, embed_model: str | None = None) -> Store:
        """A new KB `name`; FileExistsError when one holds the name, also one that another process (an import, an
        upload, another create) put there after the look and before this open took the name's lock: the store says
        whether this open made the KB, and one it found is closed untouched."""
        if self.exists(name):
            raise FileExistsError(f"knowledge base {name!r} already exists")
        store = self.open(name, writable=True, create=True, embed_model=embed_model)
        if not store.created:
            store.close()
            raise FileExistsError(f"knowledge base {name!r} already exists")
        return store

    def open(self, name: str, writable: bool = False, create: bool = False,
             embed_model: str | None = None, lock_timeout: float = 600) -> Store:
        folder = self.home / check_name(name)
        if not (self.exists(name) if self.uri else (folder / "kb.sqlite").exists()):
            if not create:
                known = ", ".join(self.names()) or "none yet"
                raise KBNotFound(f"knowledge base {name!r} does not exist (known: {known}); "
                                 f"create it with `rag kb create {name}` or index files into it with `rag index`")
            enc = self.encoder(embed_model)
            enc.warm_up()
            return open_store(self.backend, folder, self.params(enc.dim), writable=True,
                              embed_model=embed_model or self.settings.embed_model, lock_timeout=lock_timeout,
                              context_window=self.settings.context_window, uri=self.uri,
                              ocr_cache_url=self.settings.ocr_cache_url)
        return open_store(self.backend, folder, self.params(0), writable=writable, lock_timeout=lock_timeout,
                          uri=self.uri, ocr_cache_url=self.settings.ocr_cache_url)

    @property
    def backend(self) -> str:
        return backend_for(self.settings.store, self.uri)

    def delete(self, name: str) -> None:
        if self.uri:
            if not drop_kb(self.uri, check_name(name)):
                raise KBNotFound(f"knowledge base {name!r} does not exist")
            ocr_cache_files.remove(self.home / name)  # what OCR read from its scans, on this machine
            Originals(self.home / name / ORIGINALS).discard()  # its kept uploads, and the KB's folder when empty
            return
        folder = self.home / check_name(name)
        if not (folder / "kb.sqlite").exists():
            raise KBNotFound(f"knowledge base {name!r} does not exist")
        kb_trash.discard(folder)  # renamed first: the KB is gone at once, even if the removal is interrupted

    def sweep_deleted(self) -> kb_trash.Sweep:
        """Remove what interrupted deletes left in the home folder (indexer.kb_trash)."""
        return kb_trash.sweep(self.home)

    # ---- re-embedding (`rag kb reembed`) -----------------------------------------
    # Store-specific or recomputed keys: everything else in the KB's metadata (a tuned refusal
    # threshold, settings) travels to the re-embedded copy.
    REEMBED_DONE = "reembed_done"  # set in the shadow KB once every document is in
    OWN_META = frozenset({"embed_model", "dim", "context_window", "created_ms", "generation", REEMBED_DONE,
                           "indexing_since"})  # indexer.ingest.RUN_MARK: a run of the KB, not of its copy
    # the Milvus store's bookkeeping (row counter, index kind, analyzer, incarnation, a write under way): never copied
    STORE_META = frozenset({"next_row", "dense_index", "incarnation", "bm25_analyzer", "pending_write"})

    def reembed(self, name: str, embed_model: str, progress: bool = True, batch_docs: int = 32,
                into: str | None = None, originals: Callable[[str], KeptOriginals] | None = None) -> dict:
        """Re-embed every chunk of KB `name` with `embed_model` and record the model in the KB.

        The vectors are written into a shadow KB folder (home/.NAME.reembed) while the KB keeps serving
        and taking uploads; the KB's writer lock is held only for the documents written meanwhile and
        the swap (`_copy_online`). Each batch of documents lands in its own transaction, so a crash
        loses at most the batch in flight and a re-run carries on where it stopped. When every document
        is in, the shadow replaces the KB (two renames; a re-run finishes a swap a crash interrupted).
        Chunks, ids, tags and metadata are kept; only vectors and the recorded model change.

        `into`: a new KB of that name gets the re-embedded copy and `name` stays as it is (to compare
        the two on labelled questions before switching); the same shadow, crash and resume rules apply.
        On Milvus the shadow is a hidden set of collections (`_reembed_milvus`), a copy a KB of its own
        (`_reembed_copy`). A copy's uploads are kept for it too (`_copy_kept`), where `originals(kb)` keeps a KB's
        (the state database in cluster mode: api.jobs.originals; default: each KB's folder)."""
        target = check_name(into) if into else check_name(name)
        if self.uri:
            if target == name:
                return self._reembed_milvus(name, embed_model, progress, batch_docs)
            return self._reembed_copy(name, target, embed_model, progress, batch_docs, originals)
        if target != name and (self.home / target / "kb.sqlite").exists():
            raise ValueError(f"knowledge base {target!r} already exists: pick another name for the copy, or "
                             f"`rag kb delete {target}` first")
        if self._finish_swap(target, replace=False):  # a crash fell between the two renames: that run is done
            shutil.rmtree(self.home / f".{target}.replaced", ignore_errors=True)
            return self._finished(name, target, originals)
        shadow = self.home / f".{target}.reembed"
        enc = self.encoder(embed_model)
        enc.warm_up()

        def open_shadow(context_window: int) -> Store:
            return _fresh(lambda: open_store("local", shadow, self.params(enc.dim), writable=True,
                                             embed_model=embed_model, context_window=context_window),
                          lambda: shutil.rmtree(shadow), embed_model, context_window)

        def put_in_place() -> None:
            # the KB's OCR cache (no key depends on the embedder), under the KB's writer lock: the re-embedded
            # folder that takes its place takes it, a copy under another name gets a copy
            self._carry_ocr_cache(name, target, shadow)
            self._finish_swap(target, replace=target == name)  # a copy never replaces a KB made meanwhile
            if (shadow / "kb.sqlite").exists():
                raise ValueError(f"knowledge base {target!r} was created while the copy was being made; the copy "
                                 f"is kept in {shadow}: delete {target} and run the command again to put it in place")
            if target != name:  # still under the KB's writer lock: its uploads cannot go meanwhile
                copied.append(self._copy_kept(name, target, originals))

        copied: list[CopiedUploads] = []
        docs, todo = self._copy_online(name, enc, open_shadow, put_in_place, progress, batch_docs)
        shutil.rmtree(self.home / f".{target}.replaced", ignore_errors=True)
        return _report(name, target, embed_model, docs, todo, *copied)

    def _reembed_milvus(self, name: str, embed_model: str, progress: bool, batch_docs: int) -> dict:
        """In-place re-embedding on Milvus: the copy is made in the KB's hidden 'reembed' collections while
        the KB keeps serving (`_copy_online`), then renamed into the KB's place
        (indexer.store.milvus.store.swap_in). A re-run after a crash finishes a swap that had begun, or
        carries on with the copy (synced first: the KB may have changed since)."""
        from indexer.store.milvus.store import swap_in, swap_started

        if swap_started(self.uri, name):  # a crash fell inside the swap: the copy was complete, that run is done
            swap_in(self.uri, name)
            return self._finished(name, name)
        enc = self.encoder(embed_model)
        enc.warm_up()

        def open_shadow(context_window: int) -> Store:
            return _fresh(lambda: open_store(self.backend, self.home / name, self.params(enc.dim), writable=True,
                                             embed_model=embed_model, context_window=context_window, uri=self.uri,
                                             role="reembed"),
                          lambda: drop_kb(self.uri, name, role="reembed"), embed_model, context_window)

        docs, todo = self._copy_online(name, enc, open_shadow, lambda: swap_in(self.uri, name), progress, batch_docs)
        return _report(name, name, embed_model, docs, todo)

    def _copy_online(self, name: str, enc: Encoder, open_copy: Callable[[int], Store], finish: Callable[[], None],
                     progress: bool, batch_docs: int) -> tuple[list, list]:
        """Copy KB `name` into the store `open_copy(context_window)` opens, in two passes: the bulk through a
        reader while the KB keeps serving and taking uploads, then what changed meanwhile under the KB's
        writer lock, held through `finish()` (the swap), so that nothing written to the KB is lost. Uploads
        wait for the second pass only, not for the whole copy. Returns (every document, those
        embedded in this run)."""
        def level_with(kb: Store) -> tuple[list, list]:
            new = open_copy(kb.context_window)
            try:
                return self._copy_documents(kb, new, enc, progress, batch_docs)
            finally:
                new.close()

        src = self.open(name)
        try:
            _, todo = level_with(src)
        finally:
            src.close()
        old = self.open(name, writable=True)
        try:
            # this pass copies the KB's settings and the copy then takes the KB's place: a settings write
            # (synonyms, made without the writer lock: indexer.store.settings_lock) comes before the copy or after
            # the swap, never in between, where it would be left in the KB swapped out
            with settings_lock(self.home / name, self.uri, timeout=600):
                docs, late = level_with(old)
                finish()
        finally:
            old.close()
        done = {d.doc_id for d in todo}
        return docs, todo + [d for d in late if d.doc_id not in done]

    def _reembed_copy(self, name: str, target: str, embed_model: str, progress: bool, batch_docs: int,
                      originals: Callable[[str], KeptOriginals] | None = None) -> dict:
        """`reembed(..., into=target)` where KBs are not folders (Milvus): the copy is a KB of its own from the
        start, marked unfinished (REEMBED_DONE "0") until every document is in. A re-run resumes an unfinished
        copy towards the same model; any other KB of that name is refused, never written to."""
        enc = self.encoder(embed_model)
        enc.warm_up()
        existed = self.exists(target)
        old = self.open(name)
        try:
            new = open_store(self.backend, self.home / target, self.params(enc.dim), writable=True,
                             embed_model=embed_model, context_window=old.context_window, uri=self.uri)
            try:
                mark = new.get_meta(self.REEMBED_DONE)
                resumable = (new.embed_model == embed_model and new.context_window == old.context_window
                             and (mark == "0" or (mark is None and not new.documents())))
                if existed and not resumable:
                    raise ValueError(f"knowledge base {target!r} already exists" + (
                        "" if mark != "1" else " (a finished copy)") + f": pick another name for the copy, or "
                        f"`rag kb delete {target}` first")
                docs, todo = self._copy_documents(old, new, enc, progress, batch_docs)
                self._carry_ocr_cache(name, target, self.home / target)  # the KB's OCR cache
            finally:
                new.close()
        finally:
            old.close()
        return _report(name, target, embed_model, docs, todo, self._copy_kept(name, target, originals))

    def _carry_ocr_cache(self, name: str, target: str, new_folder: Path) -> None:
        """KB `name`'s OCR cache kept by its re-embedded self (`target` == `name`, whose folder about to take its
        place is `new_folder`) or copied for its copy `target`: in the state database (cluster mode) by name, so in
        place it stays as it is; else the file in the KB's folder (indexer.parse.ocr_cache_files)."""
        if url := self.settings.ocr_cache_url:
            if target != name:
                ocr_cache_files.copy_shared(url, name, target)
            return
        (ocr_cache_files.move if target == name else ocr_cache_files.copy)(self.home / name, new_folder)

    def _finished(self, name: str, target: str, originals: Callable[[str], KeptOriginals] | None = None) -> dict:
        """The report of a re-embedding an interrupted run had completed (a re-run only finished its swap; a
        copy's uploads, which that run may not have reached, are kept for it now)."""
        copied = [self._copy_kept(name, target, originals)] if target != name else []
        kb = self.open(target)
        try:
            return _report(name, target, kb.embed_model, kb.documents(), [], *copied)
        finally:
            kb.close()

    def _copy_kept(self, name: str, target: str, originals: Callable[[str], KeptOriginals] | None) -> CopiedUploads:
        """KB `name`'s kept uploads (indexer.originals) kept for its copy `target` too, the copy's documents' only,
        within this site's bounds for the copy (keep_originals, originals_max_mb); without them none of the copy's
        uploads could be read again (`rag index --reparse` named them not kept). `originals(kb)`: where a KB's are
        kept (default: its folder, where a copy's are hardlinked)."""
        kept = originals or (lambda kb: Originals.of(self.settings, kb))
        copy = self.open(target)
        try:
            documents = copy.documents()
        finally:
            copy.close()
        return copy_kept(kept(name), kept(target), documents)

    def _copy_documents(self, old: Store, new: Store, enc: Encoder, progress: bool,
                        batch_docs: int) -> tuple[list, list]:
        """Bring `new` level with `old` (its settings, documents and chunks, vectors from `enc`), one
        transaction per batch of documents, marked unfinished until the last is in. Returns (every
        document, those embedded in this run: the ones already in `new` unchanged are skipped)."""
        from tqdm import tqdm

        from indexer.ingest import Ingestor
        from indexer.tokenize import count_tokens

        new.set_meta(self.REEMBED_DONE, "0")  # the KB may have changed since an interrupted run: sync first
        new.commit()
        for key, value in old.meta_items().items():
            if key not in self.OWN_META and key not in self.STORE_META:
                new.set_meta(key, value)
        docs = old.documents()
        wanted = {d.doc_id for d in docs}
        for d in new.documents():  # deleted from the KB since an interrupted run
            if d.doc_id not in wanted:
                new.delete_document(d.doc_id)
        have = {d.doc_id: d for d in new.documents()}
        todo = [d for d in docs if have.get(d.doc_id) != d]
        ing = Ingestor(new, enc, self.settings)
        bar = tqdm(total=sum(d.chunks for d in todo), desc=f"re-embedding ({enc.name})", unit="chunk",
                   disable=not progress or not todo)
        for i in range(0, len(todo), batch_docs):
            part = []
            for d in todo[i:i + batch_docs]:
                chunks = [c.as_chunk(int(c.chunk_id.rsplit(":", 2)[-2]), count_tokens(c.text))
                          for c in old.doc_chunks(d.doc_id)]
                if len(chunks) == d.chunks:  # else replaced or deleted since listed (a reader's pass): next pass
                    part.append((d, chunks))
            if part:
                ing.reembed_documents(part)
            bar.update(sum(len(c) for _, c in part))
        bar.close()
        new.set_meta(self.REEMBED_DONE, "1")
        new.commit()
        return docs, todo

    def _finish_swap(self, name: str, replace: bool) -> bool:
        """Put a complete shadow (home/.NAME.reembed) in the KB's place: KB -> .NAME.replaced, shadow -> KB.
        `replace=False` only finishes a swap a crash interrupted (the KB folder is gone); a KB still in
        place may have changed since the shadow was completed, so the re-run syncs the shadow first.
        An incomplete shadow is left for the re-run to finish. True when the shadow was put in place.
        Then the kept uploads (indexer.originals) of the KB replaced move into the KB in place, under the writer
        lock when swapping; at a re-run's start, those a crash after the swap had left in .NAME.replaced."""
        folder, replaced = self.home / name, self.home / f".{name}.replaced"
        swapped = self._swap(folder, self.home / f".{name}.reembed", replaced, replace)
        carry_over(replaced, folder)
        return swapped

    def _swap(self, folder: Path, shadow: Path, replaced: Path, replace: bool) -> bool:
        if not (shadow / "kb.sqlite").exists():
            return False
        from indexer.store.local.catalog import Catalog

        cat = Catalog(shadow / "kb.sqlite")
        try:
            done = cat.get_meta(self.REEMBED_DONE) == "1"
        finally:
            cat.close()
        if not done or (not replace and (folder / "kb.sqlite").exists()):
            return False
        if (folder / "kb.sqlite").exists():
            if replaced.exists():
                shutil.rmtree(replaced)
            folder.rename(replaced)
        shadow.rename(folder)
        return True


def _fresh(open_copy: Callable[[], Store], discard: Callable[[], object], embed_model: str,
           context_window: int) -> Store:
    """The re-embedding copy `open_copy` opens (or creates), started over (`discard`, then open again) when
    an interrupted run had begun it towards another model or context window."""
    new = open_copy()
    if new.embed_model != embed_model or new.context_window != context_window:
        new.close()
        discard()
        new = open_copy()
    return new


def _report(name: str, target: str, embed_model: str, docs: list, todo: list,
            copied: CopiedUploads | None = None) -> dict:
    """What `KBManager.reembed` did: the KB written, its source, model and documents; for a copy, its uploads kept
    (`uploads_kept`) and those not kept (`uploads_not_kept`: sources, past the copy's bounds or not kept before)."""
    out = {"kb": target, "source": name, "embed_model": embed_model, "documents": len(docs),
           "reembedded": len(todo), "chunks": sum(d.chunks for d in docs)}
    if copied is not None:
        out.update(uploads_kept=copied.copied, uploads_not_kept=sorted(copied.not_kept + copied.missing))
    return out
