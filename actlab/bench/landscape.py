"""A table's landscape: the space ranked under one validation metric (quantiles, the best functions, how many beat
each baseline) and its histogram. Losses rank lowest first; a table that never measured the metric says so."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .table import Table

__all__ = ["Landscape", "landscape", "plot_landscape", "val_metric"]


@dataclass
class Landscape:
    """The space as a table sees it under one validation metric: its quantiles, the top functions, and how many
    functions beat each baseline."""

    functions: int
    quantiles: dict[str, float]                 # of the mean: "min", "p5", "p25", "median", "p75", "p95", "max"
    top: list[tuple[str, float, float]]         # (expression, mean of the metric, mean of its test twin), best first
    beat: dict[str, tuple[float, int]]          # baseline -> (its mean, functions better than it)
    metric: str = "val_acc"


def landscape(tab: Table, top: int = 20, metric: str = "val_acc") -> Landscape:
    """Summarise ``tab``, ranked by the mean of ``metric`` (a validation metric; losses rank lowest first)."""
    import numpy as np

    from actlab.train import get_metric

    m = val_metric(metric)
    tab.require(m.name)
    scored = [(f, f.score(m.name)) for f in tab.functions().values()]
    scored.sort(key=lambda fv: -m.sign * fv[1])
    v = np.array([s for _, s in scored])
    # failed losses are infinite: quantiles then take the nearest value instead of interpolating (inf − inf)
    pct = [0, 5, 25, 50, 75, 95, 100]
    q = np.percentile(v, pct) if np.isfinite(v).all() else np.percentile(v, pct, method="nearest")
    qs = dict(zip(("min", "p5", "p25", "median", "p75", "p95", "max"), (float(x) for x in q), strict=True))
    beat = {name: (bv, int((m.sign * (v - bv) > 0).sum()))
            for name, bv in ((name, b.score(m.name)) for name, b in tab.functions("baseline").items())}
    twin = get_metric(m.test_twin.name)
    return Landscape(len(scored), qs, [(f.expression, s, f.score(twin.name)) for f, s in scored[:top]], beat, m.name)


def val_metric(metric: str) -> Any:
    """A validation metric of :data:`actlab.train.METRICS` (one-line errors for others)."""
    from actlab.train import get_metric

    m = get_metric(metric)
    if not m.name.startswith("val_"):
        raise ValueError(f"a table ranks functions by a validation metric, got {metric!r}; use "
                         f"val_{m.name.split('_', 1)[1]}")
    return m


def plot_landscape(tab: Table, path: str | Path, metric: str = "val_acc") -> Path:
    """Histogram of the functions' mean ``metric`` (a validation metric), baselines marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = val_metric(metric)
    tab.require(m.name)
    fig, ax = plt.subplots(figsize=(7, 4))
    vals = [f.score(m.name) for f in tab.functions().values()]
    ax.hist([v for v in vals if math.isfinite(v)], bins=50, color="#4477aa")
    for name, b in tab.functions("baseline").items():
        bv = b.score(m.name)
        ax.axvline(bv, ls="--", lw=0.8, c="#cc6677")
        ax.text(bv, ax.get_ylim()[1] * 0.9, name, rotation=90, fontsize=7, ha="right")
    ax.set(xlabel=f"mean {m.description} over seeds ({'higher' if m.sign > 0 else 'lower'} is better)",
           ylabel="functions", yscale="log",
           title=f"{Path(tab.path).name}: {len(tab.functions())} functions")
    fig.tight_layout()
    p = Path(path)
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p
