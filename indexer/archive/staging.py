"""Where an import is written before it takes the KB's name: a hidden copy no one lists or searches.

Local store: the folder `HOME/.NAME.importing`, renamed to `HOME/NAME` once complete (a KB it replaces is
first deleted as `rag kb delete` deletes: renamed away, then removed). Milvus: the KB's hidden collections
of role 'import', renamed into the KB's names (indexer.store.milvus.store.swap_in). Either way a crash at
any step leaves the KB's name holding no KB or a whole one, and the import's re-run finishes the step."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol

from indexer import kb_trash
from indexer.kbs import KBManager
from indexer.store.base import Store
from indexer.store.factory import drop_kb, open_store

ROLE = "import"


class Staging(Protocol):
    where: str  # for messages: the hidden copy's place

    def open(self, embed_model: str, dim: int, context_window: int) -> Store: ...
    def discard(self) -> None: ...
    def put_in_place(self, replace: bool) -> None: ...


class LocalStaging:
    def __init__(self, mgr: KBManager, name: str):
        self.mgr, self.name = mgr, name
        self.folder = mgr.home / f".{name}.importing"
        self.where = str(self.folder)

    def open(self, embed_model: str, dim: int, context_window: int) -> Store:
        return open_store("local", self.folder, self.mgr.params(dim), writable=True, embed_model=embed_model,
                          context_window=context_window)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def put_in_place(self, replace: bool) -> None:
        target: Path = self.mgr.home / self.name
        if (target / "kb.sqlite").exists():
            if not replace:
                raise FileExistsError(_created_meanwhile(self.name, self.where))
            kb_trash.discard(target)
        self.folder.rename(target)


class MilvusStaging:
    def __init__(self, mgr: KBManager, name: str):
        self.mgr, self.name, self.uri = mgr, name, mgr.uri
        self.where = f"the hidden collections of role {ROLE!r} beside KB {name!r} in Milvus at {self.uri}"

    def open(self, embed_model: str, dim: int, context_window: int) -> Store:
        return open_store("milvus", self.mgr.home / self.name, self.mgr.params(dim), writable=True,
                          embed_model=embed_model, context_window=context_window, uri=self.uri, role=ROLE)

    def discard(self) -> None:
        drop_kb(self.uri, self.name, role=ROLE)

    def put_in_place(self, replace: bool) -> None:
        from indexer.store.milvus.store import swap_in

        if self.mgr.exists(self.name) and not replace:
            raise FileExistsError(_created_meanwhile(self.name, self.where))
        swap_in(self.uri, self.name, role=ROLE)


def staging_for(mgr: KBManager, name: str) -> Staging:
    return MilvusStaging(mgr, name) if mgr.uri else LocalStaging(mgr, name)


def _created_meanwhile(name: str, where: str) -> str:
    return (f"knowledge base {name!r} was created while the archive was being imported; the import is kept in "
            f"{where}: run the import again with --replace to put it in place of that KB, or with --as OTHER")
