"""The zoo: inverse-square-root units, the classic and modern activations, and their properties.

Every reference is written to be correct on the whole float range: it is what the fused kernels are checked
against. Two tricks recur:

* a *safe where* (``torch.where(mask, f(where(mask, x, safe)), ...)``) so that the branch not taken never sees an
  input that would give NaN in its gradient;
* ``_at_inf``: x·g(x) forms give ∞·0 = NaN at x = −∞; the limit is substituted there (the limit at ±∞ is returned
  wherever it exists, NaN otherwise).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from .. import kernels
from . import _kernels as KD
from . import _kernels_piecewise as KP
from ._doc import doc
from ._registry import Activation, register

__all__ = ["ISRLU", "ISRU", "ISRUSigmoid", "ReLU", "LeakyReLU", "ELU", "SELU", "CELU", "Softplus", "Tanh",
           "Sigmoid", "Swish", "GELU", "GELUTanh", "Mish", "HardSwish"]

_CARLILE = "Carlile et al. 2017, Improving Deep Learning by Inverse Square Root Linear Units (arXiv:1710.09967)"
_ALPHA = "alpha: the α hyperparameter. Default: ``1.0``"
_TRAIN = "trainable: learn α as a scalar parameter (keyword-only). Default: ``False``"
_NEWTON = ("newton: ``None`` for the exact inverse square root, or k ≥ 0 for the fast bit-level initial guess "
           "(Kinney 1986, ``0x5f3759df``) plus k Newton steps (see ``benchmarks/RESULTS.md`` for the error per k). "
           "Keyword-only. Default: ``None``")


Limit = float | Callable[[torch.Tensor], torch.Tensor]


def _at_inf(x: torch.Tensor, y_finite: Callable[[torch.Tensor], torch.Tensor], lim_pos: Limit,
            lim_neg: Limit) -> torch.Tensor:
    """Evaluate ``y_finite`` on finite inputs and return the limits at ±∞.

    A limit is a constant (the slope there is 0) or a function of x such as ``lambda t: t`` for f ~ x, which keeps
    the asymptotic slope in the gradient.
    """
    inf = torch.isinf(x)
    # The shortcut reads data, which a graph being captured (trace, compile, export) has not: it takes the full form.
    if not kernels.capturing(x) and not bool(inf.any()):
        return y_finite(x)
    xf = torch.where(inf, torch.zeros_like(x), x)
    y = y_finite(xf)

    def value(lim: Limit) -> torch.Tensor:
        return lim(x) if callable(lim) else torch.scalar_tensor(lim, dtype=x.dtype, device=x.device)

    # One limit function for both ends avoids a where whose untaken side could have an infinite slope (0·∞ = NaN).
    lim = value(lim_pos) if lim_pos is lim_neg else torch.where(x > 0, value(lim_pos), value(lim_neg))
    return torch.where(inf, lim, y)


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def _isru(x: torch.Tensor, alpha) -> torch.Tensor:
    # x/√(1+αx²) overflows in αx² long before the result does; for |x| > 1 use sign(x)/√(α + 1/x²).
    small = (x.abs() <= 1) | torch.isnan(x)
    xs = torch.where(small, x, torch.zeros_like(x))
    # Beyond |x| = 1e18 the result is ±1/√α to working precision; clamping keeps the gradient 0 (not ∞·0) at ±∞.
    big = min(1e18, torch.finfo(x.dtype).max)
    xl = torch.where(small, torch.ones_like(x), x).clamp(-big, big)
    y_small = xs * torch.rsqrt(1 + alpha * xs * xs)
    y_large = torch.sign(xl) * torch.rsqrt(alpha + 1 / (xl * xl))
    return torch.where(small, y_small, y_large)


@register(latex=r"f(x) = \begin{cases} x & x \ge 0 \\ \frac{x}{\sqrt{1+\alpha x^2}} & x < 0 \end{cases}",
          citation=_CARLILE, monotonic=True, bounded=(True, False), smoothness="C2", kernel=KD.ISRLU, kinks=(0.0,))
class ISRLU(Activation):
    __doc__ = doc("Inverse square root linear unit: ELU's shape, smooth in f′ and f″, and cheaper than exp.",
                  r"\text{ISRLU}(x) = x \text{ for } x \ge 0, \quad \frac{x}{\sqrt{1+\alpha x^2}} \text{ for } x < 0",
                  f"{_ALPHA}\n        {_TRAIN}\n        {_NEWTON}",
                  note="Saturates at :math:`-1/\\sqrt{\\alpha}` for large negative inputs.",
                  example="m = actlab.ISRLU(3.0)  # alpha = 3")
    name = "isrlu"
    defaults = {"alpha": 1.0}
    trainable = ("alpha",)
    positive = ("alpha",)
    static_options = ("newton",)

    @staticmethod
    def reference(x: torch.Tensor, alpha=1.0) -> torch.Tensor:
        neg = x < 0
        return torch.where(neg, _isru(torch.where(neg, x, torch.zeros_like(x)), alpha), x)


@register(latex=r"f(x) = \frac{x}{\sqrt{1+\alpha x^2}}", citation=_CARLILE, monotonic=True, bounded=(True, True),
          smoothness="Cinf", kernel=KD.ISRU, aliases=("isru_tanh",))
class ISRU(Activation):
    __doc__ = doc("Inverse square root unit: a tanh-like curve with range :math:`(-1/\\sqrt\\alpha, 1/\\sqrt\\alpha)`.",
                  r"\text{ISRU}(x) = \frac{x}{\sqrt{1+\alpha x^2}}",
                  f"{_ALPHA}\n        {_TRAIN}\n        {_NEWTON}",
                  note="With α = 1 it has tanh's slope at 0 and range, and stands in for tanh (alias ``isru_tanh``).",
                  example="m = actlab.ISRU(alpha=1.0)")
    name = "isru"
    defaults = {"alpha": 1.0}
    trainable = ("alpha",)
    positive = ("alpha",)
    static_options = ("newton",)

    @staticmethod
    def reference(x: torch.Tensor, alpha=1.0) -> torch.Tensor:
        return _isru(x, alpha)


@register(latex=r"f(x) = \frac{1}{2}\left(1 + \frac{x/2}{\sqrt{1+\alpha x^2/4}}\right)", citation=_CARLILE,
          monotonic=True, bounded=(True, True), smoothness="Cinf", kernel=KD.ISRU_SIGMOID)
class ISRUSigmoid(Activation):
    __doc__ = doc("ISRU stand-in for the logistic sigmoid, as σ(x) = (1 + tanh(x/2))/2 relates to tanh.",
                  r"f(x) = \tfrac12\left(1 + \text{ISRU}_\alpha(x/2)\right)",
                  f"{_ALPHA}\n        {_TRAIN}",
                  note="With α = 1 it matches σ's value and slope (1/4) at 0 and its range (0, 1).",
                  example="m = actlab.ISRUSigmoid()")
    name = "isru_sigmoid"
    defaults = {"alpha": 1.0}
    trainable = ("alpha",)
    positive = ("alpha",)

    @staticmethod
    def reference(x: torch.Tensor, alpha=1.0) -> torch.Tensor:
        return 0.5 * (1 + _isru(0.5 * x, alpha))


@register(latex=r"f(x) = \max(x, 0)", citation="Nair & Hinton 2010", monotonic=True, bounded=(True, False),
          smoothness="C0", kernel=KD.RELU, native=F.relu, kinks=(0.0,))
class ReLU(Activation):
    __doc__ = doc("Rectified linear unit.", r"\text{ReLU}(x) = \max(x, 0)", example="m = actlab.ReLU()")
    name = "relu"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)


@register(latex=r"f(x) = \max(x, 0) + s \min(x, 0)", citation="Maas et al. 2013", monotonic=True,
          bounded=(False, False), smoothness="C0", kernel=KP.LEAKY_RELU, native=F.leaky_relu, aliases=("lrelu",),
          kinks=(0.0,))
class LeakyReLU(Activation):
    __doc__ = doc("Leaky ReLU.", r"\text{LeakyReLU}(x) = \max(x, 0) + s \cdot \min(x, 0)",
                  "negative_slope: the slope s below zero. Default: ``0.01``", example="m = actlab.LeakyReLU()")
    name = "leaky_relu"
    defaults = {"negative_slope": 0.01}

    @staticmethod
    def reference(x: torch.Tensor, negative_slope=0.01) -> torch.Tensor:
        return torch.where(x > 0, x, negative_slope * x)  # the slope at 0 is s, as in F.leaky_relu


def _elu(x: torch.Tensor, alpha) -> torch.Tensor:
    return torch.where(x > 0, x, alpha * torch.expm1(torch.clamp(x, max=0)))


@register(latex=r"f(x) = \begin{cases} x & x > 0 \\ \alpha (e^x - 1) & x \le 0 \end{cases}",
          citation="Clevert et al. 2015", monotonic=True, bounded=(True, False), smoothness="C1", kernel=KD.ELU,
          native=F.elu, kinks=(0.0,))
class ELU(Activation):
    __doc__ = doc("Exponential linear unit.", r"\text{ELU}(x) = x \text{ for } x > 0, \quad \alpha(e^x - 1) "
                  r"\text{ otherwise}", _ALPHA, note="C1 only for α = 1; the declared class is for the default.",
                  example="m = actlab.ELU(alpha=1.0)")
    name = "elu"
    defaults = {"alpha": 1.0}
    positive = ("alpha",)

    @staticmethod
    def reference(x: torch.Tensor, alpha=1.0) -> torch.Tensor:
        return _elu(x, alpha)


_SELU_ALPHA, _SELU_SCALE = KD.SELU_ALPHA, KD.SELU_SCALE


@register(latex=r"f(x) = \lambda \,\text{ELU}_{\alpha}(x)", citation="Klambauer et al. 2017", monotonic=True,
          bounded=(True, False), smoothness="C0", kernel=KD.SELU, native=F.selu, kinks=(0.0,))
class SELU(Activation):
    __doc__ = doc("Scaled ELU with the self-normalising constants λ ≈ 1.0507, α ≈ 1.6733.",
                  r"\text{SELU}(x) = \lambda\,\text{ELU}_\alpha(x)", example="m = actlab.SELU()")
    name = "selu"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return _SELU_SCALE * _elu(x, _SELU_ALPHA)


@register(latex=r"f(x) = \max(0, x) + \min(0, \alpha (e^{x/\alpha} - 1))", citation="Barron 2017",
          monotonic=True, bounded=(True, False), smoothness="C1", kernel=KD.CELU, native=F.celu, kinks=(0.0,))
class CELU(Activation):
    __doc__ = doc("Continuously differentiable ELU.", r"\text{CELU}(x) = \max(0,x) + \min(0, \alpha(e^{x/\alpha}-1))",
                  _ALPHA, example="m = actlab.CELU(alpha=1.0)")
    name = "celu"
    defaults = {"alpha": 1.0}
    positive = ("alpha",)

    @staticmethod
    def reference(x: torch.Tensor, alpha=1.0) -> torch.Tensor:
        return torch.where(x > 0, x, alpha * torch.expm1(torch.clamp(x, max=0) / alpha))


@register(latex=r"f(x) = \log(1 + e^x)", citation="Dugas et al. 2001", monotonic=True, bounded=(True, False),
          smoothness="Cinf", kernel=KD.SOFTPLUS, native=F.softplus)
class Softplus(Activation):
    __doc__ = doc("Softplus.", r"\text{Softplus}(x) = \log(1 + e^x)", example="m = actlab.Softplus()")
    name = "softplus"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return torch.logaddexp(x, torch.zeros_like(x))


@register(latex=r"f(x) = \tanh(x)", citation="LeCun et al. 1998", monotonic=True, bounded=(True, True),
          smoothness="Cinf", kernel=KD.TANH, native=torch.tanh)
class Tanh(Activation):
    __doc__ = doc("Hyperbolic tangent.", r"\tanh(x)", example="m = actlab.Tanh()")
    name = "tanh"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x)


@register(latex=r"f(x) = \frac{1}{1 + e^{-x}}", citation="logistic function", monotonic=True,
          bounded=(True, True), smoothness="Cinf", kernel=KD.SIGMOID, native=torch.sigmoid,
          aliases=("logistic",))
class Sigmoid(Activation):
    __doc__ = doc("Logistic sigmoid.", r"\sigma(x) = \frac{1}{1+e^{-x}}", example="m = actlab.Sigmoid()")
    name = "sigmoid"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x)


@register(latex=r"f(x) = x \cdot \sigma(\beta x)", citation="Ramachandran, Zoph & Le 2017", monotonic=False,
          bounded=(True, False), smoothness="Cinf", kernel=KD.SWISH, native=F.silu, aliases=("silu",))
class Swish(Activation):
    __doc__ = doc("Swish (SiLU for β = 1), found by the activation search of Ramachandran et al.",
                  r"\text{Swish}(x) = x \cdot \sigma(\beta x)",
                  "beta: the β hyperparameter. Default: ``1.0``\n        "
                  "trainable: learn β as a scalar parameter (keyword-only). Default: ``False``",
                  example="m = actlab.Swish(1.5, trainable=True)  # beta = 1.5, learned")
    name = "swish"
    defaults = {"beta": 1.0}
    trainable = ("beta",)
    positive = ("beta",)

    @staticmethod
    def reference(x: torch.Tensor, beta=1.0) -> torch.Tensor:
        return _at_inf(x, lambda t: t * torch.sigmoid(beta * t), _identity, -0.0)


@register(latex=r"f(x) = x \, \Phi(x)", citation="Hendrycks & Gimpel 2016", monotonic=False, bounded=(True, False),
          smoothness="Cinf", kernel=KD.GELU, native=F.gelu)
class GELU(Activation):
    __doc__ = doc("Gaussian error linear unit (exact, with erf).", r"\text{GELU}(x) = x\,\Phi(x)",
                  example="m = actlab.GELU()")
    name = "gelu"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        # erfc keeps relative accuracy for very negative x, where 1 + erf(·) cancels.
        return _at_inf(x, lambda t: 0.5 * t * torch.special.erfc(-t / math.sqrt(2.0)), _identity, -0.0)


_GELU_C, _GELU_CUBIC = KD.SQRT_2_OVER_PI, KD.GELU_TANH_CUBIC


def _gelu_tanh_native(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


@register(latex=r"f(x) = \tfrac{x}{2}\left(1 + \tanh\left(\sqrt{2/\pi}\,(x + 0.044715 x^3)\right)\right)",
          citation="Hendrycks & Gimpel 2016", monotonic=False, bounded=(True, False), smoothness="Cinf",
          kernel=KD.GELU_TANH, native=_gelu_tanh_native)
class GELUTanh(Activation):
    __doc__ = doc("GELU, tanh approximation.", r"\tfrac{x}{2}(1 + \tanh(\sqrt{2/\pi}(x + 0.044715x^3)))",
                  example="m = actlab.GELUTanh()")
    name = "gelu_tanh"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        # ½(1 + tanh z) = σ(2z), which does not cancel for negative z. The gate is exactly 0 or 1 beyond |x| = 100,
        # so the cube is clamped there: an overflowing cube would give 0·∞ = NaN in the gradient.
        def f(t: torch.Tensor) -> torch.Tensor:
            c = t.clamp(-100.0, 100.0)
            return t * torch.sigmoid(2 * _GELU_C * (c + _GELU_CUBIC * c * c * c))

        return _at_inf(x, f, _identity, -0.0)


@register(latex=r"f(x) = x \tanh(\log(1 + e^x))", citation="Misra 2019", monotonic=False, bounded=(True, False),
          smoothness="Cinf", kernel=KD.MISH, native=F.mish)
class Mish(Activation):
    __doc__ = doc("Mish.", r"\text{Mish}(x) = x \tanh(\text{softplus}(x))", example="m = actlab.Mish()")
    name = "mish"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return _at_inf(x, lambda t: t * torch.tanh(torch.logaddexp(t, torch.zeros_like(t))), _identity, -0.0)


@register(latex=r"f(x) = x \frac{\min(\max(x + 3, 0), 6)}{6}", citation="Howard et al. 2019 (MobileNetV3)",
          monotonic=False, bounded=(True, False), smoothness="C0", kernel=KP.HARDSWISH, native=F.hardswish,
          kinks=(-3.0, 3.0))
class HardSwish(Activation):
    __doc__ = doc("Hard swish.", r"x \cdot \text{ReLU6}(x + 3) / 6", example="m = actlab.HardSwish()")
    name = "hardswish"

    @staticmethod
    def reference(x: torch.Tensor) -> torch.Tensor:
        return _at_inf(x, lambda t: t * (torch.clamp(t + 3, 0, 6) / 6), _identity, -0.0)
