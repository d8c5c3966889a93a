"""The numba bindings of the element helpers (``actlab.expr._ops.HELPERS``) that generated kernels call.

The operator table's templates and the printed derivatives call backend-neutral names (``_exp``, ``_sqrt``…); this
module binds each to a numba-compilable function (``_tlmath`` binds the same names for Triton). The ones defined here
are inlined at numba-IR level and keep the argument's float type (float32 stays float32). NaN in gives NaN out.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from actlab.kernels import select, vasinh_wide, vatan, vcos, verf, vexp, vlog, vsigmoid, vsin, vsoftplus, vtanh

__all__ = ["like", "_exp", "_log", "_sqrt", "_abs", "_sin", "_cos", "_sinh", "_cosh", "_tanh", "_asinh", "_atan",
           "_erf", "_sigmoid", "_softplus", "_max", "_min", "_sign", "_heaviside", "_sinc", "_sincd", "_pow"]

# The vectorisable blocks of actlab.kernels where there is one, numpy's ufuncs (which numba compiles) elsewhere.
_exp, _log, _tanh, _erf, _sigmoid, _softplus = vexp, vlog, vtanh, verf, vsigmoid, vsoftplus
_sin, _cos, _atan = vsin, vcos, vatan
_sqrt, _sinh, _cosh = np.sqrt, np.sinh, np.cosh
_abs = abs


def like(value, z):  # type: ignore[no-untyped-def]
    """``value`` converted to the float type of the scalar ``z`` (inside numba)."""
    return type(z)(value)


@overload(like, inline="always")
def _like_ol(value, z):  # type: ignore[no-untyped-def]
    if z == types.float32:
        return lambda value, z: np.float32(value)
    return lambda value, z: np.float64(value)


@njit(inline="always")
def _asinh(z):  # type: ignore[no-untyped-def]
    # float32: the float64 asinh vasinh_wide gives, rounded once (vectorised; np.arcsinh is a libm call per element)
    return like(vasinh_wide(z), z)


@njit(inline="always")
def _max(a, b):  # type: ignore[no-untyped-def]
    # a + b only when a comparison failed, i.e. a NaN is involved (torch.maximum propagates NaN too).
    return a if a > b else (b if b >= a else a + b)


@njit(inline="always")
def _min(a, b):  # type: ignore[no-untyped-def]
    return a if a < b else (b if b <= a else a + b)


@njit(inline="always")
def _sign(z):  # type: ignore[no-untyped-def]
    return like(1.0, z) if z > 0 else (like(-1.0, z) if z < 0 else z * like(0.0, z))


@njit(inline="always")
def _heaviside(z):  # type: ignore[no-untyped-def]
    # H(0) = 1/2 as in sympy, which is also how torch.maximum/minimum split a tie's gradient.
    return like(1.0, z) if z > 0 else (like(0.0, z) if z < 0 else (z if z != z else like(0.5, z)))


# sinc and its derivative with selects, not branches: with sin/cos in a branch arm LLVM left sinc(x) − cos(x)'s
# loop scalar (7.9× slower than these forms).
@njit(inline="always")
def _sinc(z):  # type: ignore[no-untyped-def]
    zero = z == 0
    zs = select(zero, like(1.0, z), z)
    return select(zero, like(1.0, z), vsin(zs) / zs)


@njit(inline="always")
def _sincd(z):  # type: ignore[no-untyped-def]
    # (z cos z − sin z)/z² cancels near 0; the Taylor series is exact to float64 rounding for |z| < 0.1.
    small = abs(z) < 0.1
    z2 = z * z
    series = z * (like(-1.0 / 3.0, z) + z2 * (like(1.0 / 30.0, z) + z2 * (like(-1.0 / 840.0, z)
                                                                         + z2 * like(1.0 / 45360.0, z))))
    zs = select(small, like(1.0, z), z)
    return select(small, series, (zs * vcos(zs) - vsin(zs)) / (zs * zs))


@njit(inline="always")
def _pow(b, p):  # type: ignore[no-untyped-def]
    return b ** p
