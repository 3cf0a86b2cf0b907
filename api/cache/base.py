"""Answer-cache records and the backend protocol that the memory and Redis backends implement."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Space:
    """Where entries live: never shared between KBs, generations or variants."""
    kb: str
    generation: int
    variant: str = ""


@dataclass
class Entry:
    question: str
    words: list[str]
    payload: str                      # JSON text
    created: float                    # time.time() when stored
    vector: np.ndarray | None = field(default=None, repr=False)
    owner: str = ""                   # the pseudonym of the user who asked (api.audit.pseudonym); "" = none
    epoch: int = 0                    # the owner's forget epoch when they asked (api.state.forgotten)


@dataclass(frozen=True)
class CachedAnswer:
    payload: dict
    kind: str          # "exact" | "similar"
    similarity: float  # cosine of the question embeddings (1.0 for an exact match)
    question: str      # the question the answer was stored for
    age_s: float


class CacheBackend(Protocol):
    name: str

    def get(self, space: Space, key: str) -> Entry | None: ...
    def similar(self, space: Space, vector: np.ndarray, min_cos: float) -> list[tuple[Entry, float]]: ...
    def put(self, space: Space, key: str, entry: Entry) -> None: ...
    def invalidate(self, kb: str) -> int: ...
    def forget(self, owner: str, epoch: int) -> int: ...
    def stats(self) -> dict[str, float]: ...
    def close(self) -> None: ...


def unit_vector(vector: np.ndarray | None) -> np.ndarray | None:
    if vector is None:
        return None
    v = np.asarray(vector, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(v))
    if not v.size or not np.isfinite(norm) or norm == 0.0:
        return None
    return v / norm
