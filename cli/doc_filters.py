"""The --doc and --source filters of `rag search`, `rag ask` and `rag chat`, checked against the KB.

A source is matched as the KB stores it: the path as `rag index` was given it (`docs/fees.pdf`), or an upload's
file name. A path naming the same file another way (absolute, `./docs/fees.pdf`) is taken as that document, as
`rag delete` takes it. A --doc or --source that names no document of the KB stops the command with the sources it
may have meant, instead of answering "no results" or refusing as if the KB did not hold the answer."""
from __future__ import annotations

from pathlib import Path, PurePath

from cli.state import fail
from indexer.types import Filters


def kb_filters(store, kb: str, doc: list[str], source: list[str], tags: dict[str, str]) -> Filters:
    """Filters for `store` (KB `kb`), each --doc and --source resolved to a document it holds."""
    for doc_id in doc:
        if store.document(doc_id) is None:
            fail(f"--doc {doc_id}: no document of {kb!r} has this id; `rag docs --kb {kb}` lists them")
    return Filters.make(doc, [_source(store, kb, given) for given in source], tags)


def _source(store, kb: str, given: str) -> str:
    from indexer.ingest import doc_id_for

    if store.documents_by_source(given):
        return given
    path = Path(given)
    if path.is_file():
        info = store.document(doc_id_for(path))
        if info is not None:
            return info.source
    name = PurePath(given).name
    alike = sorted({d.source for d in store.documents() if PurePath(d.source).name == name})
    hint = f" (did you mean {' or '.join(map(repr, alike[:3]))}?)" if alike else ""
    fail(f"--source {given}: no document of {kb!r} has this source{hint}; give it as `rag docs --kb {kb}` "
         "lists it (the path as indexed, or an upload's file name)")
    return given  # not reached: fail() exits
