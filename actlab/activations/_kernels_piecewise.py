"""Fused-kernel descriptions of the piecewise and trigonometric zoo entries: leaky ReLU, hard swish and the
functions found by Ramachandran, Zoph & Le's search (the rest of the zoo's are in ``_kernels.py``, whose module
docstring states the conventions). Their Triton forms are in ``_triton_piecewise.py``.

sin, cos and atan are the engine's vectorisable ``vsin``/``vcos``/``vatan`` (float32; exact reduction at every
magnitude): with numba's ``np.cos`` (one libm call per element, a scalar loop) cos(x) − x ran 3× slower than
PyTorch's composite from 64K elements, atan(x)² − x 5× slower; x·asinh(x)² takes ``vasinh_wide``. Each form
returns the reference's value and slope at ±inf, where a plain formula would give ∞ − ∞ or ∞·0.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels import KernelDef, cast_like, select, sigmoid_pair, vasinh_wide, vatan, vcos, vsin, vtanh
from . import _baselines as N
from ._kernels import _jit, none_prep

__all__ = ["LEAKY_RELU", "HARDSWISH", "MAX_SIGMOID", "COS_MINUS_X", "MIN_SIN", "X_ASINH_SQ", "ATAN_SQ_MINUS_X",
           "MAX_TANH", "SINC_PLUS_X"]

_TL = f"{__package__}._triton_piecewise:"


# ----------------------------------------------------------------------------------------- rectifiers
@_jit
def leaky_relu_prep(x, p, k):
    return cast_like(p[0], x), cast_like(0.0, x), cast_like(1.0, x)


@_jit
def leaky_relu_f(v, c, k):
    return select(v > c[1], v, c[0] * v)  # NaN: s·NaN; −0.0 stays −0.0, as F.leaky_relu


@_jit
def leaky_relu_grad(v, c, k):
    pos = v > c[1]
    # the slope at 0 is s, as aten's leaky_relu_backward; NaN in gives a NaN slope (aten's gives s)
    return select(v != v, v, select(pos, c[2], c[0])), select(pos, c[1], v)


# The module is F.leaky_relu itself (module_native, as ReLU); the operator and apply run this kernel.
LEAKY_RELU = KernelDef(leaky_relu_prep, leaky_relu_f, leaky_relu_grad, native=N.LEAKY_RELU_OP,
                       triton=_TL + "leaky_relu", module_native=True)


@_jit
def hardswish_prep(x, p, k):
    return cast_like(0.0, x), cast_like(1.0, x), cast_like(2.0, x), cast_like(3.0, x), cast_like(6.0, x)


@_jit
def hardswish_f(v, c, k):
    zero, one, two, three, six = c
    t = v + three
    r = select(t > six, six, t)
    # x ≤ −3 gives −0.0 (x·0), −inf included (aten's hardswish gives NaN there: −inf·0)
    return select(t < zero, -zero, v * (r / six))


@_jit
def hardswish_grad(v, c, k):
    zero, one, two, three, six = c
    t = v + three
    return select(t < zero, zero, select(t > six, one, (two * v + three) / six)), zero


# Not module_native: aten's hardswish is NaN at −inf, where the limit (and the reference) is −0.0.
HARDSWISH = KernelDef(hardswish_prep, hardswish_f, hardswish_grad, native=N.HARDSWISH_OP, triton=_TL + "hardswish")


# ----------------------------------------------------------------------------------------- searched functions
@_jit
def sinc_prep(x, p, k):
    # 0, 1, then the cut-off and the series of sinc′ = (x cos x − sin x)/x² near 0
    return (cast_like(0.0, x), cast_like(1.0, x), cast_like(0.1, x), cast_like(-1.0 / 3.0, x),
            cast_like(1.0 / 30.0, x), cast_like(-1.0 / 840.0, x), cast_like(1.0 / 45360.0, x))


@_jit
def max_sigmoid_f(v, c, k):
    s = sigmoid_pair(v, c[2])[0]
    return select(v > s, v, s)  # NaN: σ(NaN) = NaN


@_jit
def max_sigmoid_grad(v, c, k):
    s, oms = sigmoid_pair(v, c[2])
    return select(v > s, c[2], s * oms), c[0]


MAX_SIGMOID = KernelDef(none_prep, max_sigmoid_f, max_sigmoid_grad, triton=_TL + "max_sigmoid")


@_jit
def cos_minus_x_f(v, c, k):
    return select(math.isinf(v), -v, vcos(v) - v)  # ∓inf at ±inf (cos(±inf) is NaN)


@_jit
def cos_minus_x_grad(v, c, k):
    return select(math.isinf(v), -c[2], -vsin(v) - c[2]), c[0]


COS_MINUS_X = KernelDef(none_prep, cos_minus_x_f, cos_minus_x_grad, triton=_TL + "cos_minus_x")


@_jit
def min_sin_f(v, c, k):
    return select(v <= c[0], v, vsin(v))  # x ≤ sin x exactly when x ≤ 0; NaN at +inf, as the reference


@_jit
def min_sin_grad(v, c, k):
    # at 0 both sides have slope 1; at +inf the reference's limit is a constant (NaN), so its slope is 0
    return select(v <= c[0], c[2], select(math.isinf(v), c[0], vcos(v))), c[0]


MIN_SIN = KernelDef(none_prep, min_sin_f, min_sin_grad, triton=_TL + "min_sin")


# In float64 inside (one rounding to float32 on store): x·asinh(x)² in float32 rounds three times, 2 ulp at 1e19.
# vasinh_wide gives a float32's asinh in float64, vectorised (np.arcsinh is a scalar libm call: 0.65× the composite).
@_jit
def x_asinh_sq_f(v, c, k):
    w = np.float64(v)
    s = vasinh_wide(v)
    return w * s * s


@_jit
def x_asinh_sq_grad(v, c, k):
    w = np.float64(v)
    s = vasinh_wide(v)
    # x/√(1 + x²), which is ±1 to rounding once |x| > 1e150 (where x² would overflow)
    q = select(abs(w) > 1e150, math.copysign(1.0, w), w / np.sqrt(1.0 + w * w))
    return s * s + 2.0 * s * q, 0.0


X_ASINH_SQ = KernelDef(none_prep, x_asinh_sq_f, x_asinh_sq_grad, triton=_TL + "x_asinh_sq")


@_jit
def atan_sq_minus_x_f(v, c, k):
    a = vatan(v)
    return a * a - v


@_jit
def atan_sq_minus_x_grad(v, c, k):
    zero, half, one, two = c
    return two * vatan(v) / (one + v * v) - one, zero  # x² = inf gives 0, the limit


ATAN_SQ_MINUS_X = KernelDef(none_prep, atan_sq_minus_x_f, atan_sq_minus_x_grad, triton=_TL + "atan_sq_minus_x")


@_jit
def max_tanh_f(v, c, k):
    return select(v >= c[0], v, vtanh(v))  # x ≥ tanh x exactly when x ≥ 0


@_jit
def max_tanh_grad(v, c, k):
    t = vtanh(v)
    one = c[2]
    return select(v >= c[0], one, (one - t) * (one + t)), c[0]


MAX_TANH = KernelDef(none_prep, max_tanh_f, max_tanh_grad, triton=_TL + "max_tanh")


@_jit
def sinc_plus_x_f(v, c, k):
    zero, one = c[0], c[1]
    zs = select(v == zero, one, v)
    s = select(v == zero, one, vsin(zs) / zs)
    return select(math.isinf(v), v, s + v)


@_jit
def sinc_plus_x_grad(v, c, k):
    zero, one, cut, a1, a2, a3, a4 = c
    # sinc′ = (x cos x − sin x)/x² cancels near 0: there the series, exact to float32/64 rounding for |x| < 0.1
    z2 = v * v
    series = v * (a1 + z2 * (a2 + z2 * (a3 + z2 * a4)))
    small = abs(v) < cut
    zs = select(small, one, v)
    d = select(small, series, (zs * vcos(zs) - vsin(zs)) / (zs * zs))
    return select(math.isinf(v), one, d + one), zero


SINC_PLUS_X = KernelDef(sinc_prep, sinc_plus_x_f, sinc_plus_x_grad, triton=_TL + "sinc_plus_x")
