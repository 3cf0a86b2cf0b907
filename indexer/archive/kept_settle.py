"""The kept uploads of a KB an import replaced (`rag kb import --replace`, POST /v1/kbs/import?replace=true),
settled once the imported KB has taken the name, under its writer lock.

The import keeps the archive's uploads (indexer.archive.kept_files.restore_kept) before its KB takes the name, while
the KB it replaces still keeps its own beside them: under the same name in the state database (cluster mode,
api.state.kept_uploads) or, for a Milvus KB in embedded mode, in the KB's folder that the import's files join
(indexer.archive.staging). So, afterwards:
- the replaced KB's copies that no document of the imported KB names would stay, read by nobody and counted
  against originals_max_mb: they are swept, as after any write;
- an archive's upload could be missing: not kept while the replaced KB's copies still took the room under
  originals_max_mb, or swept by a write to the replaced KB while the import ran (a KB's sweep keeps only what its
  own documents name). Each one the imported KB's documents name is kept again from the archive.
The report then counts what the KB keeps of what the archive carried, not what the first pass managed.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from indexer.archive.kept_files import RestoredFiles, kept_member, restore_kept
from indexer.archive.reader import ArchiveLimits, ArchiveReader
from indexer.kbs import KBManager
from indexer.originals import KeptOriginals


def settle_kept(mgr: KBManager, archive_path: Path, kb: str, kept: KeptOriginals,
                files: RestoredFiles | None, limits: ArchiveLimits = ArchiveLimits()) -> RestoredFiles | None:
    """KB `kb`, just imported from `archive_path` in place of another, keeps exactly the uploads its documents name
    (`kept`: where it keeps them, as the KB's own, not an import's); `files`: what the import reported (None: a
    re-run found it done), returned with its counts of kept uploads made true."""
    store = mgr.open(kb, writable=True)  # every write to kept uploads is made under the KB's writer lock
    try:
        documents = store.documents()
        kept.sweep(documents)
        named = {m: d for d in documents if (m := kept_member(d)) is not None}
        with ArchiveReader(archive_path, limits) as archive:
            carried = set(archive.kept_uploads()) & set(named)
            missing = {m for m in carried if not kept.is_kept(named[m])}
            again = _keep_again(mgr, archive, missing, kept) if missing else None
        now = sum(kept.is_kept(named[m]) for m in carried)
    finally:
        store.close()
    if files is None and again is None:
        return None
    out = files or RestoredFiles()
    out.originals, out.not_kept = now, len(carried) - now
    if again is not None and again.not_kept:
        out.not_kept_reason = again.not_kept_reason
    elif not out.not_kept:
        out.not_kept_reason = ""
    return out


def _keep_again(mgr: KBManager, archive: ArchiveReader, missing: set[str], kept: KeptOriginals) -> RestoredFiles:
    """The uploads `missing` (archive members) kept from the archive. Through restore_kept, told to keep no OCR
    cache (ocr_cache_mb 0: the import put it back already), in a scratch folder of its own under the home's
    .uploads (emptied at the service's start)."""
    scratch = Path(mgr.settings.home) / ".uploads"
    scratch.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="settle-", dir=scratch))
    try:
        return restore_kept(archive, missing, kept, folder, ocr_cache_mb=0)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
