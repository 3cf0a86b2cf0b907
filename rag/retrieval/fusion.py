"""Rank fusion as pure functions over {key: score} maps, best first.

- rrf: reciprocal rank fusion, sum of w / (k + rank).
- minmax: scores scaled to [0, 1] per list, weighted sum.
- dbsf: distribution-based score fusion: scores scaled by mean +- 3 std per list, clipped, weighted sum.
A key missing from one list contributes 0 from it.
"""
from __future__ import annotations

from typing import Hashable, Sequence

import numpy as np

Ranked = dict[Hashable, float]


def rrf(lists: Sequence[Ranked], weights: Sequence[float] | None = None, k: int = 60) -> Ranked:
    weights = weights or [1.0] * len(lists)
    out: dict = {}
    for ranked, w in zip(lists, weights):
        for rank, key in enumerate(sorted(ranked, key=ranked.__getitem__, reverse=True), start=1):
            out[key] = out.get(key, 0.0) + w / (k + rank)
    return _sorted(out)


def _minmax(ranked: Ranked) -> Ranked:
    if not ranked:
        return {}
    v = np.fromiter(ranked.values(), float)
    lo, hi = v.min(), v.max()
    if hi - lo < 1e-12:
        return {key: 1.0 for key in ranked}
    return {key: (s - lo) / (hi - lo) for key, s in ranked.items()}


def _dbsf(ranked: Ranked) -> Ranked:
    if not ranked:
        return {}
    v = np.fromiter(ranked.values(), float)
    mu, sd = v.mean(), v.std()
    if sd < 1e-12:
        return {key: 1.0 for key in ranked}
    lo, hi = mu - 3 * sd, mu + 3 * sd
    return {key: float(np.clip((s - lo) / (hi - lo), 0.0, 1.0)) for key, s in ranked.items()}


def score_fusion(lists: Sequence[Ranked], weights: Sequence[float] | None = None, norm: str = "minmax") -> Ranked:
    scale = {"minmax": _minmax, "dbsf": _dbsf}[norm]
    weights = weights or [1.0] * len(lists)
    out: dict = {}
    for ranked, w in zip(lists, weights):
        for key, s in scale(ranked).items():
            out[key] = out.get(key, 0.0) + w * s
    return _sorted(out)


def fuse(lists: Sequence[Ranked], method: str = "rrf", weights: Sequence[float] | None = None,
         rrf_k: int = 60) -> Ranked:
    if method == "rrf":
        return rrf(lists, weights, rrf_k)
    if method in ("minmax", "dbsf"):
        return score_fusion(lists, weights, method)
    raise ValueError(f"unknown fusion method {method!r}: use rrf, minmax or dbsf")


def _sorted(scores: dict) -> Ranked:
    return dict(sorted(scores.items(), key=lambda kv: kv[1], reverse=True))


def aggregate_by(scores: Ranked, group_of: dict, how: str = "max") -> Ranked:
    """Chunk scores -> group (document) scores: 'max', or 'max+' (max plus a tenth of the rest)."""
    groups: dict = {}
    for key, s in scores.items():
        groups.setdefault(group_of[key], []).append(s)
    if how == "max":
        out = {g: max(v) for g, v in groups.items()}
    elif how == "max+":
        out = {g: max(v) + 0.1 * (sum(v) - max(v)) for g, v in groups.items()}
    else:
        raise ValueError(f"unknown aggregation {how!r}: use max or max+")
    return _sorted(out)
