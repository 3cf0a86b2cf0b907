"""A small KB indexed for the answer tests as `rag index` indexes it (the default encoders, the refusal threshold
it calibrates) and its quoting pipeline, and a KB's synonyms set for the length of a block.

    quoting_pipeline(home, name, docs, ens) -> the pipeline (quoted answers, no reranker)
    written_pipeline(root, name, {"fees.csv": "...", "床位费.docx": save_docx}, ens)   # the same over files it writes
    with synonyms(pipe, "挂号费, 诊查费"): ...   # the KB's rules in force, none again after
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def quoting_pipeline(home: Path, name: str, docs: Path, ens):
    """The documents in `docs` indexed into KB `name` under `home` with the packaged encoders `ens` (the session's
    fixture) and the threshold `rag index` calibrates; its quoting pipeline (extract mode, no reranker)."""
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager
    from rag.adapt.tune_refusal import index_calibrated
    from rag.config import Settings
    from rag.pipeline import build_pipeline

    manager = KBManager(IndexerSettings(home=home, embed_model="e5+minilm"), encoders={"e5+minilm": ens})
    settings = Settings.load(indexer={"home": home}, answer={"mode": "extract"})
    index_calibrated(settings, name, manager, [str(docs)])
    return build_pipeline(settings, name, manager, reranker=None)


def written_pipeline(root: Path, name: str, files: dict, ens):
    """`quoting_pipeline` over the documents written into `root`/docs: {file name: its text (UTF-8), or a
    function writing the file at the path it is given (a Word document)}; the KB's home is `root`/home."""
    docs = root / "docs"
    docs.mkdir()
    for file_name, content in files.items():
        if callable(content):
            content(docs / file_name)
        else:
            (docs / file_name).write_text(content, encoding="utf-8")
    return quoting_pipeline(root / "home", name, docs, ens)


@contextmanager
def synonyms(pipe, text: str) -> Iterator[None]:
    """The pipeline's KB answers with the synonyms of `text` (rag.synonyms' format) in this block, none after."""
    from rag.synonyms.kb import store_synonyms
    from rag.synonyms.rules import parse

    store_synonyms(pipe.store, parse(text))
    pipe.refresh()
    try:
        yield
    finally:
        store_synonyms(pipe.store, parse(""))
        pipe.refresh()
