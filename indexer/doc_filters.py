"""Document filters (doc ids and sources) checked against a KB's documents, for `rag search`, `rag ask`, `rag chat`
(cli.doc_filters) and the HTTP routes (api.doc_filters) alike.

A source is matched as the KB stores it: the path as `rag index` was given it (`docs/fees.pdf`), or an upload's file
name. The same file named another way is that document, as `rag delete` takes it: `./docs/fees.pdf`, an absolute
path, and for the CLI a path relative to where it runs. A doc id or source naming no document is returned, each
source with the KB's sources it may have meant, so that the caller says so instead of answering "no results" or
refusing as if the KB did not hold the answer."""
from __future__ import annotations

import difflib
import posixpath
from dataclasses import dataclass
from pathlib import Path, PurePath

from indexer.types import Filters

MOST_ALIKE = 3  # sources named in a hint: enough to pick from, short enough for one error line
CLOSE_NAME = 0.6  # difflib's ratio of two file names ('fee.md' ~ 'fees.md' 0.92, '收费.md' ~ '收费标准.md' 0.83)


@dataclass(frozen=True)
class UnknownSource:
    given: str
    alike: tuple[str, ...]  # the KB's sources it may have meant: the same file name first, else the closest names

    @property
    def hint(self) -> str:
        """' (did you mean 'docs/fees.md'?)', or '' when no source is alike."""
        return f" (did you mean {' or '.join(map(repr, self.alike))}?)" if self.alike else ""


@dataclass(frozen=True)
class CheckedFilters:
    filters: Filters  # each known source as the KB stores it
    unknown_doc_ids: tuple[str, ...] = ()
    unknown_sources: tuple[UnknownSource, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.unknown_doc_ids and not self.unknown_sources


def check_filters(store, filters: Filters, cwd: Path | None = None) -> CheckedFilters:
    """`filters` with each source resolved to a document of `store`, and what names none.

    `cwd`: the folder a relative path is read from (the CLI's working directory); None for a client over HTTP,
    whose working directory is not the server's: then only an absolute path, or the stored source spelled another
    way (`./docs/fees.pdf`), names a document by its path."""
    unknown_ids = tuple(d for d in filters.doc_ids if store.document(d) is None)
    sources: list[str] = []
    unknown: list[str] = []
    for given in filters.sources:
        found = _source(store, given, cwd)
        sources.append(found or given)
        if found is None:
            unknown.append(given)
    missing: tuple[UnknownSource, ...] = ()
    if unknown:
        stored = sorted({d.source for d in store.documents()})
        missing = tuple(UnknownSource(given, _alike(given, stored)) for given in unknown)
    return CheckedFilters(Filters(filters.doc_ids, tuple(sources), filters.tags), unknown_ids, missing)


def _source(store, given: str, cwd: Path | None) -> str | None:
    """The source of the document `given` names, or None."""
    from indexer.ingest import doc_id_for

    if store.documents_by_source(given):
        return given
    spelled = posixpath.normpath(given) if given else given  # './docs/fees.pdf', 'docs//fees.pdf'
    if spelled != given and store.documents_by_source(spelled):
        return spelled
    path = Path(given)
    if given and (path.is_absolute() or cwd is not None):
        try:
            info = store.document(doc_id_for(path if path.is_absolute() else cwd / path))
        except (OSError, ValueError):  # no path this system can resolve (a NUL byte, a loop of links)
            return None
        if info is not None:
            return info.source
    return None


def _alike(given: str, stored: list[str]) -> tuple[str, ...]:
    name = PurePath(given).name
    same = [s for s in stored if PurePath(s).name == name]
    if same:
        return tuple(same[:MOST_ALIKE])
    names = sorted({PurePath(s).name for s in stored})
    close = difflib.get_close_matches(name, names, n=MOST_ALIKE, cutoff=CLOSE_NAME)
    return tuple([s for n in close for s in stored if PurePath(s).name == n][:MOST_ALIKE])
