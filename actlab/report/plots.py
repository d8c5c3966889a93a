"""Plots of activation functions and their derivatives: f, f′ and f″ side by side.

Every plot is a :class:`matplotlib.figure.Figure` built without pyplot: nothing changes the user's backend or
keeps figures alive in a global registry, a notebook shows the returned figure, and ``out=`` also saves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Union

import torch

from .._extras import require

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["derivatives", "plot_functions", "plot_activations", "new_figure", "save"]

Fn = Callable[[torch.Tensor], torch.Tensor]
# a zoo name ("isrlu", "isrlu:alpha=3"), an expression ("x * sigmoid(beta*x)"), an Expr, a module or a function
Functions = Union[str, Any, Iterable[Any], Mapping[str, Any]]


def new_figure(**kwargs: Any) -> "Figure":
    """A figure detached from pyplot (no backend switch, nothing to close), constrained layout."""
    require("matplotlib", "plotting")
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kwargs)


def save(fig: "Figure", out: str | Path | None, dpi: int = 120) -> "Figure":
    """Write ``fig`` to ``out`` (format from the suffix; parent folders created) when ``out`` is given."""
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=dpi)
    return fig


def derivatives(fn: Fn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """f, f′ and f″ of an elementwise ``fn`` at the points ``x``, by autograd (float64)."""
    x = x.detach().to(torch.float64).requires_grad_(True)
    with torch.enable_grad():
        y = fn(x)
        (d1,) = torch.autograd.grad(y.sum(), x, create_graph=True)
        d2 = torch.autograd.grad(d1.sum(), x)[0] if d1.requires_grad else torch.zeros_like(x)
    # autograd may return a ZeroTensor for f″ of a polynomial; materialise it so that .numpy() works.
    return y.detach(), d1.detach(), d2.detach() + 0


def _gate_curve(module: Fn) -> Fn:
    # A gated activation f(g)·a is drawn as its gate's curve, a = 1: the function that the search and the table
    # compare (the value half is linear).
    def curve(x: torch.Tensor) -> torch.Tensor:
        pair = torch.stack([torch.ones_like(x), x], dim=-1)
        return module(pair if getattr(module, "gate_last", True) else pair.flip(-1)).squeeze(-1)

    return curve


def _labelled(fns: Functions) -> dict[str, Fn]:
    """``{label: callable}`` from a mapping, one item or a list of names, expressions, Exprs and callables."""
    from ..models import act_label, resolve_act

    if isinstance(fns, Mapping):
        items = list(fns.items())
    else:
        seq = [fns] if isinstance(fns, str) or callable(fns) else list(fns)
        items = [(act_label(f), f) for f in seq]
    out: dict[str, Fn] = {}
    for label, f in items:
        # an Expr, a module or a function is evaluated as it is; names and expression strings go through the one
        # resolver of the models layer (zoo names first, then the expression language)
        fn = resolve_act(f)() if isinstance(f, (str, type)) else f
        out[label] = _gate_curve(fn) if getattr(fn, "gated", False) else fn
    if not out:
        raise ValueError("nothing to plot: pass at least one activation name, expression or function")
    return out


def plot_functions(fns: Functions, out: str | Path | None = None, lo: float = -5.0, hi: float = 5.0,
                   points: int = 1001) -> "Figure":
    """f, f′ and f″ of each function on [lo, hi], one panel each, with a legend; returns the Figure.

    ``fns`` is a zoo name or expression, a list of them (Exprs, modules and functions too), or ``{label: fn}``.
    ``out`` also writes the figure (PNG, SVG, PDF by suffix).
    """
    labelled = _labelled(fns)
    if not hi > lo:
        raise ValueError(f"the x range must have lo < hi, got [{lo}, {hi}]")
    x = torch.linspace(lo, hi, points, dtype=torch.float64)
    fig = new_figure(figsize=(13, 4))
    axes = fig.subplots(1, 3)
    curves = {label: derivatives(fn, x) for label, fn in labelled.items()}
    for label, values in curves.items():
        for ax, v in zip(axes, values, strict=True):
            ax.plot(x.numpy(), v.numpy(force=True), label=label, linewidth=1.6)
    for ax, title in zip(axes, ("f(x)", "f′(x)", "f″(x)"), strict=True):
        ax.set_title(title)
        ax.axhline(0, color="0.7", linewidth=0.6)
        ax.axvline(0, color="0.7", linewidth=0.6)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=9)
    # f″ of kinked functions has spikes; clip the view to the bulk of the curves.
    axes[2].set_ylim(*_robust_limits([c[2] for c in curves.values()]))
    return save(fig, out)


def _robust_limits(curves: list[torch.Tensor]) -> tuple[float, float]:
    v = torch.cat([c[torch.isfinite(c)] for c in curves])
    if v.numel() == 0:
        return -1.0, 1.0
    lo, hi = float(torch.quantile(v, 0.01)), float(torch.quantile(v, 0.99))
    pad = 0.15 * max(hi - lo, 1e-3)
    return lo - pad, hi + pad


def plot_activations(names: list[str], out: str | Path | None = None, **kwargs: Any) -> "Figure":
    """Plot zoo activations by name (``actlab plot isrlu elu swish --out fig.png``); see :func:`plot_functions`."""
    return plot_functions(list(names), out, **kwargs)
