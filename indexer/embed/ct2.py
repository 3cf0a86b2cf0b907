"""The CTranslate2 engine for the compact BERT encoders (e5, MiniLM, BERT sentence-transformers folders).

Why this engine. Measured side by side on 200 en/zh passages of 93-245 tokens, 2 cores
(docs/encoder-engines.md): CTranslate2 int8 encodes e5 1.6-1.7x and MiniLM 1.7-2.2x faster than
the torch forward of `indexer.embed.bert` (int8 e5, float32 MiniLM), while ONNX Runtime's dynamic
int8 was slower than torch (0.8x e5, 1.0x MiniLM) and further from today's vectors (MiniLM min
cosine 0.975). CTranslate2 quantises activations per token row, so the FFN's outlier channels
that per-tensor schemes cannot hold cost little: its e5 vectors are closer to float32's
(cosine 0.9994) than the torch int8 ones (0.9970).

How it runs. One text per forward: a text's vector never depends on its batch-mates (batched
int8 forwards moved vectors by up to 6e-4 in cosine), and on 2 cores it is also faster than
padded batches (37 vs 30 passages/s for e5). Several texts are spread over `workers` Python
threads, one CTranslate2 thread each (`inter_threads`; the forward releases the GIL), which beat
one text at a time on two threads by ~12%. The last hidden states are mean-pooled and
L2-normalised here, as sentence-transformers does.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def available() -> bool:
    try:
        import ctranslate2  # noqa: F401
    except ImportError:
        return False
    return True


def default_workers() -> int:
    """Parallel forwards: $OMP_NUM_THREADS when set (benchmarks pin it), else the CPU count (at most 8)."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


class CT2Forward:
    """token ids -> L2-normalised mean-pooled vectors, through a converted CTranslate2 encoder."""

    def __init__(self, model_dir: str | Path, device: str = "cpu", workers: int | None = None):
        import ctranslate2

        self.device = device
        self.workers = 1 if device != "cpu" else (workers or default_workers())
        compute = "int8" if device == "cpu" else "int8_float16"
        self._to_cpu = None if device == "cpu" else ctranslate2.Device.cpu
        self._enc = ctranslate2.Encoder(str(model_dir), device=device, compute_type=compute,
                                        inter_threads=self.workers, intra_threads=1 if self.workers > 1 else 0)
        self._pool: ThreadPoolExecutor | None = None
        self.dim = len(self._one([101, 102]))

    def _one(self, ids: list[int]) -> np.ndarray:
        h = self._enc.forward_batch([ids]).last_hidden_state
        if self._to_cpu is not None:
            h = h.to_device(self._to_cpu)
        v = np.asarray(h, dtype=np.float32)[0].mean(0)
        return v / max(float(np.linalg.norm(v)), 1e-12)

    def encode(self, ids: list[list[int]], progress=None) -> np.ndarray:
        """One forward per text (see the module docstring); `progress(n)` is called as texts finish."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        if len(ids) <= 2 or self.workers == 1:  # a question or two: no thread hand-off
            for j, i in enumerate(ids):
                out[j] = self._one(i)
                if progress:
                    progress(1)
            return out
        self._pool = self._pool or ThreadPoolExecutor(self.workers, thread_name_prefix="ct2")
        order = np.argsort([-len(i) for i in ids], kind="stable")  # longest first: the threads finish together
        for j, v in zip(order, self._pool.map(lambda j: self._one(ids[j]), order)):
            out[j] = v
            if progress:
                progress(1)
        return out
