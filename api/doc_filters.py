"""The `filters` of a search or a question (POST /v1/kbs/{kb}/search and /query, the WebSocket, the OpenAI route's
/v1/chat/completions) checked against the KB's documents as `rag search --source` checks its own
(indexer.doc_filters): a doc id or source that names no document is 422 invalid_request, each one in error.details
with the sources it may have meant, instead of no hits or a refusal as if the KB did not hold the answer.
`./docs/fees.md` and an absolute path name the document indexed as `docs/fees.md`; a relative path is not read
against the server's working directory, which is not the client's."""
from __future__ import annotations

from api.errors import ApiError
from indexer.doc_filters import check_filters
from indexer.types import Filters
from rag.guard.personal_data import mask_personal

BODY = ("body", "filters")  # where the filters are in a request body (a WebSocket message: ("filters",))


def known_filters(store, kb: str, filters: Filters | None, at: tuple[str, ...] = BODY) -> Filters | None:
    """`filters` with each source as the KB stores it; ApiError 422 naming what is no document of `store`."""
    if not filters:
        return filters
    checked = check_filters(store, filters)
    if checked.ok:
        return checked.filters
    details, said = [], []
    unknown = {u.given: u for u in checked.unknown_sources}
    for i, doc_id in enumerate(filters.doc_ids):
        if doc_id in checked.unknown_doc_ids:
            details.append({"loc": [*at, "doc_ids", i], "msg": mask_personal(f"no document of {kb!r} has this id"),
                            "type": "unknown_doc_id"})
            said.append(f"no document has the id {doc_id!r}")
    for i, source in enumerate(filters.sources):
        if source in unknown:
            u = unknown[source]
            details.append({"loc": [*at, "sources", i], "msg": mask_personal(f"no document of {kb!r} has this "
                                                                             f"source{u.hint}"),
                            "type": "unknown_source", "alike": list(u.alike)})
            said.append(f"no document has the source {source!r}{u.hint}")
    raise ApiError(422, "invalid_request", f"filters of {kb!r}: {'; '.join(said)}; give doc ids and sources as "
                   f"GET /v1/kbs/{kb}/documents lists them (a source: the path as indexed, or an upload's file name)",
                   details=details)
