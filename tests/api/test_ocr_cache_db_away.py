"""The shared OCR cache's state database away (cluster mode, indexer.parse.ocr_cache_pg): a parser process that
found it unreachable remembers so for DOWN_FOR_S (indexer.parse.ocr_cache_down), so the next files it reads skip
the cache at once and say nothing, then one tries again. Before, every file waited the connection timeout (5 s)
and logged a warning: a 50-file scan upload with PostgreSQL away waited 250 s more, its log a warning a file.

Real PostgreSQL behind a TCP relay that can be cut (the database away) and restored; the connections that reach
the relay counted. The slow test reads real scans (English and Chinese) in real parser processes, each file in a
child of its own, against a server that accepts and never answers (each connection waits the full timeout)."""
from __future__ import annotations

import logging
import time

import pytest
from PIL import Image

from indexer.parse import ocr_cache_down
from indexer.parse.ocr_cache_pg import CONNECT_TIMEOUT_S, PostgresOcrCache
from indexer.parse.ocr_text import OcrLine
from tests.api.state_dbs import postgres  # noqa: F401  (the module's server)
from tests.api.test_ocr_cache_shared import _index, _pg, _tesseract_log, _worker
from tests.indexer.test_ocr_cache import _page_runs
from tests.ocr_scans import FEE_EN, FEE_ZH, HOURS_ZH, needs_tesseract, save_pdf, scan
from tests.tcp_relay import Relay


def _file(url: str, shade: int, words: str) -> list[OcrLine] | None:
    """What one file's reader does with the cache (a fresh cache object, as each file gets): a get, a put on a miss,
    and the get of its own page again."""
    cache = PostgresOcrCache(url, "t", max_bytes=1 << 20, engine="test", owner="a" * 64)
    try:
        key = cache.key(Image.new("L", (40, 20), shade), 300)
        if cache.get(key) is None:
            cache.put(key, [OcrLine(words, 100, 900, 40)])
        return cache.get(key)
    finally:
        cache.close()


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "OCR cache" in r.getMessage()]


def test_files_after_one_that_found_the_database_away_skip_the_cache_at_once_then_try_again(postgres, tmp_path,  # noqa: F811
                                                                                             caplog, monkeypatch):
    relay = Relay(postgres.port)
    url = relay.url(postgres.url, postgres.port)
    monkeypatch.setattr(ocr_cache_down, "DOWN_FOR_S", 1.0)  # 30 s in service
    try:
        _pg(postgres, tmp_path).close()  # migrated, the cache's tables empty
        assert _file(url, 1, "第1页 挂失须知") == [OcrLine("第1页 挂失须知", 100, 900, 40)]  # reached: the cache works

        relay.up = False  # PostgreSQL away
        tried = relay.connections
        caplog.set_level(logging.DEBUG, logger="indexer.parse.ocr_cache_pg")
        for shade, words in enumerate(["page 2: fees", "第3页 手续费", "page 4: hours", "第5页 营业时间"], start=2):
            assert _file(url, shade, words) is None  # read by OCR, nothing raised
        assert relay.connections - tried <= 2, relay.connections - tried  # the first file's try (libpq may make it two)
        assert len(_warnings(caplog)) == 1, _warnings(caplog)

        time.sleep(1.1)  # DOWN_FOR_S later: the next file tries again, still away: not warned again
        before = relay.connections
        assert _file(url, 6, "page 6") is None and relay.connections > before
        assert _file(url, 7, "第7页") is None and len(_warnings(caplog)) == 1

        relay.up = True  # back: used again DOWN_FOR_S after it was last tried, at most
        time.sleep(1.1)
        assert _file(url, 8, "第8页 back") == [OcrLine("第8页 back", 100, 900, 40)]
        relay.up = False  # away once more: said again
        assert _file(url, 9, "page 9") is None and len(_warnings(caplog)) == 2
    finally:
        relay.close()


@needs_tesseract
@pytest.mark.slow  # four scanned files read by OCR in two parser processes, a connection timeout: ~30 s
def test_a_scan_upload_with_the_database_away_waits_for_it_once(minilm, tmp_path, monkeypatch):
    log = _tesseract_log(tmp_path, monkeypatch)  # the parser processes started afresh
    silent = Relay(None)
    try:
        docs = tmp_path / "docs"
        docs.mkdir()
        save_pdf(docs / "fees.pdf", scan(["Card Services Fee Notice", "", FEE_EN], size=(1240, 600)))
        save_pdf(docs / "收费.pdf", scan(["银行卡服务收费公告", "", FEE_ZH], size=(1240, 600)))
        scan(["挂失须知", "", HOURS_ZH], size=(1240, 600)).save(docs / "挂失.png")
        scan(["Branch Hours", "", "Open 9 to 5 on weekdays, closed on holidays."], size=(1240, 600)).save(
            docs / "hours.png")
        manager = _worker(tmp_path / "w", f"postgresql://rag@127.0.0.1:{silent.port}/rag", minilm)  # away
        started = time.monotonic()
        texts = _index(manager, docs)
        took = time.monotonic() - started
        assert _page_runs(log) >= 4 and any(FEE_ZH[:8] in t for t in texts["收费.pdf"]), texts
        # each parser process (parse_workers, 2, read files at once) waited for its first file only; before, each
        # of the four files waited
        assert 1 <= silent.connections <= manager.settings.parse_workers < 4, silent.connections
        assert took > CONNECT_TIMEOUT_S
    finally:
        silent.close()
