"""Element functions of every hand-written kernel: ``prep``, ``f`` and ``grad`` (see :mod:`._drivers`).

Each is correct on the whole float range. Recurring points:

* constants come from ``prep`` already cast to the input dtype: a bare ``0.5`` would promote float32 to float64 and
  halve the vector width;
* x·g(x) forms give ∞·0 = NaN at ±∞; the limit is selected there (``copysign(0, x)`` keeps the sign of the zero);
* the ISRU family never forms αx² unguarded: with u = √α·x it returns ±1/√α once |u| > 1e10, where that is exact to
  rounding (1/(2u²) < 1e-20), so ±inf gives ±1/√α and huge |x| does not overflow;
* ``k`` is the Newton step count of the approximate inverse square root (−1: exact); other kernels ignore it.
"""

from __future__ import annotations

import math

import numpy as np
from numba.extending import register_jitable

from ._math import cast_like, exp_expm1, fast_rsqrt, fma, select, vexp, verfc, vsoftplus, vtanh



def _jit(fn):
    # A fresh register_jitable per function: numba's wrapper pops `inline` from a shared kwargs dict, so reusing one
    # decorator object silently inlines only the first function (and the loops then stop vectorising).
    return register_jitable(inline="always")(fn)

_BIG = 1e10
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_GELU_C = 2.0 * math.sqrt(2.0 / math.pi)  # 2·√(2/π): gelu_tanh(x) = x·σ(2√(2/π)(x + 0.044715x³))
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@_jit
def none_prep(x, p, k):
    return cast_like(0.0, x), cast_like(0.5, x), cast_like(1.0, x), cast_like(2.0, x)


# ----------------------------------------------------------------------------------------- ISRU family
@_jit
def isru_prep(x, p, k):
    sa = math.sqrt(p)
    return (cast_like(sa, x), cast_like(1.0 / sa, x), cast_like(_BIG, x), cast_like(1.0, x), cast_like(0.5, x),
            cast_like(0.0, x))


@_jit
def _isru_core(v, c, k):
    """(y, r³) with r = 1/√(1 + αv²)."""
    sa, ia, big, one, half, zero = c
    u = sa * v
    d = one + u * u
    r = one / np.sqrt(d) if k < 0 else fast_rsqrt(d, k)  # k is a compile-time constant: no branch remains
    y = v * r
    y = select(abs(u) > big, math.copysign(ia, v), y)
    g = r * r * r
    g = select(d < np.inf, g, zero)  # fast_rsqrt(inf) is garbage; the true slope there underflows to 0
    g = select(v != v, v, g)  # fast_rsqrt(NaN) is finite
    return y, g


@_jit
def isru_f(v, c, k):
    return _isru_core(v, c, k)[0]


@_jit
def isru_grad(v, c, k):
    y, g = _isru_core(v, c, k)
    return g, -c[4] * y * y * y  # ∂/∂α [v(1+αv²)^-½] = −v³r³/2 = −y³/2


@_jit
def isrlu_f(v, c, k):
    return select(v >= c[5], v, _isru_core(v, c, k)[0])


@_jit
def isrlu_grad(v, c, k):
    y, g = _isru_core(v, c, k)
    pos = v >= c[5]
    return select(pos, c[3], g), select(pos, c[5], -c[4] * y * y * y)


@_jit
def isru_sigmoid_f(v, c, k):
    half = c[4]
    return half + half * _isru_core(half * v, c, k)[0]


@_jit
def isru_sigmoid_grad(v, c, k):
    half = c[4]
    y, g = _isru_core(half * v, c, k)
    return half * half * g, -half * half * y * y * y


# ----------------------------------------------------------------------------------------- ELU family
@_jit
def elu_prep(x, p, k):
    return cast_like(p, x), cast_like(1.0, x), cast_like(0.0, x), cast_like(1.0 / p, x)


@_jit
def elu_f(v, c, k):
    return select(v > c[2], v, c[0] * exp_expm1(v)[1])


@_jit
def elu_grad(v, c, k):
    e, m = exp_expm1(v)
    pos = v > c[2]
    return select(pos, c[1], c[0] * e), select(pos, c[2], m)


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


@_jit
def selu_prep(x, p, k):
    return cast_like(SELU_SCALE, x), cast_like(SELU_SCALE * SELU_ALPHA, x), cast_like(0.0, x)


@_jit
def selu_f(v, c, k):
    return select(v > c[2], c[0] * v, c[1] * exp_expm1(v)[1])


@_jit
def selu_grad(v, c, k):
    return select(v > c[2], c[0], c[1] * exp_expm1(v)[0]), c[2]


# ----------------------------------------------------------------------------------------- sigmoid family
@_jit
def swish_prep(x, p, k):
    return cast_like(p, x), cast_like(1.0, x), cast_like(0.0, x)


@_jit
def _sigmoid_pair(u, one):
    """(σ(u), 1 − σ(u)), each with relative accuracy: e^{−|u|} never overflows, and neither side cancels."""
    t = vexp(-abs(u))
    r = one / (one + t)
    p = t * r
    pos = u >= 0
    return select(pos, r, p), select(pos, p, r)


@_jit
def _swish_core(v, c):
    return _sigmoid_pair(c[0] * v, c[1])


@_jit
def swish_f(v, c, k):
    s, _ = _swish_core(v, c)
    y = v * s
    return select(s == c[2], math.copysign(c[2], v), y)


@_jit
def swish_grad(v, c, k):
    b, one, zero = c
    s, oms = _swish_core(v, c)
    bv = b * v
    g = s + s * (bv * oms)
    g = select((oms == zero) | (s == zero), s, g)
    db = (v * s) * (v * oms)
    db = select((oms == zero) | (s == zero), zero, db)
    return g, db


@_jit
def gelu_tanh_prep(x, p, k):
    return (cast_like(_GELU_C, x), cast_like(0.044715, x), cast_like(3 * 0.044715, x), cast_like(1.0, x),
            cast_like(0.0, x))


@_jit
def _gelu_tanh_core(v, c):
    gc, a, a3, one, zero = c
    v2 = v * v
    s, oms = _sigmoid_pair(gc * v * (one + a * v2), one)
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


@_jit
def sigmoid_f(v, c, k):
    return _sigmoid_pair(v, c[2])[0]


@_jit
def sigmoid_grad(v, c, k):
    s, oms = _sigmoid_pair(v, c[2])
    return s * oms, c[0]


@_jit
def softplus_f(v, c, k):
    return vsoftplus(v)


@_jit
def softplus_grad(v, c, k):
    return _sigmoid_pair(v, c[2])[0], c[0]


@_jit
def tanh_f(v, c, k):
    return vtanh(v)


@_jit
def tanh_grad(v, c, k):
    zero, half, one, two = c
    a = abs(v)
    t = exp_expm1(a + a)[1]
    y = t / (t + two)
    g = (two / (t + two)) * (one + y)  # (1 − |y|)(1 + |y|) without cancellation
    g = select(t == np.inf, zero, g)
    return select(v != v, v, g), zero


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


# ----------------------------------------------------------------------------------------- GELU (erf)
@_jit
def gelu_prep(x, p, k):
    return (cast_like(0.0, x), cast_like(0.5, x), cast_like(1.0, x), cast_like(1.0 / math.sqrt(2.0), x),
            cast_like(1.0 / _SQRT_2PI, x))


@_jit
def gelu_f(v, c, k):
    zero, half, one, rs2, _ = c
    phi = half * verfc(-v * rs2)
    return select(phi == zero, math.copysign(zero, v), v * phi)


@_jit
def gelu_grad(v, c, k):
    zero, half, one, rs2, rs2pi = c
    phi = half * verfc(-v * rs2)
    h = v * v
    lo = fma(v, v, -h)  # v² = h + lo exactly; e^{−v²/2} ≈ e^{−h/2}(1 − lo/2)
    dens = vexp(-half * h) * (one - half * lo) * rs2pi
    dens = select(h == np.inf, zero, dens)
    g = phi + v * dens
    g = select(dens == zero, phi, g)
    return g, zero
