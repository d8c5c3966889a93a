"""Triton helpers for generated expression kernels that ``actlab.kernels.tmath`` does not provide (the Triton
counterpart of ``_kmath``), in float32. NaN in gives NaN out; each follows the numba helper of the same name.

Triton's core has no atan, asinh, sinh or cosh (libdevice's are CUDA-only and absent under the interpreter): atan
and asinh come from ``actlab.kernels.tmath`` (the zoo's searched functions use them too), and sinh is built here
through ``expm1`` (accurate near 0).

Importing this module imports Triton; only generated Triton kernel modules import it.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ..kernels.tmath import asinh as _tl_asinh
from ..kernels.tmath import atan as _tl_atan
from ..kernels.tmath import expm1
from ..kernels.tmath import sigmoid as _tl_sigmoid
from ..kernels.tmath import softplus as _tl_softplus
from ..kernels.tmath import tanh as _tl_tanh

__all__ = ["_exp", "_log", "_sqrt", "_abs", "_sin", "_cos", "_sinh", "_cosh", "_tanh", "_asinh", "_atan", "_erf",
           "_sigmoid", "_softplus", "_max", "_min", "_sign", "_heaviside", "_sinc", "_sincd", "_pow"]



# Triton reads only jit functions and constexprs as globals, so even the one-liners are jit functions (inlined).
@triton.jit
def _exp(z):
    return tl.exp(z)


@triton.jit
def _log(z):
    return tl.log(z)


@triton.jit
def _sqrt(z):
    return tl.sqrt(z)


@triton.jit
def _abs(z):
    return tl.abs(z)


@triton.jit
def _sin(z):
    return tl.sin(z)


@triton.jit
def _cos(z):
    return tl.cos(z)


@triton.jit
def _tanh(z):
    return _tl_tanh(z)


@triton.jit
def _erf(z):
    return tl.math.erf(z)


@triton.jit
def _sigmoid(z):
    return _tl_sigmoid(z)


@triton.jit
def _softplus(z):
    return _tl_softplus(z)


@triton.jit
def _max(a, b):
    # a + b only where a comparison failed, i.e. a NaN is involved (torch.maximum propagates NaN too).
    return tl.where(a > b, a, tl.where(b >= a, b, a + b))


@triton.jit
def _min(a, b):
    return tl.where(a < b, a, tl.where(b <= a, b, a + b))


@triton.jit
def _sign(z):
    return tl.where(z > 0.0, 1.0, tl.where(z < 0.0, -1.0, z * 0.0))


@triton.jit
def _heaviside(z):
    # H(0) = 1/2 as in sympy, which is also how torch.maximum/minimum split a tie's gradient.
    return tl.where(z > 0.0, 1.0, tl.where(z < 0.0, 0.0, tl.where(z != z, z, 0.5)))


@triton.jit
def _sinc(z):
    zs = tl.where(z == 0.0, 1.0, z)
    return tl.where(z == 0.0, 1.0, tl.sin(zs) / zs)


@triton.jit
def _sincd(z):
    # (z cos z − sin z)/z² cancels near 0; the series is exact to float32 rounding for |z| < 0.1.
    z2 = z * z
    series = z * (-1.0 / 3.0 + z2 * (1.0 / 30.0 + z2 * (-1.0 / 840.0 + z2 * (1.0 / 45360.0))))
    zs = tl.where(tl.abs(z) < 0.1, 1.0, z)
    return tl.where(tl.abs(z) < 0.1, series, (zs * tl.cos(zs) - tl.sin(zs)) / (zs * zs))


@triton.jit
def _sinh(z):
    u = expm1(tl.abs(z))
    r = tl.where(u == float("inf"), u, 0.5 * (u + u / (u + 1.0)))
    return tl.where(z < 0.0, -r, r)


@triton.jit
def _cosh(z):
    e = tl.exp(tl.abs(z))
    return 0.5 * (e + 1.0 / e)


@triton.jit
def _asinh(z):
    return _tl_asinh(z)


@triton.jit
def _atan(z):
    return _tl_atan(z)


@triton.jit
def _pow(b, p):
    # a power sympy left general (not an integer, ±1/2 or ±3/2): NaN for b < 0, as numba's ** gives.
    return tl.exp(p * tl.log(b))
