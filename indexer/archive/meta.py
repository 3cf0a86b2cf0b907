"""Which of a KB's settings (Store.meta_items) travel in an archive: its own (the refusal threshold and
its calibration, the tuned-model settings, ...), not the store's bookkeeping nor what is fixed when a KB
is created, which the manifest carries as fields of its own. The same filter applies on import, so a
hostile archive cannot set a store's counters or a write record."""
from __future__ import annotations

from indexer.kbs import KBManager
from indexer.store.base import Store

IMPORT_ARCHIVE = "import_archive"  # in the hidden copy an import writes: which archive (Manifest.archive_id)
IMPORT_DONE = "import_done"        # ... and "1" once every document is in
NOT_CARRIED = KBManager.OWN_META | KBManager.STORE_META | {IMPORT_ARCHIVE, IMPORT_DONE}


def carried(items: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in sorted(items.items()) if k not in NOT_CARRIED}


def carried_meta(store: Store) -> dict[str, str]:
    return carried(store.meta_items())
