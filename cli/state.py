"""What every `rag` command shares: the global --home/--config, common options, and failing with a message."""
from __future__ import annotations

import os
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

    def check(self) -> None:
        """Every setting of every section (the query pipeline's, the service's, the answer cache's) from the config
        file, the environment and --home, validated once before any command runs, so that a bad value is the
        same error whichever command reads it; and the KB folder (--home / RAG_HOME) usable as a folder.
        Fails with one line per invalid setting: which, from where, what was given, what is allowed."""
        from pathlib import Path

        from api.cache.config import CacheSettings
        from api.config import ServiceSettings
        from indexer.config import SettingsError, config_path, load_sections, read_config_file, unknown_settings

        try:
            settings = self.settings()
            home = settings.indexer.home
            load_sections(self.config, {"service": (ServiceSettings, {}), "cache": (CacheSettings, {})})
        except SettingsError as e:
            fail(str(e))
        sections = {name: type(getattr(settings, name)) for name in ("indexer", "retrieval", "rerank", "generation",
                                                                      "answer")}
        path = config_path(self.config)[0]
        for line in unknown_settings(read_config_file(self.config), {**sections, "service": ServiceSettings,
                                                                      "cache": CacheSettings}):
            typer.secho(f"warning: config file {path}: {line}; ignored", fg="yellow", err=True)
        folder = Path(home).expanduser()
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if folder.exists() and not folder.is_dir():
            named = "--home" if self.home else "RAG_HOME" if os.environ.get("RAG_HOME") else "[indexer] home"
            what = f"{named} {home}" + (f": {folder}" if folder != Path(home).expanduser() else "")
            fail(f"{what} is a file, not a folder (the folder that holds the knowledge bases)")

    def settings(self, **indexer) -> Settings:
        """In cluster mode (RAG_DATABASE_URL a PostgreSQL one) the KBs' OCR caches are the state database's, as the
        service's and the workers' are (api.jobs.ocr_cache)."""
        from api.config import ServiceSettings
        from api.jobs.ocr_cache import ocr_cache_settings

        settings = Settings.load(self.config, indexer={"home": self.home, **indexer})
        url = ServiceSettings.load(self.config).database_url
        if url:
            settings.indexer = ocr_cache_settings(settings.indexer, url)
        return settings

    def manager(self, **indexer):
        from indexer.kbs import KBManager

        return KBManager(self.settings(**indexer).indexer)



state = State()


def fail(msg: str, code: int = 1) -> None:
    typer.secho(f"error: {msg}", fg="red", err=True)
    raise typer.Exit(code)


def home_manager():
    """The KB manager of a command that lists or changes the KBs (`rag kb list/create/delete/import`, `rag
    index`): it first removes what interrupted KB deletes and abandoned imports left in the home folder
    (indexer.kb_trash, indexer.archive.leftovers), saying so in a line each."""
    from indexer.archive.leftovers import sweep_imports

    mgr = state.manager()
    swept = mgr.sweep_deleted()
    if line := swept.message():
        typer.secho(line, fg="yellow" if swept.failed else None, err=True)
    imports = sweep_imports(mgr.home)
    if line := imports.message("an interrupted import"):
        typer.secho(line, fg="yellow" if imports.failed else None, err=True)
    return mgr


def open_kb(kb: str, writable: bool = False, create: bool = False, embed_model: Optional[str] = None):
    from indexer.kbs import KBNotFound
    from indexer.store.write_errors import write_error

    mgr = home_manager() if writable else state.manager()
    try:
        return mgr, mgr.open(kb, writable=writable, create=create, embed_model=embed_model)
    except (KBNotFound, ValueError) as e:
        fail(str(e))
    except Exception as e:  # a read-only or full disk under RAG_HOME: say so instead of a traceback
        err = write_error(e, str(mgr.home / kb) if not mgr.uri else "")
        if err is None:
            raise
        fail(f"{kb}: {err}")


def read_option_file(path: str, option: str) -> str:
    """The text of a file named by a command-line option, or a clean error saying why it cannot be read."""
    from pathlib import Path

    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{option} {path}: no such file")
    except IsADirectoryError:
        fail(f"{option} {path} is a folder; give a file")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"{option} {path} cannot be read: {getattr(e, 'strerror', None) or e}")


def read_lines(path: str, option: str) -> list[str]:
    """The non-empty lines of a file named by a command-line option (one question a line), stripped."""
    return [line.strip() for line in read_option_file(path, option).splitlines() if line.strip()]


def parse_tags(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            fail(f"--tag expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out
