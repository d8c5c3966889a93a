"""The fused-kernel description of every zoo activation that has one: one :class:`~actlab.kernels.KernelDef` each.

A description is the activation's element functions ``prep``/``f``/``grad`` (the loop template in
:mod:`actlab.kernels` turns them into kernels), the output-derivative form in torch ops where ``grad`` reads the
saved output, and the PyTorch op the kernel stands in for (a :class:`~actlab.kernels.NativeOp` from
``_baselines.py``, what the speed benchmark times it against). The zoo entry passes it to
``@register(kernel=...)``; nothing else names it, so adding a fused activation is one description here and one entry
in ``_zoo.py``. Constants shared with the references live once, in ``_baselines.py``.

Each element function is correct on the whole float range. Recurring points:

* constants come from ``prep`` already cast to the input dtype: a bare ``0.5`` would promote float32 to float64 and
  halve the vector width;
* x·g(x) forms give ∞·0 = NaN at ±∞; the limit is selected there (``copysign(0, x)`` keeps the sign of the zero);
* the ISRU family never forms αx² unguarded: with u = √α·x it returns ±1/√α once |u| > 1e10, where that is exact to
  rounding (1/(2u²) < 1e-20), so ±inf gives ±1/√α and huge |x| does not overflow;
* ``k`` is the Newton step count of the approximate inverse square root (−1: exact); other kernels ignore it.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from numba.extending import register_jitable

from ..kernels import (KernelDef, cast_like, exp_expm1, fast_rsqrt, ndtr_exp, select, sigmoid_pair, vexp, vexp_neg,
                       vsoftplus, vtanh)
from . import _baselines as N
from ._baselines import GELU_TANH_CUBIC, SELU_ALPHA, SELU_SCALE, SQRT_2_OVER_PI

__all__ = ["SELU_ALPHA", "SELU_SCALE", "SQRT_2_OVER_PI", "GELU_TANH_CUBIC"]
_BIG = 1e10
# The GPU form of each description: Triton element functions of the same name (imported only when a GPU kernel is
# first built, so numba-only installs never import Triton).
_TL = f"{__package__}._triton_kernels:"
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_LOWP = (torch.bfloat16, torch.float16)


def _jit(fn: Callable) -> Callable:
    # A fresh register_jitable per function: numba's wrapper pops `inline` from a shared kwargs dict, so reusing one
    # decorator object silently inlines only the first function (and the loops then stop vectorising).
    return register_jitable(inline="always")(fn)


@_jit
def none_prep(x, p, k):
    return cast_like(0.0, x), cast_like(0.5, x), cast_like(1.0, x), cast_like(2.0, x)


# ----------------------------------------------------------------------------------------- ISRU family
@_jit
def isru_prep(x, p, k):
    sa = math.sqrt(p[0])
    return (cast_like(sa, x), cast_like(1.0 / sa, x), cast_like(_BIG, x), cast_like(1.0, x), cast_like(0.5, x),
            cast_like(0.0, x))


@_jit
def _isru(v, c, k):
    """v/√(1 + αv²)."""
    sa, ia, big, one, half, zero = c
    u = sa * v
    d = one + u * u
    r = one / np.sqrt(d) if k < 0 else fast_rsqrt(d, k)  # k is a compile-time constant: no branch remains
    return select(abs(u) > big, math.copysign(ia, v), v * r)


@_jit
def _isru_slope_y(y, c):
    """ISRU's slope from its output: 1 − αy² = 1/(1 + αx²), so f′ = (1 − αy²)^{3/2} (no division, one sqrt).

    Exact to a few eps absolute; relative accuracy fades where f′ < ~eps^{1/2}, far in the saturated tail, because
    y has rounded to within an ulp of ±1/√α there. Clamping at 0 covers that rounding (and y = ±1/√α at ±inf).
    """
    sa, ia, big, one, half, zero = c
    u = sa * y
    t = one - u * u
    t = select(t < zero, zero, t)
    return t * np.sqrt(t)


def _isru_slope(y: torch.Tensor, alpha) -> torch.Tensor:  # the same in torch ops
    t = (1 - alpha * y * y).clamp_min(0)  # 1 − αy² = 1/(1 + αx²)
    return t * t.sqrt()


@_jit
def isru_f(v, c, k):
    return _isru(v, c, k)


@_jit
def isru_grad_y(y, c, k):
    return _isru_slope_y(y, c), -c[4] * y * y * y  # ∂/∂α [x(1+αx²)^-½] = −x³(1+αx²)^-3/2 /2 = −y³/2


def _isru_dy(y: torch.Tensor, alpha) -> tuple[torch.Tensor, ...]:
    return _isru_slope(y, alpha), -0.5 * y * y * y


ISRU = KernelDef(isru_prep, isru_f, isru_grad_y, output_grad=_isru_dy, newton=True, native=N.TANH_OP,
                 triton=_TL + "isru")


@_jit
def isrlu_f(v, c, k):
    return select(v >= c[5], v, _isru(v, c, k))


@_jit
def isrlu_grad_y(y, c, k):
    pos = y >= c[5]  # y has x's sign (and −0.0 maps to −0.0, slope 1)
    return select(pos, c[3], _isru_slope_y(y, c)), select(pos, c[5], -c[4] * y * y * y)


def _isrlu_dy(y: torch.Tensor, alpha) -> tuple[torch.Tensor, ...]:
    neg = y < 0
    return torch.where(neg, _isru_slope(y, alpha), 1.0), torch.where(neg, -0.5 * y * y * y, 0.0)


ISRLU = KernelDef(isru_prep, isrlu_f, isrlu_grad_y, output_grad=_isrlu_dy, newton=True, native=N.ELU_OP,
                  triton=_TL + "isrlu")


@_jit
def isru_sigmoid_f(v, c, k):
    half = c[4]
    return half + half * _isru(half * v, c, k)


@_jit
def isru_sigmoid_grad_y(y, c, k):
    half = c[4]
    s = (y - half) + (y - half)  # the ISRU part, isru(x/2) = 2y − 1 (exact for y ≥ 1/4)
    return half * half * _isru_slope_y(s, c), -half * half * s * s * s


def _isru_sigmoid_dy(y: torch.Tensor, alpha) -> tuple[torch.Tensor, ...]:
    s = 2 * y - 1  # the ISRU part: y = (1 + isru(x/2))/2
    return 0.25 * _isru_slope(s, alpha), -0.25 * s * s * s


ISRU_SIGMOID = KernelDef(isru_prep, isru_sigmoid_f, isru_sigmoid_grad_y, output_grad=_isru_sigmoid_dy, newton=True,
                         native=N.SIGMOID_OP, triton=_TL + "isru_sigmoid")


# ----------------------------------------------------------------------------------------- ELU family
@_jit
def elu_prep(x, p, k):
    a = p[0]
    return cast_like(a, x), cast_like(1.0, x), cast_like(0.0, x), cast_like(1.0 / a, x)


@_jit
def elu_f(v, c, k):
    return select(v > c[2], v, c[0] * exp_expm1(v)[1])


@_jit
def elu_grad_y(y, c, k):
    pos = y > c[2]  # y = α(eˣ − 1) > 0 exactly when x > 0
    return select(pos, c[1], y + c[0]), select(pos, c[2], y * c[3])  # αeˣ = y + α; ∂f/∂α = eˣ − 1 = y/α


def _elu_dy(y: torch.Tensor, alpha) -> tuple[torch.Tensor, ...]:
    pos = y > 0
    return torch.where(pos, 1.0, y + alpha), torch.where(pos, 0.0, y / alpha)


ELU = KernelDef(elu_prep, elu_f, elu_grad_y, output_grad=_elu_dy, native=N.ELU_OP, triton=_TL + "elu")


@_jit
def celu_f(v, c, k):
    return select(v > c[2], v, c[0] * exp_expm1(v * c[3])[1])


@_jit
def celu_grad(v, c, k):
    z = v * c[3]
    e, m = exp_expm1(z)
    pos = v > c[2]
    da = m - z * e
    da = select(e == c[2], m, da)  # z = −inf: −inf·0
    return select(pos, c[1], e), select(pos, c[2], da)


# ∂f/∂α needs x itself, so CELU saves the input.
CELU = KernelDef(elu_prep, celu_f, celu_grad, native=N.CELU_OP, triton=_TL + "celu")


@_jit
def selu_prep(x, p, k):
    return cast_like(SELU_SCALE, x), cast_like(SELU_SCALE * SELU_ALPHA, x), cast_like(0.0, x)


@_jit
def selu_f(v, c, k):
    return select(v > c[2], c[0] * v, c[1] * exp_expm1(v)[1])


@_jit
def selu_grad_y(y, c, k):
    return select(y > c[2], c[0], y + c[1]), c[2]  # λαeˣ = y + λα


def _selu_dy(y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (torch.where(y > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA),)


SELU = KernelDef(selu_prep, selu_f, selu_grad_y, output_grad=_selu_dy,
                 native=N.SELU_OP, triton=_TL + "selu")


# ----------------------------------------------------------------------------------------- sigmoid family
@_jit
def swish_prep(x, p, k):
    return cast_like(p[0], x), cast_like(1.0, x), cast_like(0.0, x)


@_jit
def swish_f(v, c, k):
    b, one, zero = c
    u = b * v
    e = vexp_neg(-abs(u))  # e^{−|u|} ∈ [0, 1]
    # v·σ(u) = v/(1 + e) for u ≥ 0 and v·e/(1 + e) below: the division ends the chain (with σ first and v·σ
    # after it, the kernel was 5 % slower than aten's SiLU, benchmarks/user_view.py)
    y = select(u >= zero, v, v * e) / (one + e)
    return select((e == zero) & (u < zero), math.copysign(zero, v), y)  # u → −∞: the limit ±0, not −∞·0


@_jit
def swish_grad(v, c, k):
    b, one, zero = c
    u = b * v
    e = vexp_neg(-abs(u))
    d = one + e
    pos = u >= zero
    # f′ = σ(u)(1 + u(1 − σ(u))) = (d + ue)/d² for u ≥ 0 and e(d + u)/d² below; ∂f/∂β = v²σ(1 − σ) = v²e/d²
    dd = d * d
    g = select(pos, d + u * e, e * (d + u)) / dd
    db = v * v * e / dd
    edge = e == zero  # |u| → ∞: the limits (1 or 0, and 0), not ∞·0
    return select(edge, select(pos, one, zero), g), select(edge, zero, db)


SWISH = KernelDef(swish_prep, swish_f, swish_grad, native=N.SILU_OP, triton=_TL + "swish")


@_jit
def gelu_tanh_prep(x, p, k):
    return (cast_like(2.0 * SQRT_2_OVER_PI, x), cast_like(GELU_TANH_CUBIC, x), cast_like(3 * GELU_TANH_CUBIC, x),
            cast_like(1.0, x), cast_like(0.0, x))


@_jit
def _gelu_tanh_core(v, c):
    gc, a, a3, one, zero = c
    v2 = v * v
    s, oms = sigmoid_pair(gc * v * (one + a * v2), one)
    return s, oms, v2


@_jit
def gelu_tanh_f(v, c, k):
    s, _, _ = _gelu_tanh_core(v, c)
    return select(s == c[4], math.copysign(c[4], v), v * s)


@_jit
def gelu_tanh_grad(v, c, k):
    gc, a, a3, one, zero = c
    s, oms, v2 = _gelu_tanh_core(v, c)
    g = s + (v * s) * oms * gc * (one + a3 * v2)
    return select((oms == zero) | (s == zero), s, g), zero


GELU_TANH = KernelDef(gelu_tanh_prep, gelu_tanh_f, gelu_tanh_grad, native=N.GELU_TANH_OP, triton=_TL + "gelu_tanh")


@_jit
def sigmoid_f(v, c, k):
    return sigmoid_pair(v, c[2])[0]


@_jit
def sigmoid_grad_y(y, c, k):
    return y * (c[2] - y), c[0]


def _sigmoid_dy(y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (y * (1 - y),)


SIGMOID = KernelDef(none_prep, sigmoid_f, sigmoid_grad_y, output_grad=_sigmoid_dy, native=N.SIGMOID_OP,
                    triton=_TL + "sigmoid")


@_jit
def softplus_f(v, c, k):
    return vsoftplus(v)


@_jit
def softplus_grad(v, c, k):
    return sigmoid_pair(v, c[2])[0], c[0]


SOFTPLUS = KernelDef(none_prep, softplus_f, softplus_grad, native=N.SOFTPLUS_OP, triton=_TL + "softplus")


@_jit
def tanh_f(v, c, k):
    return vtanh(v)


@_jit
def tanh_grad_y(y, c, k):
    one = c[2]
    return (one - y) * (one + y), c[0]  # 1 − y², without cancellation near |y| = 1


def _tanh_dy(y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return ((1 - y) * (1 + y),)


TANH = KernelDef(none_prep, tanh_f, tanh_grad_y, output_grad=_tanh_dy, native=N.TANH_OP, triton=_TL + "tanh")


@_jit
def mish_f(v, c, k):
    zero, half, one, two = c
    e = vexp(v)
    n = e * (e + two)
    t = n / (n + two)  # tanh(softplus(v)) = ((1+e)² − 1)/((1+e)² + 1)
    t = select(n == np.inf, one, t)
    return select(t == zero, math.copysign(zero, v), v * t)


@_jit
def mish_grad(v, c, k):
    zero, half, one, two = c
    e = vexp(v)
    n = e * (e + two)
    t = n / (n + two)
    t = select(n == np.inf, one, t)
    # f′ = t + v·(1 − t²)·σ(v), with 1 − t = 2/(n + 2) and σ(v) = e/(1 + e).
    g = t + v * (two / (n + two)) * (one + t) * (e / (one + e))
    g = select((e == zero) | (n == np.inf), t, g)
    return select(v != v, v, g), zero


MISH = KernelDef(none_prep, mish_f, mish_grad, native=N.MISH_OP, triton=_TL + "mish")


# ----------------------------------------------------------------------------------------- GELU (erf)
@_jit
def gelu_prep(x, p, k):
    return cast_like(0.0, x), cast_like(1.0 / _SQRT_2PI, x), cast_like(-1e38, x)


@_jit
def gelu_f(v, c, k):
    lim = c[2]  # Φ = 0 below it: −inf becomes finite, so −inf·0 gives −0.0, not NaN (NaN passes the select)
    return select(v < lim, lim, v) * ndtr_exp(v)[0]


@_jit
def gelu_grad(v, c, k):
    zero, rs2pi, _ = c
    cdf, e = ndtr_exp(v)  # Φ and φ from one exp
    dens = e * rs2pi
    g = cdf + v * dens
    g = select(dens == zero, cdf, g)  # ±inf: ±inf·0
    return g, zero


GELU = KernelDef(gelu_prep, gelu_f, gelu_grad, native=N.GELU_OP, triton=_TL + "gelu")


# ----------------------------------------------------------------------------------------- rectifier family
# Squared ReLU (So et al. 2021, Primer). NaN passes through (NaN < 0 is false), as in torch.relu.
@_jit
def relu2_f(v, c, k):
    r = select(v < c[0], c[0], v)
    return r * r


@_jit
def relu2_grad(v, c, k):
    r = select(v < c[0], c[0], v)
    return c[3] * r, c[0]


RELU2 = KernelDef(none_prep, relu2_f, relu2_grad, triton=_TL + "relu2")


# ReLU (ReGLU's gate too). grad reads the output (y > 0 exactly when x > 0), as torch does.
@_jit
def relu_f(v, c, k):
    return select(v < c[0], c[0], v)


@_jit
def relu_grad_y(y, c, k):
    # NaN in gives a NaN slope, as every zoo kernel (torch's threshold_backward passes the gradient on instead)
    return select(y <= c[0], c[0], select(y != y, y, c[2])), c[0]


def _relu_dy(y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (torch.where(y <= 0, 0.0, torch.where(y.isnan(), y, 1.0)).to(y.dtype),)


# The module is F.relu itself (module_native: the same single pass each way; this kernel was 2-7 % slower at 1M-4M
# elements on one thread, benchmarks/user_view.py); the operator, apply and ReGLU's gate run this kernel.
RELU = KernelDef(none_prep, relu_f, relu_grad_y, output_grad=_relu_dy, native=N.RELU_OP, triton=_TL + "relu",
                 module_native=True)


# The identity, as the bilinear layer's gate.
@_jit
def identity_f(v, c, k):
    return v


@_jit
def identity_grad(v, c, k):
    return c[2], c[0]


IDENTITY_GATE = KernelDef(none_prep, identity_f, identity_grad, triton=_TL + "identity")
