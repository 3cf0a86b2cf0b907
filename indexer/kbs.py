"""Knowledge bases under one home folder: list, create, open, delete."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from indexer.config import IndexerSettings
from indexer.embed.base import Encoder
from indexer.embed.factory import make_encoder
from indexer.store.base import Store
from indexer.store.factory import backend_for, drop_kb, kb_exists, kb_names, open_store
from indexer.store.local.snapshot import IndexParams

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class KBNotFound(LookupError):
    pass


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(f"invalid knowledge base name {name!r}: use 1-64 letters, digits, '_', '-' or '.'")
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
        # '.NAME.deleting': a KB whose delete was interrupted (not a KB; the service removes it at start)
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
            self._encoders[model] = make_encoder(model, self.settings.embed_batch_size, self.settings.device,
                                                 member=self.encoder)
        return self._encoders[model]

    def params(self, dim: int) -> IndexParams:
        s = self.settings
        return IndexParams(dim=dim, dense_index=s.dense_index, hnsw_threshold=s.hnsw_threshold,
                           hnsw_m=s.hnsw_m, hnsw_ef_search=s.hnsw_ef_search)

    def create(self, name: str, embed_model: str | None = None) -> Store:
        if self.exists(name):
            raise FileExistsError(f"knowledge base {name!r} already exists")
        return self.open(name, writable=True, create=True, embed_model=embed_model)

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
                              context_window=self.settings.context_window, uri=self.uri)
        return open_store(self.backend, folder, self.params(0), writable=writable, lock_timeout=lock_timeout,
                          uri=self.uri)

    @property
    def backend(self) -> str:
        return backend_for(self.settings.store, self.uri)

    def delete(self, name: str) -> None:
        if self.uri:
            if not drop_kb(self.uri, check_name(name)):
                raise KBNotFound(f"knowledge base {name!r} does not exist")
            return
        folder = self.home / check_name(name)
        if not (folder / "kb.sqlite").exists():
            raise KBNotFound(f"knowledge base {name!r} does not exist")
        trash = folder.with_name(f".{name}.deleting")
        folder.rename(trash)  # atomic: the KB is gone at once, even if the removal below is interrupted
        shutil.rmtree(trash, ignore_errors=True)
