"""What every `rag` command shares: the global --home/--config, common options, and failing with a message."""
from __future__ import annotations

from typing import Optional

import typer

from rag.config import Settings

KB = typer.Option("default", "--kb", help="knowledge base name")
DOC = typer.Option([], "--doc", help="only these document ids")
SOURCE = typer.Option([], "--source", help="only these sources")
TAG = typer.Option([], "--tag", help="only documents with key=value (tags given at index time)")


class State:
    config: Optional[str] = None
    home: Optional[str] = None

    def settings(self, **indexer) -> Settings:
        return Settings.load(self.config, indexer={"home": self.home, **indexer})

    def manager(self, **indexer):
        from indexer.kbs import KBManager

        return KBManager(self.settings(**indexer).indexer)



state = State()


def fail(msg: str, code: int = 1) -> None:
    typer.secho(f"error: {msg}", fg="red", err=True)
    raise typer.Exit(code)


def open_kb(kb: str, writable: bool = False, create: bool = False, embed_model: Optional[str] = None):
    from indexer.kbs import KBNotFound

    mgr = state.manager()
    try:
        return mgr, mgr.open(kb, writable=writable, create=create, embed_model=embed_model)
    except (KBNotFound, ValueError) as e:
        fail(str(e))


def parse_tags(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            fail(f"--tag expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out
