"""Plots of an accuracy comparison: per-activation accuracy with its interval, and the training curves."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..train import Comparison

__all__ = ["plot_accuracy"]


def _median_curve(curves: list[dict[str, list[float]]], key: str) -> tuple[np.ndarray, np.ndarray]:
    # Runs may stop early (diverged / pruned): take the median over the runs that reached each step.
    steps = sorted({s for c in curves for s in c["step"]})
    by_step: dict[float, list[float]] = {s: [] for s in steps}
    for c in curves:
        for s, v in zip(c["step"], c[key], strict=False):
            by_step[s].append(v)
    return np.array(steps), np.array([np.median(by_step[s]) for s in steps])


def plot_accuracy(comp: "Comparison", path: str | Path | None = None, title: str | None = None):
    """Three panels: final accuracy (mean, Student-t CI, one dot per seed), validation accuracy during training
    and training loss (medians over seeds). Saves to ``path`` if given; returns the matplotlib figure.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = list(comp.evaluations)
    fig, (ax_acc, ax_val, ax_loss) = plt.subplots(1, 3, figsize=(15, 4.5))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, name in enumerate(names):
        ev = comp.evaluations[name]
        color = colors[i % len(colors)]
        ax_acc.errorbar([i], [ev.mean], yerr=[[ev.mean - ev.ci_low], [ev.ci_high - ev.mean]], fmt="o",
                        color=color, capsize=5, markersize=7)
        jitter = np.linspace(-0.15, 0.15, len(ev.values)) if len(ev.values) > 1 else np.zeros(1)
        ax_acc.scatter(i + jitter, ev.values, color=color, alpha=0.35, s=14)
        vs, va = _median_curve([r.val_curve for r in ev.results], "acc")
        ax_val.plot(vs, va, marker=".", color=color, label=name)
        ls, lv = _median_curve([r.curve for r in ev.results], "loss")
        ax_loss.plot(ls, lv, color=color, label=name)
    ax_acc.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax_acc.set_ylabel(f"{comp.metric} (mean, 95% t interval; dots: seeds)")
    ax_acc.axhline(comp.evaluations[comp.baseline].mean, color="grey", lw=0.8, ls="--")
    ax_val.set_xlabel("step")
    ax_val.set_ylabel("validation accuracy (median over seeds)")
    ax_val.legend(fontsize=8)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss (median over seeds)")
    ax_loss.set_yscale("log")
    for ax in (ax_acc, ax_val, ax_loss):
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"{comp.task}: {len(comp.seeds)} seeds, baseline {comp.baseline}")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
