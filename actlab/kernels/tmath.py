"""Triton building blocks for element functions, in float32, correct on the whole float range (the GPU counterpart
of ``_math``/``_special``).

Only ``triton.language`` core math is used: libdevice's ``expm1``/``log1p``/``erfc`` are CUDA-only and return
nothing under the interpreter (``TRITON_INTERPRET=1``), where the tests run. The accurate forms are built instead:

* ``expm1``/``log1p`` by Kahan's trick, exact to a few ulp: (u − 1)·x / log(u) with u = eˣ cancels the rounding of
  u, and log(u)·x/(u − 1) with u = 1 + x likewise;
* ``ndtr`` (Φ) from erf above 0 and from a rational erfc approximation below (Numerical Recipes' ``erfcc``,
  relative error < 1.2e-7), so the left tail keeps its relative accuracy where 1 + erf would cancel;
* ``tanh`` from ``expm1``, so that it keeps relative accuracy near 0;
* ``atan`` by Cephes' ``atanf`` range reduction and polynomial (about 1 ulp), and ``asinh`` through ``log1p``
  (accurate near 0) and log(2|x|) beyond 1e18 (where x² would overflow): Triton's core has neither.

Importing this module imports Triton; only Triton element-function modules import it.
"""

from __future__ import annotations

import math

import triton
import triton.language as tl

__all__ = ["expm1", "log1p", "sigmoid", "softplus", "tanh", "ndtr", "atan", "asinh", "INV_SQRT_2PI"]

INV_SQRT_2PI = tl.constexpr(1.0 / math.sqrt(2.0 * math.pi))
_INV_SQRT2 = tl.constexpr(1.0 / math.sqrt(2.0))
_PI_2 = tl.constexpr(math.pi / 2)
_PI_4 = tl.constexpr(math.pi / 4)
_LN2 = tl.constexpr(math.log(2.0))


@triton.jit
def expm1(v):
    u = tl.exp(v)
    r = (u - 1.0) * v / tl.log(u)
    r = tl.where(u == 1.0, v, r)
    r = tl.where(u == 0.0, -1.0, r)
    return tl.where(u == float("inf"), u, r)


@triton.jit
def log1p(v):
    u = 1.0 + v
    r = tl.log(u) * v / (u - 1.0)
    r = tl.where(u == 1.0, v, r)
    return tl.where(u == float("inf"), u, r)


@triton.jit
def sigmoid(v):
    return 1.0 / (1.0 + tl.exp(-v))


@triton.jit
def softplus(v):
    """log(1 + eˣ) = max(x, 0) + log1p(e^−|x|): no overflow, full relative accuracy in the left tail."""
    return tl.where(v > 0.0, v, 0.0) + log1p(tl.exp(-tl.abs(v)))


@triton.jit
def tanh(v):
    a = tl.abs(v)
    t = expm1(-2.0 * a)
    r = tl.where(a < 0.55, -t / (t + 2.0), 1.0 - 2.0 / (tl.exp(2.0 * a) + 1.0))  # near 1 the second rounds best
    return tl.where(v < 0.0, -r, r)


@triton.jit
def _erfc_pos(z):
    # z ≥ 0; exp(−z²) underflows to 0 in the far tail, which is the right limit. z² is split as h² + (z − h)(z + h)
    # with h = z rounded down to 1/256: h² is exact in float32 (for z < 2¹²), so the exponent's rounding does not
    # grow with z² (a plain −z·z cost 1e-5 relative at z ≈ 10).
    z = tl.where(z > 20.0, 20.0, z)  # erfc(20) ≈ 5e-176 is 0 in float32 already; keeps z·256 finite (NaN passes)
    h = tl.floor(z * 256.0) / 256.0
    t = 1.0 / (1.0 + 0.5 * z)
    p = -0.82215223 + t * 0.17087277
    p = 1.48851587 + t * p
    p = -1.13520398 + t * p
    p = 0.27886807 + t * p
    p = -0.18628806 + t * p
    p = 0.09678418 + t * p
    p = 0.37409196 + t * p
    p = 1.00002368 + t * p
    return t * tl.exp(-h * h) * tl.exp(-(z - h) * (z + h) - 1.26551223 + t * p)


@triton.jit
def ndtr(v):
    """Φ(v), the standard normal CDF."""
    z = v * _INV_SQRT2
    return tl.where(v < 0.0, 0.5 * _erfc_pos(-z), 0.5 * (1.0 + tl.math.erf(z)))


@triton.jit
def asinh(z):
    a = tl.abs(z)
    small = log1p(a + a * a / (1.0 + tl.sqrt(1.0 + a * a)))
    r = tl.where(a > 1e18, tl.log(a) + _LN2, small)
    return tl.where(z < 0.0, -r, r)


@triton.jit
def atan(z):
    a = tl.abs(z)
    big = a > 2.414213562373095  # tan(3π/8)
    mid = a > 0.4142135623730950  # tan(π/8)
    y0 = tl.where(big, _PI_2, tl.where(mid, _PI_4, 0.0))
    w = tl.where(big, -1.0 / a, tl.where(mid, (a - 1.0) / (a + 1.0), a))
    w2 = w * w
    p = ((8.05374449538e-2 * w2 - 1.38776856032e-1) * w2 + 1.99777106478e-1) * w2 - 3.33329491539e-1
    r = y0 + (p * w2 * w + w)
    return tl.where(z < 0.0, -r, r)
