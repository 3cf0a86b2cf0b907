"""Statistics for evaluation reports: bootstrap confidence intervals and a paired significance test.

Both are seeded, so the same per-query figures always give the same intervals and p-values.

* `bootstrap_ci`: percentile bootstrap of the mean (resample the queries with replacement).
* `paired_test`: two-sided paired randomization (sign-flip) test on per-query differences: under
  the null hypothesis "A and B are exchangeable", each difference is equally likely to have either
  sign. Exact (all 2^n sign patterns) for n <= EXACT_MAX, else Monte Carlo with a seeded generator.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

EXACT_MAX = 14  # 2^14 = 16,384 sign patterns


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict:
        return {"mean": self.mean, "ci_low": self.low, "ci_high": self.high, "n": self.n}


@dataclass(frozen=True)
class PairedResult:
    diff: float          # mean(b - a)
    low: float           # bootstrap interval of the mean difference
    high: float
    p_value: float
    n: int
    exact: bool

    def to_dict(self) -> dict:
        return {"diff": self.diff, "ci_low": self.low, "ci_high": self.high, "p_value": self.p_value,
                "n": self.n, "exact": self.exact}


def _clean(x: float) -> float:
    """Round away float noise (so 0.30000000000000004 is written as 0.3) while keeping 12 digits."""
    return float(round(float(x), 12))


def bootstrap_ci(values, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> Interval:
    """Mean and percentile-bootstrap interval of `values` (NaN = missing and dropped)."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(v), size=(n_resamples, len(v)))
    means = v[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return Interval(_clean(v.mean()), _clean(lo), _clean(hi), int(len(v)))


def paired_test(a, b, n_resamples: int = 10000, confidence: float = 0.95, seed: int = 0) -> PairedResult:
    """Compare per-query scores of two configurations on the same queries (pairs where either is
    missing are dropped). p-value: share of sign patterns whose |mean difference| is at least the
    observed one (observed pattern included)."""
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None
             and not (np.isnan(x) or np.isnan(y))]
    if not pairs:
        return PairedResult(float("nan"), float("nan"), float("nan"), float("nan"), 0, True)
    d = np.asarray([y - x for x, y in pairs], dtype=float)
    n = len(d)
    observed = abs(d.mean())
    tol = 1e-12 * max(1.0, observed)
    if not np.any(d):
        p, exact = 1.0, True
    elif n <= EXACT_MAX:
        signs = np.asarray(list(itertools.product((1.0, -1.0), repeat=n)))
        stats = np.abs((signs * d).mean(axis=1))
        p, exact = float(np.mean(stats >= observed - tol)), True
    else:
        rng = np.random.default_rng(seed)
        signs = rng.choice((1.0, -1.0), size=(n_resamples, n))
        stats = np.abs((signs * d).mean(axis=1))
        p, exact = float((np.sum(stats >= observed - tol) + 1) / (n_resamples + 1)), False
    ci = bootstrap_ci(d, min(n_resamples, 1000), confidence, seed)
    return PairedResult(_clean(d.mean()), ci.low, ci.high, _clean(p), n, exact)


def paired_by_id(a: dict, b: dict, seed: int = 0) -> PairedResult:
    """`paired_test` on per-query scores keyed by query id: the queries both have, in `a`'s order."""
    ids = [q for q in a if q in b]
    return paired_test([a[q] for q in ids], [b[q] for q in ids], seed=seed)


def percentiles(values, qs=(50, 95)) -> dict[str, float]:
    """{'p50': ..., 'p95': ...} of the values (empty -> NaN)."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    return {f"p{q}": (float(np.percentile(v, q)) if len(v) else float("nan")) for q in qs}


def percentile_ms(seconds: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000.0, q)) if seconds else 0.0
