"""llama.cpp's AMX int8 kernels, the default build on CPUs with AMX (deploy/build_llamacpp.sh applies
deploy/patches/llama-cpp-amx-tilecfg.patch): the setup built them, and they compute what the backend's
single-row kernels compute. Skipped on CPUs without AMX."""
from pathlib import Path

import numpy as np
import pytest

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python (the [llamacpp] extra) is not installed")

from rag.generation.config import GenerationSettings
from rag.generation.llamacpp import AMX_PATCHED, resolve_gguf


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.partition(":")[2].split())


pytestmark = pytest.mark.skipif(not {"amx_tile", "amx_int8"} <= _cpu_flags(), reason="this CPU has no AMX")

TEXT = ("Report a lost or stolen card straight away. Call the 24-hour Card Services line at 1-800-555-0199. "
        "From outside the United States, call +1-302-555-0188. Wire transfers cost $25 for domestic wires and "
        "$45 for international wires. Branches are open Monday to Friday from 9 a.m. to 5 p.m., and the "
        "Harbor Street branch is also open on Saturdays from 9 a.m. to 1 p.m. 银行卡丢失后请立即致电挂失。")


def test_setup_built_the_patched_amx_kernels():
    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    assert "AMX_INT8 = 1" in info, "this CPU has AMX but llama-cpp-python was built without it: " \
                                   "sh deploy/build_llamacpp.sh .venv/bin/pip"
    assert AMX_PATCHED in llama_cpp.__version__, "an AMX build from the unpatched source (it crashes)"


def test_amx_tile_kernels_agree_with_the_single_row_kernels():
    """A prompt evaluated in one batch goes through the AMX tile kernels (many rows); the same tokens one
    at a time through the AVX-512 VNNI kernels of the same backend. Both quantise the activations to 8
    bits, so the next-token distributions agree up to summation order: an empty or wrong tile
    configuration (what the patch fixes) faults or gives unrelated logits."""
    from llama_cpp import Llama

    path = resolve_gguf("smollm2", GenerationSettings().cache_dir, "q8_0")
    llm = Llama(model_path=str(path), n_ctx=512, n_batch=256, n_ubatch=256, n_threads=2, n_threads_batch=2,
                logits_all=True, verbose=False)
    toks = llm.tokenize(TEXT.encode())[:96]
    assert len(toks) >= 64
    llm.eval(toks)
    batch = np.array(llm.scores[:len(toks)], dtype=np.float64)
    llm.reset()
    single = []
    for t in toks:
        llm.eval([t])
        single.append(np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64))
    single = np.stack(single)

    def log_softmax(x):
        x = x - x.max(axis=1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))

    p, q = log_softmax(single), log_softmax(batch)
    kl = float((np.exp(p) * (p - q)).sum(axis=1).mean())
    agree = float((single.argmax(1) == batch.argmax(1)).mean())
    # measured on this prompt: agreement ~0.95-1.0, KL ~0.004 (as between the AMX and AVX-512 builds)
    assert agree >= 0.85 and kl < 0.05, (agree, kl)
