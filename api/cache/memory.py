"""In-process answer-cache backend: one LRU over all KBs (`max_entries`), at most `max_per_kb`
entries per space (KB, generation, variant), entries expiring after `ttl_s`. Thread-safe.

Near-duplicate lookup multiplies the space's vectors (kept as one matrix, rebuilt after a change)
by the question's: at 1,000 entries of 384 floats that is well under a millisecond.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from api.cache.base import Entry, Space


class MemoryBackend:
    name = "memory"

    def __init__(self, max_entries: int = 10000, max_per_kb: int = 1000, ttl_s: float = 3600.0,
                 clock: Callable[[], float] = time.time):
        self.max_entries, self.max_per_kb, self.ttl_s, self.clock = max_entries, max_per_kb, ttl_s, clock
        self._lock = threading.RLock()
        self._lru: OrderedDict[tuple[Space, str], Entry] = OrderedDict()
        self._spaces: dict[Space, OrderedDict[str, None]] = {}
        self._matrices: dict[Space, tuple[list[str], np.ndarray]] = {}
        self._latest: dict[str, int] = {}  # newest generation seen per KB
        self._forgotten: dict[str, int] = {}  # owner -> forget epoch (a few bytes a forgotten user; forgets are rare)

    # ---- bookkeeping --------------------------------------------------------------
    def _current(self, space: Space, storing: bool = False) -> bool:
        """False for a generation older than the newest stored; storing a newer one drops the older spaces."""
        latest = self._latest.get(space.kb)
        if latest is not None and space.generation < latest:
            return False
        if storing and (latest is None or space.generation > latest):
            self._latest[space.kb] = space.generation
            for old in [s for s in self._spaces if s.kb == space.kb and s.generation < space.generation]:
                self._drop_space(old)
        return True

    def _expired(self, entry: Entry) -> bool:
        return self.clock() - entry.created > self.ttl_s

    def _remove(self, space: Space, key: str) -> None:
        self._lru.pop((space, key), None)
        keys = self._spaces.get(space)
        if keys is not None:
            keys.pop(key, None)
            if not keys:
                del self._spaces[space]
        self._matrices.pop(space, None)

    def _drop_space(self, space: Space) -> int:
        keys = self._spaces.pop(space, {})
        for key in keys:
            self._lru.pop((space, key), None)
        self._matrices.pop(space, None)
        return len(keys)

    # ---- backend API ----------------------------------------------------------------
    def get(self, space: Space, key: str) -> Entry | None:
        with self._lock:
            if not self._current(space):
                return None
            entry = self._lru.get((space, key))
            if entry is None:
                return None
            if self._expired(entry):
                self._remove(space, key)
                return None
            self._lru.move_to_end((space, key))
            self._spaces[space].move_to_end(key)
            return entry

    def _matrix(self, space: Space, dim: int) -> tuple[list[str], np.ndarray]:
        """Keys and vectors (rows) of the space's entries that have a vector of this dimension."""
        cached = self._matrices.get(space)
        if cached is None or cached[1].shape[1] != dim:
            keys, rows = [], []
            for key in self._spaces.get(space, ()):
                vec = self._lru[(space, key)].vector
                if vec is not None and vec.shape == (dim,):
                    keys.append(key)
                    rows.append(vec)
            cached = (keys, np.vstack(rows) if rows else np.zeros((0, dim), np.float32))
            self._matrices[space] = cached
        return cached

    def similar(self, space: Space, vector: np.ndarray, min_cos: float) -> list[tuple[Entry, float]]:
        with self._lock:
            if not self._current(space):
                return []
            keys, mat = self._matrix(space, vector.shape[0])
            if not keys:
                return []
            scores = mat @ vector
            idx = np.nonzero(scores >= min_cos)[0]
            out: list[tuple[Entry, float]] = []
            for i in idx[np.argsort(-scores[idx], kind="stable")]:
                entry = self._lru.get((space, keys[i]))
                if entry is not None and not self._expired(entry):
                    out.append((entry, float(scores[i])))
            return out

    def put(self, space: Space, key: str, entry: Entry) -> None:
        with self._lock:
            if entry.owner and self._forgotten.get(entry.owner, 0) > entry.epoch:
                return  # asked before its owner was forgotten, finished after: never stored
            if not self._current(space, storing=True):
                return  # an answer computed on an older KB state is never stored
            self._lru[(space, key)] = entry
            self._lru.move_to_end((space, key))
            keys = self._spaces.setdefault(space, OrderedDict())
            keys[key] = None
            keys.move_to_end(key)
            self._matrices.pop(space, None)
            while len(keys) > self.max_per_kb:
                self._remove(space, next(iter(keys)))
            while len(self._lru) > self.max_entries:
                old_space, old_key = next(iter(self._lru))
                self._remove(old_space, old_key)

    def invalidate(self, kb: str) -> int:
        with self._lock:
            self._latest.pop(kb, None)  # a re-created KB starts again at generation 0
            return sum(self._drop_space(s) for s in [s for s in self._spaces if s.kb == kb])

    def forget(self, owner: str, epoch: int) -> int:
        """Drop the entries stored for this owner (a forgotten user's questions asked before `epoch`) and
        refuse, from now on, those asked before `epoch`."""
        with self._lock:
            self._forgotten[owner] = max(epoch, self._forgotten.get(owner, 0))
            # only what they asked before the forget: the same forget read again later (the forget feed replays
            # one this process applied itself) must not drop what they asked after it
            doomed = [(space, key) for (space, key), entry in self._lru.items()
                      if entry.owner == owner and entry.epoch < epoch]
            for space, key in doomed:
                self._remove(space, key)
            return len(doomed)

    def stats(self) -> dict[str, float]:
        with self._lock:
            return {"entries": float(len(self._lru)), "errors": 0.0, "available": 1.0}

    def close(self) -> None:
        with self._lock:
            self._lru.clear()
            self._spaces.clear()
            self._matrices.clear()
