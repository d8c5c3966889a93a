"""Statistics over seeds: bootstrap intervals and paired tests. Small n is the normal case here, so every function
says what it can and cannot conclude with 3-10 seeds."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = ["bootstrap_ci", "paired_bootstrap_ci", "wilcoxon_p", "wilcoxon_min_p", "N_BOOT", "CONFIDENCE"]

N_BOOT = 10_000
CONFIDENCE = 0.95
_BOOT_SEED = 0  # fixed, so a table is reproducible to the last digit


def bootstrap_ci(values: np.ndarray, stat: Callable[..., np.ndarray] = np.median, confidence: float = CONFIDENCE,
                 n_boot: int = N_BOOT) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat`` (median by default) over seeds.

    With n seeds, resampling with replacement; the interval is the (1±confidence)/2 quantiles of the resampled
    statistic. For the median and n = 5 it can only land on observed values, so read it as a robust spread rather
    than exact coverage. One value gives a zero-width interval.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan
    if v.size == 1:
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(_BOOT_SEED)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    s = stat(v[idx], axis=1)
    a = (1 - confidence) / 2
    return float(np.quantile(s, a)), float(np.quantile(s, 1 - a))


def paired_bootstrap_ci(diffs: np.ndarray, confidence: float = CONFIDENCE,
                        n_boot: int = N_BOOT) -> tuple[float, float]:
    """Bootstrap interval of the mean paired difference (candidate − baseline, resampling seeds as pairs).

    Resampling pairs keeps the common-random-numbers correlation, so the interval is much narrower than comparing
    two independent intervals. An interval excluding 0 is evidence of a difference (not exact at n ≈ 5).
    """
    return bootstrap_ci(diffs, np.mean, confidence, n_boot)


def wilcoxon_min_p(n_nonzero: int) -> float:
    """The smallest two-sided p-value the exact Wilcoxon signed-rank test can give with n non-zero pairs: 2/2ⁿ.

    With 5 seeds it is 0.0625, so p < 0.05 is impossible however large the effect; use ≥ 6 seeds for that.
    """
    return min(1.0, 2.0 / 2 ** n_nonzero) if n_nonzero > 0 else 1.0


def wilcoxon_p(diffs: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (scipy; zero differences are dropped).

    All-zero differences give p = 1. Exact null distribution for small n without ties, normal approximation
    otherwise (scipy's ``method="auto"``).
    """
    from scipy.stats import wilcoxon

    d = np.asarray(diffs, dtype=np.float64)
    d = d[np.isfinite(d)]
    if d.size == 0 or np.all(d == 0):
        return 1.0
    return float(wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
