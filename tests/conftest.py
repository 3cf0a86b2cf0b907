import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="session")
def ens():
    """The default 'e5+minilm' encoder, loaded once per session (several modules use it)."""
    from indexer.embed.factory import make_encoder

    enc = make_encoder("e5+minilm", batch_size=8, device="cpu")
    enc.warm_up()
    return enc


@pytest.fixture(scope="session")
def minilm():
    from indexer.embed.sbert import SentenceTransformerEncoder

    enc = SentenceTransformerEncoder("minilm", batch_size=32, device="cpu")
    enc.warm_up()
    return enc


@pytest.fixture
def manager(tmp_path, minilm):
    """A KB manager on a fresh home whose 'minilm' encoder is the session's (loaded once)."""
    from indexer.config import IndexerSettings
    from indexer.kbs import KBManager

    mgr = KBManager(IndexerSettings(home=tmp_path / "home", embed_model="minilm"), encoders={"minilm": minilm})
    return mgr


SAMPLE_FILES = ["en/lost_or_stolen_cards.txt", "en/wire_transfers.html", "en/account_fees.md",
                "zh/card_loss_reporting.txt", "en/mortgage_and_loan_policy.pdf"]


def _copy_sample(dst: Path) -> Path:
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for rel in SAMPLE_FILES:
        shutil.copy(SAMPLE / rel, dst / Path(rel).name.replace(".", f"_{Path(rel).parent.name}.", 1))
    return dst


@pytest.fixture(scope="session")
def _indexed_base(tmp_path_factory, minilm):
    """The sample files indexed once per session into KB 't' (embedding is the slow part)."""
    from indexer.config import IndexerSettings
    from indexer.ingest import Ingestor
    from indexer.kbs import KBManager

    root = tmp_path_factory.mktemp("base")
    docs = _copy_sample(root / "docs")
    mgr = KBManager(IndexerSettings(home=root / "home", embed_model="minilm"), encoders={"minilm": minilm})
    store = mgr.open("t", writable=True, create=True)
    Ingestor(store, minilm, mgr.settings).index_paths([str(docs)], progress=False)
    store.close()
    return docs, root / "home" / "t"


@pytest.fixture
def sample_copy(manager, _indexed_base):
    """Pristine sample documents (tests may edit them) and KB 't' in this test's home already holding them."""
    docs, kb_folder = _indexed_base
    _copy_sample(docs)  # same paths and content as when indexed: re-indexing finds them unchanged
    shutil.copytree(kb_folder, manager.home / "t")
    return docs


@pytest.fixture(scope="session")
def base_model():
    """The bundled SmolLM2 (float32, transformers) and its tokenizer, loaded once per session; tests
    that change it work on a copy.deepcopy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rag.generation.model_cache import resolve_model_dir

    d = resolve_model_dir("smollm2")
    tok = AutoTokenizer.from_pretrained(str(d), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32, local_files_only=True).eval()
    return model, tok


def kill_reembed_at_second_batch(monkeypatch):
    """The next re-embedding dies (KeyboardInterrupt, as a killed process) when its second batch of
    documents is written; returns a function that lets re-embedding run again."""
    from indexer.ingest import Ingestor

    real, calls = Ingestor.reembed_documents, []

    def crash_on_second(self, docs):
        calls.append(len(docs))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, docs)

    monkeypatch.setattr(Ingestor, "reembed_documents", crash_on_second)
    return lambda: monkeypatch.setattr(Ingestor, "reembed_documents", real)


def on_first_reembed_batch(monkeypatch, action):
    """The next re-embedding calls `action()` as it writes its first batch of documents: a writer that
    arrives while the copy is being made."""
    from indexer.ingest import Ingestor

    real, calls = Ingestor.reembed_documents, []

    def hooked(self, docs):
        calls.append(len(docs))
        if len(calls) == 1:
            action()
        return real(self, docs)

    monkeypatch.setattr(Ingestor, "reembed_documents", hooked)


@pytest.fixture
def root_log():
    """The records that reach the root logger's own handlers (the CLI's terminal), at DEBUG and up, while the test
    runs. Not pytest's caplog: with it, the tests saw the parsing libraries' WARNING records, which the root
    logger's handlers do not get (indexer.parse.library_logs routes them to our log at DEBUG)."""
    import logging

    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    root, keep = logging.getLogger(), Keep()
    level = root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        root.removeHandler(keep)
        root.setLevel(level)


@pytest.fixture
def small_tmpfs(tmp_path):
    """small_tmpfs(size) -> a folder on a tmpfs of that size ("640k"): a disk that fills up. Unmounted after
    the test; skipped where mounting needs the root CI runs as."""
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs the suite as root)")
    mounted = []

    def make(size: str) -> Path:
        mnt = tmp_path / f"tmpfs{len(mounted)}"
        mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)
        mounted.append(mnt)
        return mnt

    yield make
    for mnt in mounted:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
