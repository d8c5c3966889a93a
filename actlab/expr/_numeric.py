"""Cheap numeric screening of candidates: fingerprints, deduplication and the prefilter."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import torch

from ._expr import Expr, parse

__all__ = ["fingerprint", "same_as", "probe_features", "dedupe", "Group", "prefilter", "PrefilterResult", "REASONS",
           "PROBE_BETAS"]

# A fixed, asymmetric grid (no exact symmetry or integers, which would hide e.g. even/odd differences) and two β
# probes: β is set to the same value everywhere, so equal functions written with their βs in a different order
# still match.
_GRID = torch.linspace(-6.0, 6.0, 97, dtype=torch.float64) + 1 / math.sqrt(1013)
PROBE_BETAS = (1.0, 1.7)
_BETA_EXTRA = 0.6  # a single β moved by this much shows whether that β changes the function at all


def _values(expr: Expr, x: torch.Tensor, betas: tuple[float, ...]) -> np.ndarray:
    with torch.no_grad():
        return expr.torch_fn()(x, *(torch.tensor(b, dtype=x.dtype) for b in betas)).numpy()


def _quantise(v: np.ndarray) -> bytes:
    v = np.where(np.abs(v) < 1e-9, 0.0, v)  # exact zeros computed two ways can differ by an ulp around 0
    with np.errstate(over="ignore"):  # beyond float32's range is inf, which is what we want
        v = np.where(np.isnan(v), np.nan, v).astype(np.float32)  # float32 rounding absorbs float64 round-off
    return v.tobytes()


def _effective_betas(expr: Expr, base: np.ndarray) -> int:
    n = 0
    for i in range(expr.betas):
        betas = [PROBE_BETAS[0]] * expr.betas
        betas[i] += _BETA_EXTRA
        v = _values(expr, _GRID, tuple(betas))
        if not np.allclose(v, base, rtol=1e-9, atol=1e-12, equal_nan=True):
            n += 1
    return n


def fingerprint(expr: Expr | str) -> str:
    """A short hash identifying the function ``expr`` computes (same function ⇒ same fingerprint).

    Built from its values on a fixed grid over [−6, 6] with every β at each of :data:`PROBE_BETAS`, rounded to
    float32, plus the number of βs that actually change the function.
    """
    e = parse(expr) if isinstance(expr, str) else expr
    h = hashlib.blake2b(digest_size=8)
    base = None
    for b in PROBE_BETAS:
        v = _values(e, _GRID, (b,) * e.betas)
        base = v if base is None else base
        h.update(_quantise(v))
    h.update(str(_effective_betas(e, base)).encode())  # type: ignore[arg-type]
    return h.hexdigest()


def same_as(expr: Expr | str, names: Iterable[str], gated: bool = False) -> str | None:
    """The first zoo activation of ``names`` that computes the function ``expr`` computes with every β at 1 (their
    default), on the fingerprint's grid to float32 rounding; None if none does. ``gated``: ``expr`` is a gate, and a
    gated entry is compared through its gate (``swiglu`` through swish). Tells a reader that a "discovery" such as
    ``sigmoid(x) * x`` is the swish baseline written another way."""
    from actlab import activations  # expr sits above activations; imported here, where it is needed

    e = parse(expr) if isinstance(expr, str) else expr
    mine = _values(e, _GRID, (1.0,) * e.betas)
    for name in names:
        try:
            spec = activations.spec(name)
            if spec.gated != gated:
                continue
            gate = getattr(spec.cls, "gate_name", name) if gated else name
            if gate in activations.names():
                fn = activations.get(gate)
            else:  # a gated entry whose gate is not in the zoo (bilinear's identity): its own gate function
                fn = spec.cls.gate  # type: ignore[attr-defined]
            with torch.no_grad():
                theirs = fn(_GRID.clone()).numpy()
        except (KeyError, ValueError, TypeError):  # a custom baseline, or one without a float64 path
            continue
        if _quantise(mine) == _quantise(theirs):
            return name
    return None


_PROBES = torch.linspace(-4.0, 4.0, 17, dtype=torch.float64) + 1 / math.sqrt(1013)


def probe_features(expr: Expr | str) -> np.ndarray:
    """A fixed-length numeric description of the function, for models over the space (the surrogate strategy).

    f and f' at 17 fixed probe points on [−4, 4] (the fingerprint's kind of grid, every β = 1), squashed with asinh
    so that exploding candidates stay comparable, non-finite values as 0; then the fraction of non-finite probes.
    """
    e = parse(expr) if isinstance(expr, str) else expr
    x = _PROBES.clone().requires_grad_(True)
    y = e.torch_fn()(x, *(torch.tensor(1.0, dtype=x.dtype) for _ in range(e.betas)))
    if y.shape != x.shape:  # a constant broadcast to a scalar
        y = y.expand_as(x)
    g = torch.autograd.grad(y.sum(), x, allow_unused=True)[0] if y.requires_grad else None
    g = torch.zeros_like(x) if g is None else g
    v = torch.cat([y.detach(), g.detach()])
    bad = ~torch.isfinite(v)
    v = torch.asinh(torch.where(bad, torch.zeros_like(v), v))
    return np.concatenate([v.numpy(), [float(bad.double().mean())]])


def _simplicity(e: Expr) -> tuple[float, ...]:
    return (e.betas, e.size(), e.cost(), len(str(e)))


@dataclass
class Group:
    """Expressions computing one function. ``representative`` is the simplest (fewest β, operators, cost, text)."""

    representative: Expr
    members: list[Expr]
    fingerprint: str

    @property
    def canonical(self) -> str:
        return self.representative.canonical()


def dedupe(exprs: Iterable[Expr | str]) -> list[Group]:
    """Group expressions that compute the same function; groups keep first-seen order.

    Equality is decided by :func:`fingerprint` (numeric, so ``max(x, 0)`` and ``x - min(x, 0)`` merge even where
    sympy's ``simplify`` cannot prove it); each group's identity string is its representative's ``canonical()``.
    """
    groups: dict[str, Group] = {}
    for item in exprs:
        e = parse(item) if isinstance(item, str) else item
        fp = fingerprint(e)
        g = groups.get(fp)
        if g is None:
            groups[fp] = Group(e, [e], fp)
        else:
            g.members.append(e)
            if _simplicity(e) < _simplicity(g.representative):
                g.representative = e
    return list(groups.values())


REASONS = ("out_of_domain", "non_finite", "constant", "linear", "vanishing_gradient", "exploding_gradient")
"""Prefilter rejection reasons, in the order they are tested (a candidate gets the first that applies)."""


@dataclass
class PrefilterResult:
    """Survivors, the reason each rejected candidate got, and counts per reason (every reason present, maybe 0)."""

    survivors: list[Expr]
    rejected: dict[Expr, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.survivors)

    def __len__(self) -> int:
        return len(self.survivors)


def scan(expr: Expr, x: torch.Tensor) -> tuple[torch.Tensor, list[str], list[str]]:
    """Evaluate ``expr`` on the sorted grid ``x`` (every β = 1.0); also return the operators whose argument left
    their domain and those with a pole (a denominator changing sign) between grid points."""
    bad_domain: list[str] = []
    poles: list[str] = []

    def hook(op, args):  # type: ignore[no-untyped-def]
        if op.invalid is not None and bool(op.invalid(args[0].detach()).any()):
            bad_domain.append(op.name)
        if op.pole is not None:
            d = op.pole(*(a.detach() for a in args)).expand_as(x)
            if bool((d == 0).any()) or bool((d[1:] * d[:-1] < 0).any()):  # operands are ordered like the grid
                poles.append(op.name)

    betas = [torch.tensor(1.0, dtype=x.dtype) for _ in range(expr.betas)]
    return expr.torch_fn(hook)(x, *betas), bad_domain, poles


def reject_reason(expr: Expr, lo: float = -5.0, hi: float = 5.0, points: int = 401, vanishing: float = 1e-2,
                  exploding: float = 1e3) -> str | None:
    """Why ``expr`` should not be trained (one of :data:`REASONS`), or ``None`` if it passes. Every β = 1.0."""
    x = torch.linspace(lo, hi, points, dtype=torch.float64).requires_grad_(True)
    y, bad_domain, poles = scan(expr, x)
    if bad_domain:
        return "out_of_domain"
    if y.requires_grad:
        (g,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
        g = torch.zeros_like(x) if g is None else g
    else:
        g = torch.zeros_like(x)
    y, g, xs = y.detach(), g.detach(), x.detach()
    if poles or not (torch.isfinite(y).all() and torch.isfinite(g).all()):
        return "non_finite"
    scale = max(1.0, float(y.abs().max()))
    if float(y.max() - y.min()) <= 1e-9 * scale:
        return "constant"
    a = torch.stack([torch.ones_like(xs), xs], 1)
    coef = torch.linalg.lstsq(a, y.unsqueeze(1)).solution
    if float((a @ coef).squeeze(1).sub(y).abs().max()) <= 1e-7 * scale:
        return "linear"
    ga = g.abs()
    if float(ga.max()) < vanishing:
        return "vanishing_gradient"
    if float(ga.max()) > exploding:
        return "exploding_gradient"
    return None


def prefilter(exprs: Iterable[Expr | str], lo: float = -5.0, hi: float = 5.0) -> PrefilterResult:
    """Reject candidates with cheap numeric checks on the typical pre-activation range [lo, hi], at β = 1.0.

    Reasons (first match wins): ``out_of_domain`` (an operator's argument leaves its domain, e.g. √ of a negative),
    ``non_finite`` (NaN/inf in f or f', or a division whose denominator crosses zero), ``constant``, ``linear``
    (affine on the range), ``vanishing_gradient`` (|f'| < 1e-2 everywhere), ``exploding_gradient`` (|f'| > 1e3
    somewhere).
    """
    res = PrefilterResult([], {}, Counter({r: 0 for r in REASONS}))
    for item in exprs:
        e = parse(item) if isinstance(item, str) else item
        why = reject_reason(e, lo, hi)
        if why is None:
            res.survivors.append(e)
        else:
            res.rejected[e] = why
            res.counts[why] += 1
    res.counts = dict(res.counts)
    return res
