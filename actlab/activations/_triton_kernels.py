"""The Triton element functions of the zoo's fused kernels: the GPU form of each description in ``_kernels.py``.

For every ``KernelDef`` with ``triton="name"`` this module defines ``name_f(x, p…) -> y`` and ``name_grad(s, p…)``
(``f′`` alone for parameterless kernels, else ``(f′, ∂f/∂p₀, …)``), in float32, with the parameters in the
activation's order; ``s`` is the saved output y wherever the numba ``grad`` reads y (the description's
``output_grad``), else x. :mod:`actlab.kernels._triton` writes the forward and backward kernels around them.

Both backends are written by hand from the same formulas (the numba form uses SIMD-friendly blocks and the fast
inverse square root, which have no Triton counterpart), so ``tests/kernels/test_triton.py`` holds them together:
every registry entry's Triton kernel is checked against its float64 reference and its numba kernel over the whole
float range, special values and parameter gradients included. The special-value choices are the numba ones: the
ISRU family returns ±1/√α once |√α·x| > 1e10 and never forms αx² unguarded; x·g(x) forms return the limit (±0) where
g underflows, not ∞·0.

Importing this module imports Triton; only the generated kernel modules import it.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ..kernels.tmath import INV_SQRT_2PI, expm1, ndtr, sigmoid, softplus, tanh
from ._baselines import GELU_TANH_CUBIC, SELU_ALPHA, SELU_SCALE, SQRT_2_OVER_PI

# Constants are tl.constexpr (Triton reads no other globals) and stand to the right of a tensor: under the
# interpreter, constexpr * tensor would wrap the tensor in a constexpr.
_BIG = tl.constexpr(1e10)
_SELU_L = tl.constexpr(SELU_SCALE)
_SELU_LA = tl.constexpr(SELU_SCALE * SELU_ALPHA)
_GELU_C = tl.constexpr(2.0 * SQRT_2_OVER_PI)
_GELU_A = tl.constexpr(GELU_TANH_CUBIC)
_GELU_A3 = tl.constexpr(3.0 * GELU_TANH_CUBIC)


# ----------------------------------------------------------------------------------------- ISRU family
@triton.jit
def _isru(v, alpha):
    sa = tl.sqrt(alpha)
    u = sa * v
    r = v * tl.rsqrt(1.0 + u * u)
    lim = tl.where(v > 0.0, 1.0 / sa, -1.0 / sa)
    return tl.where(tl.abs(u) > _BIG, lim, r)


@triton.jit
def _isru_slope_y(y, alpha):
    t = 1.0 - alpha * y * y  # = 1/(1 + αx²); clamped where y has rounded to ±1/√α
    t = tl.where(t < 0.0, 0.0, t)  # not tl.maximum: it drops NaN
    return t * tl.sqrt(t)


@triton.jit
def isru_f(v, alpha):
    return _isru(v, alpha)


@triton.jit
def isru_grad(y, alpha):
    return _isru_slope_y(y, alpha), -0.5 * y * y * y


@triton.jit
def isrlu_f(v, alpha):
    return tl.where(v >= 0.0, v, _isru(v, alpha))


@triton.jit
def isrlu_grad(y, alpha):
    pos = y >= 0.0
    return tl.where(pos, 1.0, _isru_slope_y(y, alpha)), tl.where(pos, 0.0, -0.5 * y * y * y)


@triton.jit
def isru_sigmoid_f(v, alpha):
    return 0.5 + 0.5 * _isru(0.5 * v, alpha)


@triton.jit
def isru_sigmoid_grad(y, alpha):
    s = (y - 0.5) + (y - 0.5)  # the ISRU part, isru(x/2) = 2y − 1
    return 0.25 * _isru_slope_y(s, alpha), -0.25 * s * s * s


# ----------------------------------------------------------------------------------------- ELU family
@triton.jit
def elu_f(v, alpha):
    return tl.where(v > 0.0, v, alpha * expm1(v))


@triton.jit
def elu_grad(y, alpha):
    pos = y > 0.0
    return tl.where(pos, 1.0, y + alpha), tl.where(pos, 0.0, y / alpha)


@triton.jit
def celu_f(v, alpha):
    return tl.where(v > 0.0, v, alpha * expm1(v / alpha))


@triton.jit
def celu_grad(v, alpha):
    z = v / alpha
    e = tl.exp(z)
    m = expm1(z)
    pos = v > 0.0
    da = tl.where(e == 0.0, m, m - z * e)  # z = −inf: −inf·0
    return tl.where(pos, 1.0, e), tl.where(pos, 0.0, da)


@triton.jit
def selu_f(v):
    return tl.where(v > 0.0, v * _SELU_L, expm1(v) * _SELU_LA)


@triton.jit
def selu_grad(y):
    return tl.where(y > 0.0, _SELU_L, y + _SELU_LA)


# ----------------------------------------------------------------------------------------- sigmoid family
@triton.jit
def swish_f(v, beta):
    s = sigmoid(beta * v)
    return tl.where(s == 0.0, 0.0 * tl.where(v < 0.0, -1.0, 1.0), v * s)


@triton.jit
def swish_grad(v, beta):
    bv = beta * v
    s = sigmoid(bv)
    oms = sigmoid(-bv)
    edge = (oms == 0.0) | (s == 0.0)
    g = tl.where(edge, s, s + s * (bv * oms))
    db = tl.where(edge, 0.0, (v * s) * (v * oms))
    return g, db


@triton.jit
def gelu_tanh_f(v):
    s = sigmoid(v * _GELU_C * (1.0 + v * v * _GELU_A))
    return tl.where(s == 0.0, 0.0, v * s)


@triton.jit
def gelu_tanh_grad(v):
    v2 = v * v
    z = v * _GELU_C * (1.0 + v2 * _GELU_A)
    s = sigmoid(z)
    oms = sigmoid(-z)
    g = s + (v * s) * oms * _GELU_C * (1.0 + v2 * _GELU_A3)
    return tl.where((oms == 0.0) | (s == 0.0), s, g)


@triton.jit
def sigmoid_f(v):
    return sigmoid(v)


@triton.jit
def sigmoid_grad(y):
    return y * (1.0 - y)


@triton.jit
def softplus_f(v):
    return softplus(v)


@triton.jit
def softplus_grad(v):
    return sigmoid(v)


@triton.jit
def tanh_f(v):
    return tanh(v)


@triton.jit
def tanh_grad(y):
    return (1.0 - y) * (1.0 + y)


@triton.jit
def _mish_t(v):
    e = tl.exp(v)
    n = e * (e + 2.0)
    t = tl.where(n == float("inf"), 1.0, n / (n + 2.0))  # tanh(softplus(v)) = ((1+e)² − 1)/((1+e)² + 1)
    return e, n, t


@triton.jit
def mish_f(v):
    e, n, t = _mish_t(v)
    return tl.where(t == 0.0, 0.0, v * t)


@triton.jit
def mish_grad(v):
    e, n, t = _mish_t(v)
    g = t + v * (2.0 / (n + 2.0)) * (1.0 + t) * (e / (1.0 + e))
    g = tl.where((e == 0.0) | (n == float("inf")), t, g)
    return tl.where(v != v, v, g)


# ----------------------------------------------------------------------------------------- GELU (erf)
@triton.jit
def gelu_f(v):
    cdf = ndtr(v)
    return tl.where(cdf == 0.0, 0.0, v * cdf)


@triton.jit
def gelu_grad(v):
    cdf = ndtr(v)
    dens = tl.exp(-0.5 * v * v) * INV_SQRT_2PI
    return tl.where(dens == 0.0, cdf, cdf + v * dens)


# ----------------------------------------------------------------------------------------- rectifier family
@triton.jit
def relu2_f(v):
    r = tl.where(v < 0.0, 0.0, v)  # not tl.maximum: it drops NaN
    return r * r


@triton.jit
def relu2_grad(v):
    return 2.0 * tl.where(v < 0.0, 0.0, v)


@triton.jit
def relu_f(v):
    return tl.where(v < 0.0, 0.0, v)


@triton.jit
def relu_grad(v):
    return tl.where(v <= 0.0, 0.0, tl.where(v != v, v, 1.0))  # NaN in, NaN slope (as the numba form)


@triton.jit
def identity_f(v):
    return v


@triton.jit
def identity_grad(v):
    return tl.where(v == v, 1.0, 1.0)  # 1 everywhere, NaN and ±inf included, as a tensor
