"""The --doc and --source filters of `rag search`, `rag ask` and `rag chat`, checked against the KB
(indexer.doc_filters, as the HTTP routes check theirs).

A source is matched as the KB stores it: the path as `rag index` was given it (`docs/fees.pdf`), or an upload's
file name. A path naming the same file another way (absolute, `./docs/fees.pdf`, relative to where the command
runs) is taken as that document, as `rag delete` takes it. A --doc or --source that names no document of the KB
stops the command with the sources it may have meant, instead of answering "no results" or refusing as if the KB
did not hold the answer."""
from __future__ import annotations

from pathlib import Path

from cli.state import fail
from indexer.doc_filters import check_filters
from indexer.types import Filters


def kb_filters(store, kb: str, doc: list[str], source: list[str], tags: dict[str, str]) -> Filters:
    """Filters for `store` (KB `kb`), each --doc and --source resolved to a document it holds."""
    checked = check_filters(store, Filters.make(doc, source, tags), cwd=Path.cwd())
    lines = [f"--doc {doc_id}: no document of {kb!r} has this id; `rag docs --kb {kb}` lists them"
             for doc_id in checked.unknown_doc_ids]
    lines += [f"--source {u.given}: no document of {kb!r} has this source{u.hint}; give it as `rag docs --kb {kb}` "
              "lists it (the path as indexed, or an upload's file name)" for u in checked.unknown_sources]
    if lines:
        fail("\nerror: ".join(lines))  # one line for each, as fail() writes the first
    return checked.filters
