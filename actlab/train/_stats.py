"""The one statistics module: intervals over seeds and corrected paired tests, used by the search leaderboard and
``actlab bench accuracy`` alike.

Design, for the 3-10 seeds that are the normal case here:

- **Test.** A two-sided paired t-test on the per-seed differences (candidate − baseline, the same seed giving both
  runs the same initialisation and data order: common random numbers). Unlike the Wilcoxon signed-rank test, whose
  smallest p with 5 pairs is 0.0625, it can reach any p with 2 or more pairs. A tied pair (difference exactly 0)
  stays in the test as a zero difference, so "5 pairs" always means 5.
- **Correction.** Holm–Bonferroni over every pair of one family (all found × baseline pairs of one task): it
  controls the family-wise error rate at α and is uniformly more powerful than Bonferroni.
- **Effect size.** The mean difference Δ with its Student-t confidence interval (the interval the t-test inverts).
- **A win.** Adjusted p < α and Δ > 0.

A percentile bootstrap is NOT used for these: with 5 pairs it excludes 0 whenever all 5 differences share a sign,
and its nominal 95 % interval covers a true Δ of 0 far less often than 95 % (``tests/train/test_stats.py`` measures
both). It is used where there are many independent repeats and the statistic is a median, which has no simple
interval: the strategy replays' evaluations-to-target over 60 or more searches (:func:`bootstrap_median`,
:func:`bootstrap_ratio`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["ALPHA", "CONFIDENCE", "TEST", "CORRECTION", "PairedTest", "mean_ci", "paired_test", "holm",
           "paired_tests", "min_detectable_effect", "MIN_SEEDS", "format_p", "few_seeds_warning",
           "bootstrap_median", "bootstrap_ratio", "BOOTSTRAP_SAMPLES"]

ALPHA = 0.05
CONFIDENCE = 0.95
TEST = "paired t-test (two-sided; tied pairs kept as zero differences)"
CORRECTION = "Holm-Bonferroni"
#: Below this many seeds a t interval is very wide (t₀.₉₇₅ with 1 degree of freedom is 12.7) and a test has almost no
#: power: the tables say so instead of printing figures that look precise.
MIN_SEEDS = 3
_P_FLOOR = 1e-4  # format_p prints "<1e-4" below it


#: Bootstrap resamples: the percentile interval's ends move by well under 1 % of the median between seeds at 10⁴.
BOOTSTRAP_SAMPLES = 10_000


def _medians(v: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    return np.median(v[rng.integers(0, v.size, size=(n, v.size))], axis=1)


def bootstrap_median(values: Sequence[float], confidence: float = CONFIDENCE, samples: int = BOOTSTRAP_SAMPLES,
                     seed: int = 0) -> tuple[float, float, float]:
    """``(median, low, high)``: the median of independent repeats and its percentile-bootstrap interval (fixed
    ``seed``, so a table generated from a record is reproducible)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    b = _medians(v, np.random.default_rng(seed), samples)
    lo, hi = np.percentile(b, [50 * (1 - confidence), 50 * (1 + confidence)])
    return float(np.median(v)), float(lo), float(hi)


def bootstrap_ratio(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE,
                    samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> tuple[float, float, float]:
    """``(median(a) / median(b), low, high)``: the ratio of two medians of independent repeats, with a percentile
    interval from resampling each side on its own."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size == 0 or y.size == 0 or np.median(y) == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    r = _medians(x, rng, samples) / np.maximum(_medians(y, rng, samples), 1e-12)
    lo, hi = np.percentile(r, [50 * (1 - confidence), 50 * (1 + confidence)])
    return float(np.median(x) / np.median(y)), float(lo), float(hi)


def format_p(p: float | None) -> str:
    """A p-value for a table, at most 6 characters: two significant digits (``0.043``, ``3.2e-4`` below 0.001),
    ``<1e-4`` below 10⁻⁴ (a t-test's tail is not that exact with a few seeds), and ``—`` where there is none."""
    if p is None or not math.isfinite(p):
        return "—"
    if p < _P_FLOOR:
        return f"<{_P_FLOOR:.0e}".replace("e-0", "e-")
    return f"{p:.1e}".replace("e-0", "e-") if p < 1e-3 else f"{p:.2g}"


def few_seeds_warning(n: int) -> str | None:
    """The warning every table prints when its intervals and tests rest on fewer than :data:`MIN_SEEDS` seeds."""
    if n >= MIN_SEEDS:
        return None
    return (f"only {n} seed{'s' if n != 1 else ''} per function: intervals are very wide and the tests have almost "
            f"no power; use at least {MIN_SEEDS}")


@dataclass
class PairedTest:
    """One candidate against one baseline over the same seeds.

    ``delta`` is the mean of candidate − baseline, ``ci_low``/``ci_high`` its Student-t interval, ``p`` the paired
    t-test and ``p_adjusted`` the Holm-adjusted p within the family it was tested in (equal to ``p`` alone).
    ``sign`` is the metric's direction (+1: higher is better, −1: a loss); wins and losses count *better* and
    *worse* pairs in that direction, and :meth:`beats` asks for a difference in the better direction.
    """

    act: str
    baseline: str
    n: int
    delta: float
    ci_low: float
    ci_high: float
    p: float
    p_adjusted: float
    sd: float          # standard deviation of the differences (what the smallest detectable effect scales with)
    wins: int
    ties: int
    losses: int
    sign: int = 1

    def beats(self, alpha: float = ALPHA) -> bool:
        """A win: adjusted p below ``alpha`` and a mean difference in the better direction."""
        return math.isfinite(self.p_adjusted) and self.p_adjusted < alpha and self.sign * self.delta > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mean_ci(values: Sequence[float] | np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval (nan half-width with fewer than 2 values)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan
    m = float(v.mean())
    if v.size < 2:
        return m, math.nan
    from scipy.stats import t

    return m, float(t.ppf(0.5 + confidence / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))


def paired_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, act: str = "",
                baseline: str = "", confidence: float = CONFIDENCE, sign: int = 1, span: float = math.inf
                ) -> PairedTest:
    """Paired t-test of ``a`` against ``b`` (same seed order); pairs with a non-finite value are dropped.
    ``sign``: +1 where higher values are better, −1 where lower are (losses); it decides wins and :meth:`beats`.
    ``span``: the largest possible difference (1 for accuracies; ``Metric.span``): the t interval, which knows no
    bounds, is clipped to ± it.

    All-equal differences: p = 1 if they are all 0, else p = 0 (a constant non-zero difference has no noise).
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired test needs the same seeds on both sides, got {x.size} and {y.size} values")
    d = x - y
    d = d[np.isfinite(d)]
    n = int(d.size)
    if sign not in (1, -1):
        raise ValueError(f"sign must be +1 (higher is better) or -1 (lower is better), got {sign!r}")
    wins, ties, losses = int((sign * d > 0).sum()), int((d == 0).sum()), int((sign * d < 0).sum())
    if n == 0:
        return PairedTest(act, baseline, 0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, 0, 0, 0,
                          sign)
    delta = float(d.mean())
    if n < 2:
        return PairedTest(act, baseline, n, delta, math.nan, math.nan, math.nan, math.nan, math.nan,
                          wins, ties, losses, sign)
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        p = 1.0 if delta == 0.0 else 0.0
        return PairedTest(act, baseline, n, delta, delta, delta, p, p, 0.0, wins, ties, losses, sign)
    from scipy.stats import t

    se = sd / math.sqrt(n)
    half = float(t.ppf(0.5 + confidence / 2, n - 1)) * se
    p = float(2 * t.sf(abs(delta) / se, n - 1))
    lo, hi = max(delta - half, -span), min(delta + half, span)
    return PairedTest(act, baseline, n, delta, lo, hi, p, p, sd, wins, ties, losses, sign)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1); nan stays nan and is not counted."""
    idx = [i for i, p in enumerate(pvalues) if math.isfinite(p)]
    m = len(idx)
    out = [math.nan] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def _pair(a: Sequence[float] | Mapping[int, float], b: Sequence[float] | Mapping[int, float]
          ) -> tuple[list[float], list[float]]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):  # seed -> value: pair on the seeds both have
        common = sorted(set(a) & set(b))
        return [a[s] for s in common], [b[s] for s in common]
    return list(a), list(b)  # type: ignore[arg-type]


def paired_tests(values: Mapping[str, Sequence[float] | Mapping[int, float]], candidates: Sequence[str],
                 baselines: Sequence[str], confidence: float = CONFIDENCE, sign: int = 1, span: float = math.inf
                 ) -> dict[tuple[str, str], PairedTest]:
    """Every (candidate, baseline) pair as one Holm-corrected family (``sign`` and ``span``: the metric's direction
    and range, as in :func:`paired_test`).

    ``values[name]`` is either per seed in one common order, or a ``{seed: value}`` mapping (then each pair uses
    the seeds both sides have, e.g. when a run failed).
    """
    tests = {(c, b): paired_test(*_pair(values[c], values[b]), c, b, confidence, sign, span)
             for c in candidates for b in baselines if c != b}
    adj = holm([t.p for t in tests.values()])
    for t, pa in zip(tests.values(), adj, strict=False):
        t.p_adjusted = pa
    return tests


def min_detectable_effect(n: int, sd: float, family: int = 1, alpha: float = ALPHA, power: float = 0.8) -> float:
    """The smallest true Δ the paired t-test detects with probability ``power`` at ``alpha`` (two-sided), when it
    must pass the strictest Holm threshold α/``family``: (t₁₋α/2m + t_power) · sd/√n with n − 1 degrees of freedom.
    nan with fewer than 2 pairs."""
    if n < 2 or not math.isfinite(sd):
        return math.nan
    from scipy.stats import t

    a = alpha / max(1, family)
    return float((t.ppf(1 - a / 2, n - 1) + t.ppf(power, n - 1)) * sd / math.sqrt(n))
