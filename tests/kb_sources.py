"""The sources of the documents a KB holds, opened read-only and closed again (the import and create tests)."""
from __future__ import annotations


def kb_sources(manager, kb: str) -> set[str]:
    store = manager.open(kb)
    try:
        return {d.source for d in store.documents()}
    finally:
        store.close()
