"""Plots of activation functions and their derivatives: f, f′ and f″ side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

import torch

__all__ = ["derivatives", "plot_functions", "plot_activations"]

Fn = Callable[[torch.Tensor], torch.Tensor]


def derivatives(fn: Fn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """f, f′ and f″ of an elementwise ``fn`` at the points ``x``, by autograd (float64)."""
    x = x.detach().to(torch.float64).requires_grad_(True)
    with torch.enable_grad():
        y = fn(x)
        (d1,) = torch.autograd.grad(y.sum(), x, create_graph=True)
        d2 = torch.autograd.grad(d1.sum(), x)[0] if d1.requires_grad else torch.zeros_like(x)
    # autograd may return a ZeroTensor for f″ of a polynomial; materialise it so that .numpy() works.
    return y.detach(), d1.detach(), d2.detach() + 0


def plot_functions(fns: Mapping[str, Fn], out: str | Path, lo: float = -5.0, hi: float = 5.0,
                   points: int = 1001) -> Path:
    """Draw f, f′ and f″ of each labelled function on [lo, hi], one panel each, with a legend; write ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = torch.linspace(lo, hi, points, dtype=torch.float64)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
    for label, fn in fns.items():
        for ax, values in zip(axes, derivatives(fn, x)):
            ax.plot(x.numpy(), values.numpy(force=True), label=label, linewidth=1.6)
    for ax, title in zip(axes, ("f(x)", "f′(x)", "f″(x)")):
        ax.set_title(title)
        ax.axhline(0, color="0.7", linewidth=0.6)
        ax.axvline(0, color="0.7", linewidth=0.6)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=9)
    # f″ of kinked functions has spikes; clip the view to the bulk of the curves.
    axes[2].set_ylim(*_robust_limits([derivatives(fn, x)[2] for fn in fns.values()]))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def _robust_limits(curves: list[torch.Tensor]) -> tuple[float, float]:
    v = torch.cat([c[torch.isfinite(c)] for c in curves])
    if v.numel() == 0:
        return -1.0, 1.0
    lo, hi = float(torch.quantile(v, 0.01)), float(torch.quantile(v, 0.99))
    pad = 0.15 * max(hi - lo, 1e-3)
    return lo - pad, hi + pad


def plot_activations(names: list[str], out: str | Path, **kwargs) -> Path:
    """Plot zoo activations by name (``actlab plot isrlu elu swish --out fig.png``)."""
    import actlab

    return plot_functions({n: actlab.get(n) for n in names}, out, **kwargs)
