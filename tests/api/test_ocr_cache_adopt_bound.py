"""The OCR caches of several workers of an earlier release, each moved into the shared cache at its start
(api.jobs.adopt_ocr_cache), keep to the KB's bound (ocr_cache_mb) together. Each worker's file was within it, but
their pages were added one worker after another and nothing trimmed them: with five workers a KB's cache was five
times its bound, for good where no new scan comes to trim it. Real PostgreSQL, a real local KB with an English and
a Chinese document, two worker homes."""
from __future__ import annotations

import shutil
import time

from api.jobs.adopt_ocr_cache import adopt_local_ocr_caches
from api.jobs.ocr_cache import ocr_cache_settings
from indexer.config import IndexerSettings
from indexer.ingest import Ingestor
from indexer.kbs import KBManager
from indexer.parse.ocr_cache import CACHE_FILE, OcrCache
from indexer.parse.ocr_cache_base import MB, checksum, entry_bytes, entry_text
from indexer.parse.ocr_text import OcrLine
from indexer.reread import file_sha
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_ocr_cache_shared import _pg

PAGES = 700  # a worker's file of about 0.75 MB: within the 1 MB bound alone, not two together


def _manager(home, url, minilm, cache_mb: int = 1) -> KBManager:
    return KBManager(ocr_cache_settings(IndexerSettings(home=home, embed_model="minilm", ocr_cache_mb=cache_mb),
                                        url), encoders={"minilm": minilm})


def _indexed_kb(manager: KBManager, docs) -> list[str]:
    """KB 't' of an English and a Chinese document in folder `docs` (made here); its files' SHA-256, sorted: the
    owners of a worker's cache pages."""
    docs.mkdir()
    (docs / "挂失.txt").write_text("银行卡挂失：请第一时间拨打客服电话。\n", encoding="utf-8")
    (docs / "hours.txt").write_text("Opening hours: 9 to 5 on weekdays.\n", encoding="utf-8")
    store = manager.open("t", writable=True, create=True)
    try:
        Ingestor(store, manager.encoder(), manager.settings).index_paths([str(docs)], progress=False)
        return sorted(file_sha(d.content_hash) for d in store.documents())
    finally:
        store.close()


def _worker_file(path, owners: list[str], first: int) -> int:
    """A worker's cache of an earlier release: PAGES pages of about 1 KB, owned by the KB's documents' files."""
    cache = OcrCache(str(path), 0, "")
    try:
        rows, owned = [], []
        for i in range(first, first + PAGES):
            key = f"{i:064x}"
            text = entry_text([OcrLine(f"第{i}页 挂失须知 page {i}: " + "卡" * 300, 100, 900, 40)])
            rows.append((key, text, checksum(key, text), entry_bytes(key, text), time.time() - 10_000 + i))
            owned.append((owners[i % len(owners)], key))
        cache.add_entries(rows, owned)
    finally:
        cache.close()
    return sum(r[3] for r in rows)


def test_the_caches_of_several_workers_keep_to_the_kbs_bound_together(postgres, minilm, tmp_path):  # noqa: F811
    db = _pg(postgres, tmp_path)
    try:
        first = _manager(tmp_path / "w1", None, minilm)  # the earlier release: caches on each worker's disk
        owners = _indexed_kb(first, tmp_path / "docs")
        shutil.copytree(first.home / "t", tmp_path / "w2" / "t")  # the shared store, as Milvus is to every worker
        sizes = [_worker_file(tmp_path / w / "t" / CACHE_FILE, owners, n * PAGES) for n, w in enumerate(("w1", "w2"))]
        assert all(size < MB for size in sizes) and sum(sizes) > MB

        for w in ("w1", "w2"):  # each worker of this release starts
            assert adopt_local_ocr_caches(_manager(tmp_path / w, postgres.url, minilm)) > 0
        kept = db.query("SELECT count(*) AS n, coalesce(sum(bytes), 0) AS b FROM ocr_cache_pages WHERE kb = 't'")[0]
        assert int(kept["b"]) <= MB, kept  # the bound, as a put keeps it: the pages used longest ago went
        assert int(kept["n"]) > PAGES // 2, kept
        orphans = db.query("SELECT count(*) AS n FROM ocr_cache_owners o WHERE kb = 't' AND NOT EXISTS "
                           "(SELECT 1 FROM ocr_cache_pages p WHERE p.kb = o.kb AND p.key = o.key)")[0]["n"]
        assert orphans == 0
        newest = db.query("SELECT lines FROM ocr_cache_pages WHERE kb = 't' AND key = ?", (f"{2 * PAGES - 1:064x}",))
        assert newest and f"第{2 * PAGES - 1}页" in newest[0]["lines"]  # the one used last stays
    finally:
        db.close()
