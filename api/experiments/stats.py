"""Statistics of an experiment report, as pure functions: Wilson intervals, the two-proportion z-test,
the minimum detectable effect, percentiles. (api may not import eval, so these live here.)"""
from __future__ import annotations

import math
from statistics import NormalDist

_N = NormalDist()


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion k/n ((0, 1) when n is 0)."""
    if n <= 0:
        return 0.0, 1.0
    z = _N.inv_cdf(0.5 + confidence / 2)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_z(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """(z, two-sided p) of the pooled two-proportion z-test of k1/n1 against k2/n2; (0, 1) when undefined."""
    if n1 <= 0 or n2 <= 0:
        return 0.0, 1.0
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (k1 / n1 - k2 / n2) / se
    return z, 2 * (1 - _N.cdf(abs(z)))


def mde(p: float, n1: int, n2: int, alpha: float = 0.05, power: float = 0.8) -> float | None:
    """The smallest absolute difference from base rate `p` that a two-sided test at `alpha` detects with
    `power` at these sample sizes (None without data)."""
    if n1 <= 0 or n2 <= 0:
        return None
    p = min(max(p, 1e-9), 1 - 1e-9)
    z = _N.inv_cdf(1 - alpha / 2) + _N.inv_cdf(power)
    return z * math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
