"""Where an import is written before it takes the KB's name: a hidden copy no one lists or searches.

Local store: the folder `HOME/.NAME.importing`, renamed to `HOME/NAME` once complete (a KB it replaces is
first renamed away under its writer lock, as `rag kb delete` renames, and removed once the copy has its name).
Milvus: the KB's hidden collections of role 'import', renamed into the KB's names (indexer.store.milvus.store.swap_in),
under the writer lock of a KB they replace. Either way a crash at
any step leaves the KB's name holding no KB or a whole one, and the import's re-run finishes the step.

A local import holds a lock on its folder while it runs (indexer.archive.leftovers): a second import into
the same name is refused rather than writing into the same copy, and a sweeper leaves the folder alone."""
from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from indexer import kb_trash
from indexer.archive import leftovers
from indexer.kbs import KBManager, KBNotFound
from indexer.originals import FOLDER
from indexer.store.base import Store
from indexer.store.factory import drop_kb, open_store

ROLE = "import"
StillWanted = Callable[[], bool]  # asked right before the copy takes the name: False, it is discarded (NotWanted)
CREATION_WAIT_S = 600.0  # a KB's creation holds its creation lock for seconds; as long as a writer lock is waited for


class NotWanted(Exception):
    """The import's `still_wanted` said no right before its copy would take the name (its job was deleted, with its
    KB, meanwhile): nothing was put in place, and import_archive discarded the hidden copy."""


def _check_wanted(still_wanted: StillWanted | None, name: str) -> None:
    if still_wanted is not None and not still_wanted():
        raise NotWanted(f"the import into knowledge base {name!r} is no longer wanted (its job was deleted, with the "
                        "KB, while it ran): nothing was put in place and its hidden copy was discarded")


class Staging(Protocol):
    where: str  # for messages: the hidden copy's place
    files: Path  # the folder whose files (kept uploads, OCR cache: indexer.archive.kept_files) become the KB folder's

    def put_files_in_place(self) -> None:
        """The files of `files` into the KB's folder, once the KB took its name (again after an interrupted run)."""
        ...

    def open(self, embed_model: str, dim: int, context_window: int) -> Store: ...
    def discard(self) -> None: ...
    def put_in_place(self, replace: bool, still_wanted: StillWanted | None = None) -> None:
        """The copy takes the name; `still_wanted` is asked under the lock that guards the swap (NotWanted)."""
        ...
    def release(self) -> None:
        """Let go of the hidden copy (its lock): the import ended, whichever way."""
        ...


class LocalStaging:
    def __init__(self, mgr: KBManager, name: str):
        self.mgr, self.name = mgr, name
        self.folder = mgr.home / f".{name}{leftovers.IMPORTING}"
        self.where = str(self.folder)
        self.files = self.folder  # the folder becomes the KB's, its files with it
        self._lock: int | None = None

    def put_files_in_place(self) -> None:
        pass  # they came with the folder

    def open(self, embed_model: str, dim: int, context_window: int) -> Store:
        if self._lock is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            try:
                self._lock = leftovers.hold(self.folder)
            except leftovers.InUse:
                raise FileExistsError(f"another import into knowledge base {self.name!r} is running (it holds "
                                      f"{self.where}); wait for it to end, or import under another name with "
                                      "--as NAME") from None
        return open_store("local", self.folder, self.mgr.params(dim), writable=True, embed_model=embed_model,
                          context_window=context_window)

    def discard(self) -> None:
        self.release()
        shutil.rmtree(self.folder, ignore_errors=True)

    def release(self) -> None:
        leftovers.release(self._lock)
        self._lock = None

    def put_in_place(self, replace: bool, still_wanted: StillWanted | None = None) -> None:
        target: Path = self.mgr.home / self.name
        if not (target / "kb.sqlite").exists():
            _check_wanted(still_wanted, self.name)
            self._rename_into(target)
            return
        if not replace:
            raise FileExistsError(_created_meanwhile(self.name, self.where))
        with _replaced_kb_writer(self.mgr, self.name) as old:
            _check_wanted(still_wanted, self.name)
            if old is None:  # deleted meanwhile
                self._rename_into(target)
                return
            trash = kb_trash.set_aside(target)
            self.folder.rename(target)  # the name holds no KB only between the two renames, not during the removal
        kb_trash.remove(trash)

    def _rename_into(self, target: Path) -> None:
        """The copy takes the name where no KB holds it; a folder there that is no KB yet (one being created
        under the name right now, or what a creation killed half-way left) is not replaced: FileExistsError
        saying so, where the rename's own error named neither (OSError: Directory not empty)."""
        try:
            self.folder.rename(target)
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            raise FileExistsError(
                f"the folder {target} is in the way of the imported knowledge base {self.name!r}: a knowledge base "
                "being created under that name, or a folder a creation stopped half-way left. The import is kept in "
                f"{self.where}: run it again with --replace (?replace=true) to put it in place of a knowledge base "
                f"created meanwhile, or with --as OTHER; a left folder holding no kb.sqlite can be removed") from e


class MilvusStaging:
    def __init__(self, mgr: KBManager, name: str):
        self.mgr, self.name, self.uri = mgr, name, mgr.uri
        self.where = f"the hidden collections of role {ROLE!r} beside KB {name!r} in Milvus at {self.uri}"
        self.files = mgr.home / f".{name}{leftovers.IMPORTING}"  # the KB's folder under home holds its files

    def put_files_in_place(self) -> None:
        """Kept uploads and the OCR cache into HOME/NAME, replacing those there (a replaced KB's); each file is
        renamed in, so a re-run after a crash finishes what is left."""
        if not self.files.is_dir():
            return
        kb = self.mgr.home / self.name
        kb.mkdir(parents=True, exist_ok=True)
        for p in sorted(self.files.iterdir(), key=lambda p: p.name != FOLDER):  # originals/ first
            if p.name == FOLDER:
                (kb / FOLDER).mkdir(exist_ok=True)
                for f in p.iterdir():
                    os.replace(f, kb / FOLDER / f.name)
            elif not p.name.startswith("."):
                for journal in ("-wal", "-shm"):  # a replaced OCR cache's journal would be read into this one
                    (kb / f"{p.name}{journal}").unlink(missing_ok=True)
                os.replace(p, kb / p.name)
        shutil.rmtree(self.files, ignore_errors=True)

    def open(self, embed_model: str, dim: int, context_window: int) -> Store:
        return open_store("milvus", self.mgr.home / self.name, self.mgr.params(dim), writable=True,
                          embed_model=embed_model, context_window=context_window, uri=self.uri, role=ROLE)

    def discard(self) -> None:
        drop_kb(self.uri, self.name, role=ROLE)
        shutil.rmtree(self.files, ignore_errors=True)

    def release(self) -> None:
        pass  # Milvus collections: nothing is swept by other processes

    def put_in_place(self, replace: bool, still_wanted: StillWanted | None = None) -> None:
        """Whether a KB is in the way is decided under a lock no creation of the name passes, held through the
        swap: the KB's writer lock, or where there is none its creation lock (indexer.store.milvus.store's
        `NAME@new`). Checked before taking them, a KB created between the check and the swap (an upload creating
        it) was swapped out and dropped, its documents with it, though the import was not to replace any."""
        from indexer.store.milvus.lock import default_locks
        from indexer.store.milvus.store import swap_in

        while True:
            with _replaced_kb_writer(self.mgr, self.name) as old:
                if old is not None:
                    if not replace:
                        raise FileExistsError(_created_meanwhile(self.name, self.where))
                    _check_wanted(still_wanted, self.name)
                    swap_in(self.uri, self.name, role=ROLE)
                    break
            creating = default_locks(self.uri, self.mgr.home / ".locks")(f"{self.name}@new")
            creating.acquire(CREATION_WAIT_S)
            try:
                if not self.mgr.exists(self.name):  # else created before the lock was ours: decided under its own
                    _check_wanted(still_wanted, self.name)
                    swap_in(self.uri, self.name, role=ROLE)
                    break
            finally:
                creating.release()
        self.put_files_in_place()


@contextmanager
def _replaced_kb_writer(mgr: KBManager, name: str) -> Iterator[Store | None]:
    """KB `name`, which an import replaces, opened writable for the swap (None: there is none): a write to it (an
    upload, a delete: its kept copy, its document, the sweep after it) ends before the swap or begins on the imported
    KB, never straddles the two; a writer waiting meanwhile takes the imported KB's lock (each store checks that the
    lock it got is the KB's now under the name)."""
    try:
        old = mgr.open(name, writable=True)
    except KBNotFound:
        yield None
        return
    try:
        yield old
    finally:
        old.close()


def staging_for(mgr: KBManager, name: str) -> Staging:
    return MilvusStaging(mgr, name) if mgr.uri else LocalStaging(mgr, name)


def _created_meanwhile(name: str, where: str) -> str:
    return (f"knowledge base {name!r} was created while the archive was being imported; the import is kept in "
            f"{where}: run the import again with --replace to put it in place of that KB, or with --as OTHER")
