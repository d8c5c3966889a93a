"""The functions found by the activation search of Ramachandran, Zoph & Le 2017 (besides Swish, in ``_zoo``).

They are also expressible in :mod:`actlab.expr`; here they are zoo entries so that they can be used, compared and
benchmarked by name, with fused kernels of their own (``_kernels_piecewise.py``, ``_triton_piecewise.py``).
"""

from __future__ import annotations

import math

import torch

from . import _kernels_piecewise as KP
from ._doc import doc
from ._registry import Activation, register
from ._zoo import _at_inf, _identity

__all__ = ["MaxSigmoid", "CosMinusX", "MinSin", "XAsinhSq", "AtanSqMinusX", "MaxTanh", "SincPlusX"]

_PAPER = "Ramachandran, Zoph & Le 2017, Searching for Activation Functions (arXiv:1710.05941)"


def _sinc(x: torch.Tensor) -> torch.Tensor:
    """Unnormalised sinc, sin(x)/x; a Taylor branch near 0 keeps every derivative right (autograd included).

    The branch reaches |x| = 0.1 (terms to x¹⁰, exact to float64 rounding there): autograd's cos(x)/x − sin(x)/x²
    cancels to about eps/|x| absolute, which at |x| = 0.04 was already 20 eps."""
    near = x.abs() < 0.1
    xs = torch.where(near, torch.ones_like(x), x)
    xt = torch.where(near, x, torch.zeros_like(x))
    x2 = xt * xt
    taylor = 1 - x2 / 6 * (1 - x2 / 20 * (1 - x2 / 42 * (1 - x2 / 72 * (1 - x2 / 110))))
    return torch.where(near, taylor, torch.sin(xs) / xs)


def _x_asinh_sq(t: torch.Tensor) -> torch.Tensor:
    """t·asinh(t)². Beyond |t| = 1e150 (reached in float64 only) autograd's chain fails: asinh′ = 1/√(1 + t²) overflows
    to 0 and t·a² to ±inf near the largest float64, so there the value uses asinh(t) = ±(log|t| + log 2) and the slope
    a² + 2|a| (t·asinh′(t) → 1) is given directly."""
    big = t.abs() > 1e150
    ts = torch.where(big, torch.zeros_like(t), t)
    a = torch.asinh(ts)
    tb = torch.where(big, t, torch.ones_like(t))
    ab = torch.sign(tb) * (torch.log(tb.abs()) + math.log(2.0))
    ad, td = ab.detach(), tb.detach()
    asym = td * ad * ad + (ad * ad + 2 * ad.abs()) * (tb - td)  # the value t·a², the slope a² + 2|a|
    return torch.where(big, asym, ts * a * a)


def _x_abs_x(t: torch.Tensor) -> torch.Tensor:
    return t * t.abs()


@register(latex=r"f(x) = \max(x, \sigma(x))", citation=_PAPER, monotonic=True, bounded=(True, False),
          smoothness="C0", kinks=(0.6590460684074852,), kernel=KP.MAX_SIGMOID)
class MaxSigmoid(Activation):
    __doc__ = doc("max(x, σ(x)), from the activation search.", r"\max(x, \sigma(x))",
                  example="m = actlab.get('max_sigmoid')")
    name = "max_sigmoid"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return torch.maximum(x, torch.sigmoid(x))


@register(latex=r"f(x) = \cos(x) - x", citation=_PAPER, monotonic=True, bounded=(False, False), smoothness="Cinf",
          kernel=KP.COS_MINUS_X)
class CosMinusX(Activation):
    __doc__ = doc("cos(x) − x, a periodic function from the activation search (non-increasing).", r"\cos(x) - x",
                  example="m = actlab.get('cos_minus_x')")
    name = "cos_minus_x"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return _at_inf(x, lambda t: torch.cos(t) - t, torch.neg, torch.neg)


@register(latex=r"f(x) = \min(x, \sin(x))", citation=_PAPER, monotonic=False, bounded=(False, True),
          smoothness="C2", kinks=(0.0,), kernel=KP.MIN_SIN)
class MinSin(Activation):
    __doc__ = doc("min(x, sin(x)): x below zero, sin(x) above; C2 at 0. No limit at +∞ (NaN there).",
                  r"\min(x, \sin(x))", example="m = actlab.get('min_sin')")
    name = "min_sin"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return _at_inf(x, lambda t: torch.minimum(t, torch.sin(t)), math.nan, _identity)


@register(latex=r"f(x) = x \,\sinh^{-1}(x)^2", citation=_PAPER, monotonic=True, bounded=(False, False),
          smoothness="Cinf", kernel=KP.X_ASINH_SQ)
class XAsinhSq(Activation):
    __doc__ = doc("x·asinh(x)², from the activation search.", r"x \sinh^{-1}(x)^2",
                  example="m = actlab.get('x_asinh_sq')")
    name = "x_asinh_sq"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        # f ~ x·log(2|x|)² at ±∞: value ±∞ and slope +∞ there (autograd alone gives ∞·0 = NaN).
        return _at_inf(x, _x_asinh_sq, _x_abs_x, _x_abs_x)


@register(latex=r"f(x) = \tan^{-1}(x)^2 - x", citation=_PAPER, monotonic=True, bounded=(False, False),
          smoothness="Cinf", kernel=KP.ATAN_SQ_MINUS_X)
class AtanSqMinusX(Activation):
    __doc__ = doc("atan(x)² − x, from the activation search (decreasing).", r"\tan^{-1}(x)^2 - x",
                  example="m = actlab.get('atan_sq_minus_x')")
    name = "atan_sq_minus_x"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return torch.atan(x) ** 2 - x


@register(latex=r"f(x) = \max(x, \tanh(x))", citation=_PAPER, monotonic=True, bounded=(True, False),
          smoothness="C2", kinks=(0.0,), kernel=KP.MAX_TANH)
class MaxTanh(Activation):
    __doc__ = doc("max(x, tanh(x)): tanh below zero, x above; C2 at 0.", r"\max(x, \tanh(x))",
                  example="m = actlab.get('max_tanh')")
    name = "max_tanh"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return torch.maximum(x, torch.tanh(x))


@register(latex=r"f(x) = \frac{\sin x}{x} + x", citation=_PAPER, monotonic=True, bounded=(False, False),
          smoothness="Cinf", kernel=KP.SINC_PLUS_X)
class SincPlusX(Activation):
    __doc__ = doc("sinc(x) + x with the unnormalised sinc, sin(x)/x.", r"\frac{\sin x}{x} + x",
                  example="m = actlab.get('sinc_plus_x')")
    name = "sinc_plus_x"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return _at_inf(x, lambda t: _sinc(t) + t, _identity, _identity)
