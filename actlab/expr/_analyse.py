"""Properties of an expression, measured numerically (float64, every β = 1.0)."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch

from ._expr import Expr, parse

__all__ = ["Analysis", "analyse", "kernel_ns_per_element", "COST_ELEMENTS", "COST_REPEATS"]

Smoothness = Literal["discontinuous", "C0", "C1", "C2", "Cinf"]

# Fine grid for kinks and monotonicity, offset so that no sample sits exactly on 0 or an integer (a kink exactly on
# a sample splits its jump over two differences and hides it).
_FINE = torch.linspace(-6.0, 6.0, 12001, dtype=torch.float64) + 3.14159e-5
_FAR = torch.cat([-torch.logspace(6, 0, 61, dtype=torch.float64), torch.linspace(-1, 1, 41, dtype=torch.float64),
                  torch.logspace(0, 6, 61, dtype=torch.float64)])


@dataclass
class Analysis:
    """What :func:`analyse` found. Bounds and monotonicity are numeric checks over |x| ≤ 1e6 and [−6, 6]."""

    expr: str
    finite: bool
    monotonic: bool
    bounded_below: bool
    bounded_above: bool
    smoothness: Smoothness
    bump_below_zero: bool
    mean: float
    var: float
    cost: float
    ns_per_element: float | None = None
    canonical: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        rows = [("expression", self.expr)]
        if self.canonical is not None:
            rows.append(("canonical", self.canonical))
        rows += [("finite on [-6, 6]", str(self.finite)), ("monotonic", str(self.monotonic)),
                 ("bounded below / above", f"{self.bounded_below} / {self.bounded_above}"),
                 ("smoothness", self.smoothness), ("bump below zero", str(self.bump_below_zero)),
                 ("E f(x), Var f(x), x~N(0,1)", f"{self.mean:.4f}, {self.var:.4f}"),
                 ("relative op cost", f"{self.cost:g}")]
        if self.ns_per_element is not None:
            rows.append(("fused fwd+bwd ns/element", f"{self.ns_per_element:.2f}"))
        w = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


def _derivs(expr: Expr, x: torch.Tensor, order: int) -> list[torch.Tensor]:
    """f, f', …, f^(order) on ``x`` by autograd through the composite form (each y_i depends on x_i only)."""
    xg = x.clone().requires_grad_(True)
    betas = [torch.tensor(1.0, dtype=x.dtype) for _ in range(expr.betas)]
    out = [expr.torch_fn()(xg, *betas)]
    for _ in range(order):
        y = out[-1]
        if not y.requires_grad:
            out.append(torch.zeros_like(x))
            continue
        (g,) = torch.autograd.grad(y.sum(), xg, create_graph=True, allow_unused=True)
        out.append(torch.zeros_like(x) if g is None else g)
    return [t.detach() for t in out]


def _jumps(g: torch.Tensor) -> bool:
    """Whether ``g`` sampled on the fine grid has a jump: one difference far larger than both neighbours."""
    d = g.diff().abs()
    if not torch.isfinite(d).all():
        return True
    nb = torch.maximum(torch.nn.functional.pad(d[:-1], (1, 0)), torch.nn.functional.pad(d[1:], (0, 1)))
    scale = max(1.0, float(g.abs().max()))
    return bool(((d > 20 * nb + 1e-9 * scale) & (d > 1e-6 * scale)).any())


def _smoothness(expr: Expr, f: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor) -> Smoothness:
    if _jumps(f):
        return "discontinuous"
    if _jumps(f1):
        return "C0"
    if _jumps(f2):
        return "C1"
    kinked = any(n.op is not None and not n.op.smooth for n in expr.nodes())
    return "C2" if kinked else "Cinf"


#: The cost protocol (named in the docs as "kernel cost, min-of-repeats"): one thread, 256K float32 elements
#: (1 MB, cache-resident), the minimum over up to ``repeats`` back-to-back forward+backward calls.
COST_ELEMENTS = 1 << 18
COST_REPEATS = 40
COST_SECONDS = 0.3


def kernel_ns_per_element(expr: Any, n: int = COST_ELEMENTS, repeats: int = COST_REPEATS,
                          max_seconds: float = COST_SECONDS) -> float:
    """Forward+backward time of a fused kernel in ns per element: the minimum over repeats, on one thread.

    ``expr`` is an :class:`Expr`, its text, or a ``FusedKernel`` (the zoo's hand-written kernels, timed by the same
    protocol). Why the minimum on one thread: a search measures this while other workers train, and preemption
    and a second thread waiting for a busy core only ever add time, so the median of a few 1M-element calls swung
    5-30x between runs; the fastest of many short calls is what the kernel costs when it gets a core
    (``benchmarks/cost_spread.py`` measures the spread with one core busy). Stops after ``max_seconds`` of timing
    once at least 5 repeats ran.
    """
    import numba
    import numpy as np

    if hasattr(expr, "forward") and hasattr(expr, "param_names"):
        k, p, static = expr, (1.0,) * len(expr.param_names), tuple(getattr(expr, "static", ()))
    else:
        e = parse(expr) if isinstance(expr, str) else expr
        k, p, static = e.kernel(), (1.0,) * e.betas, ()

    x = torch.randn(n, generator=torch.Generator().manual_seed(0)).numpy()
    out, gy, gx = np.empty_like(x), np.ones_like(x), np.empty_like(x)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        k.forward(x, out, *p, *static)  # compile outside the timing
        k.backward(x, gy, gx, *p, *static)
        best, start = math.inf, time.perf_counter()
        for i in range(repeats):
            t0 = time.perf_counter()
            k.forward(x, out, *p, *static)
            k.backward(x, gy, gx, *p, *static)
            best = min(best, time.perf_counter() - t0)
            if i >= 4 and time.perf_counter() - start > max_seconds:
                break
    finally:
        numba.set_num_threads(before)
    return best / n * 1e9


def analyse(expr: Expr | str, measure: bool = True, canonical: bool = True) -> Analysis:
    """Numeric properties of ``expr`` at every β = 1.0.

    Args:
        expr: an :class:`Expr` or its text.
        measure: also time the generated fused kernel (compiles it once). Default: ``True``.
        canonical: include the sympy canonical form (may take a second on large trees). Default: ``True``.

    ``finite``: no NaN/inf in f on [−6, 6] (√ of a negative or overflow otherwise); the other properties are
    unreliable when it is false. ``monotonic``: f' ≥ 0 everywhere or ≤ 0 everywhere on [−6, 6] (to 1e-9).
    ``bounded_*``: the extreme over
    |x| ≤ 1e6 stays within 1% (+1e-6) of the extreme over [−6, 6]. ``smoothness``: the first derivative of order ≤ 2
    that jumps on [−6, 6] decides C0/C1; none jumping gives C2 if a kinked operator (max, abs…) is present, else
    C∞; a pole (a division whose denominator changes sign) on [−6, 6] makes it discontinuous, unbounded and
    non-monotonic. ``bump_below_zero``: f' changes sign on [−6, 0), like Swish's dip. ``mean``/``var``: E f(X) and
    Var f(X) for
    X ~ N(0, 1) by quadrature on [−10, 10].
    """
    e = parse(expr) if isinstance(expr, str) else expr
    f, f1, f2 = _derivs(e, _FINE, 2)
    from ._numeric import scan

    poles = scan(e, _FINE)[2]
    tol = 1e-9 * max(1.0, float(f1.abs().max()))
    monotonic = bool((f1 >= -tol).all() or (f1 <= tol).all())
    with torch.no_grad():
        far = e.torch_fn()(_FAR, *[torch.tensor(1.0, dtype=torch.float64)] * e.betas)
        near_lo, near_hi = float(f.min()), float(f.max())
        span = max(1.0, near_hi - near_lo)
        far_lo = float(far.min()) if not torch.isnan(far).any() else float("-inf")
        far_hi = float(far.max()) if not torch.isnan(far).any() else float("inf")
    bounded_below = math.isfinite(far_lo) and far_lo >= near_lo - 0.01 * span - 1e-6
    bounded_above = math.isfinite(far_hi) and far_hi <= near_hi + 0.01 * span + 1e-6
    neg = f1[_FINE < 0]
    bump = bool((neg < -tol).any() and (neg > tol).any())
    xs = torch.linspace(-10.0, 10.0, 20001, dtype=torch.float64)
    w = torch.exp(-0.5 * xs * xs) / (2 * torch.pi) ** 0.5
    with torch.no_grad():
        fy = e.torch_fn()(xs, *[torch.tensor(1.0, dtype=torch.float64)] * e.betas)
    mean = float(torch.trapezoid(fy * w, xs))
    var = float(torch.trapezoid((fy - mean) ** 2 * w, xs))
    if poles:  # a sign-changing denominator between samples: the grid steps over an infinite jump
        monotonic = bounded_below = bounded_above = False
    return Analysis(
        expr=str(e), finite=bool(torch.isfinite(f).all()), monotonic=monotonic, bounded_below=bounded_below,
        bounded_above=bounded_above, smoothness="discontinuous" if poles else _smoothness(e, f, f1, f2),
        bump_below_zero=bump, mean=mean, var=var, cost=e.cost(),
        ns_per_element=kernel_ns_per_element(e) if measure else None,
        canonical=e.canonical() if canonical else None)
