"""Human-readable reports behind ``actlab expr`` and ``actlab space``."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from ._expr import Expr, parse

__all__ = ["describe", "describe_dict", "SpaceSummary", "space_summary"]


def describe(expr: Expr | str, measure: bool = True) -> str:
    """Canonical form, LaTeX, operators, properties and cost of ``expr``, as text (f, f′, f″ plots: actlab.report)."""
    from ._analyse import analyse

    e = parse(expr) if isinstance(expr, str) else expr
    a = analyse(e, measure=measure)
    ops = ", ".join(e.operators()) or "(none: the identity)"
    return "\n".join([str(a), f"{'LaTeX':<26}  {e.latex()}", f"{'operators':<26}  {ops}; {e.betas} trainable β"])


def describe_dict(expr: Expr | str, measure: bool = True) -> dict[str, Any]:
    """What :func:`describe` prints, as JSON-ready data: every analysis field plus LaTeX, operators and β count."""
    from ._analyse import analyse

    e = parse(expr) if isinstance(expr, str) else expr
    return {**analyse(e, measure=measure).as_dict(), "latex": e.latex(), "operators": list(e.operators()),
            "betas": e.betas}


@dataclass
class SpaceSummary:
    """Counts for a space: raw size; for one unit, distinct functions and prefilter survivors (exhaustive); for
    more units, the same measured on a uniform random sample (``sampled`` candidates)."""

    units: int
    raw: int
    examined: int
    distinct: int
    survivors: int
    rejected: dict[str, int] = field(default_factory=dict)
    sampled: bool = False
    seconds: float = 0.0

    def __str__(self) -> str:
        what = f"a random sample of {self.examined}" if self.sampled else "all candidates"
        lines = [f"{self.units}-unit space (Ramachandran et al. 2017 operators): raw size {self.raw:,}",
                 f"examined: {what}",
                 f"distinct functions: {self.distinct:,}  (numeric fingerprint; simplest member kept)",
                 f"prefilter survivors among them: {self.survivors:,}"]
        if not self.sampled:
            lines.append(f"removed by dedupe + prefilter: {self.raw - self.survivors:,} "
                         f"({1 - self.survivors / self.raw:.1%} of the raw space)")
        lines.append("rejected by reason: " + ", ".join(f"{k} {v}" for k, v in self.rejected.items()))
        lines.append(f"({self.seconds:.1f} s)")
        return "\n".join(lines)


def space_summary(units: int = 1, sample: int = 2000, seed: int = 0) -> SpaceSummary:
    """Raw size, distinct functions and prefilter counts of ``space(units)`` (sampled when it is too big)."""
    from ._numeric import dedupe, prefilter
    from ._space import space

    t0 = time.perf_counter()
    s = space(units)
    exhaustive = s.size() <= 20_000
    if exhaustive:
        exprs = list(s.enumerate())
    else:
        rng = random.Random(seed)
        exprs = [s.sample(rng) for _ in range(sample)]
    groups = dedupe(exprs)
    res = prefilter(g.representative for g in groups)
    return SpaceSummary(units, s.size(), len(exprs), len(groups), len(res.survivors), res.counts, not exhaustive,
                        time.perf_counter() - t0)
