"""LangChain's own standard retriever tests (package `langchain-tests`) run against `KBRetriever`
over a real KB: the sample English documents indexed with the 'minilm' encoder."""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from rag.integrations.langchain import KBRetriever

SAMPLE_EN = Path(__file__).resolve().parents[2] / "data" / "sample" / "en"


@functools.lru_cache(maxsize=None)
def _hybrid() -> Any:
    """One HybridRetriever over a KB built once per process (the constructor hooks below are class
    properties, so pytest's fixtures can't feed them). Built on first use, not at collection."""
    from indexer.config import IndexerSettings
    from indexer.ingest import Ingestor
    from indexer.kbs import KBManager
    from rag.retrieval.hybrid import HybridRetriever

    home = Path(tempfile.mkdtemp(prefix="lc-standard-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    mgr = KBManager(IndexerSettings(home=home / "home", embed_model="minilm", device="cpu"))
    store = mgr.open("lc", writable=True, create=True)
    report = Ingestor(store, mgr.encoder(), mgr.settings).index_paths([str(SAMPLE_EN)], progress=False)
    store.close()
    assert not [r for r in report.results if r.status == "failed"], report.results
    store = mgr.open("lc")
    atexit.register(store.close)
    return HybridRetriever(store, mgr.encoder(store.embed_model))


# the suite's one async test (ainvoke) needs pytest-asyncio's mark (the project runs it in strict mode). Standard
# tests may not be overridden, so the mark goes on the class, where pytest-asyncio ignores it on the sync tests
# but warns about each: that warning is silenced
@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:The test <Function .*> is marked with '@pytest.mark.asyncio' but it is not an async")
class TestKBRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[KBRetriever]:
        return KBRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"hybrid": _hybrid(), "k": 5}

    @property
    def retriever_query_example(self) -> str:
        return "How do I report a stolen card?"
