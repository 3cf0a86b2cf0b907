"""A KB's synonyms in its store (`Store.set_meta`, so they travel in archives and are shared by every
replica in cluster mode): read at every request, as the KB's refusal thresholds are."""
from __future__ import annotations

import logging

from rag.synonyms.rules import Synonyms

log = logging.getLogger(__name__)

META_KEY = "synonyms"  # JSON: [{"terms": [...], "means": [...]}, ...]


def stored_synonyms(store) -> Synonyms:
    """The KB's synonyms; none when it has none, or when what is stored cannot be read (logged: answers
    go on without them rather than fail)."""
    raw = store.get_meta(META_KEY, "")
    if not raw:
        return Synonyms()
    try:
        return _cached(raw)
    except (ValueError, KeyError, TypeError):
        log.warning("the KB's stored synonyms cannot be read; questions are answered without them (set them "
                    "again with `rag kb synonyms KB --set FILE`)")
        return Synonyms()


_LAST: dict[str, Synonyms] = {}


def _cached(raw: str) -> Synonyms:
    got = _LAST.get(raw)
    if got is None:
        got = Synonyms.from_json(raw)
        if len(_LAST) > 32:
            _LAST.clear()
        _LAST[raw] = got
    return got


def store_synonyms(store, synonyms: Synonyms) -> None:
    """Replace the KB's synonyms (none: remove them)."""
    store.set_meta(META_KEY, synonyms.to_json() if synonyms else "")
