"""The Triton element functions of ``_kernels_piecewise.py`` (leaky ReLU, hard swish, the searched functions), in
float32, with the numba forms' special-value choices; ``tests/kernels/test_triton.py`` holds the two together.

Importing this module imports Triton; only the generated kernel modules import it.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ..kernels.tmath import asinh, atan, sigmoid, tanh

_INF = tl.constexpr(float("inf"))


@triton.jit
def leaky_relu_f(v, s):
    return tl.where(v > 0.0, v, s * v)


@triton.jit
def leaky_relu_grad(v, s):
    pos = v > 0.0
    return tl.where(v != v, v, tl.where(pos, 1.0, s)), tl.where(pos, 0.0, v)


@triton.jit
def hardswish_f(v):
    t = v + 3.0
    r = tl.where(t > 6.0, 6.0, t)
    return tl.where(t < 0.0, -0.0, v * (r / 6.0))


@triton.jit
def hardswish_grad(v):
    t = v + 3.0
    return tl.where(t < 0.0, 0.0, tl.where(t > 6.0, 1.0, (2.0 * v + 3.0) / 6.0))


@triton.jit
def max_sigmoid_f(v):
    s = sigmoid(v)
    return tl.where(v > s, v, s)


@triton.jit
def max_sigmoid_grad(v):
    s = sigmoid(v)
    return tl.where(v > s, 1.0, s * (1.0 - s))


@triton.jit
def cos_minus_x_f(v):
    return tl.where(tl.abs(v) == _INF, -v, tl.cos(v) - v)


@triton.jit
def cos_minus_x_grad(v):
    return tl.where(tl.abs(v) == _INF, -1.0, -tl.sin(v) - 1.0)


@triton.jit
def min_sin_f(v):
    return tl.where(v <= 0.0, v, tl.sin(v))


@triton.jit
def min_sin_grad(v):
    return tl.where(v <= 0.0, 1.0, tl.where(v == _INF, 0.0, tl.cos(v)))


@triton.jit
def x_asinh_sq_f(v):
    s = asinh(v)
    return v * s * s


@triton.jit
def x_asinh_sq_grad(v):
    s = asinh(v)
    q = tl.where(tl.abs(v) > 1e18, tl.where(v < 0.0, -1.0, 1.0), v / tl.sqrt(1.0 + v * v))  # x² overflows
    return s * s + 2.0 * s * q


@triton.jit
def atan_sq_minus_x_f(v):
    a = atan(v)
    return a * a - v


@triton.jit
def atan_sq_minus_x_grad(v):
    return 2.0 * atan(v) / (1.0 + v * v) - 1.0


@triton.jit
def max_tanh_f(v):
    return tl.where(v >= 0.0, v, tanh(v))


@triton.jit
def max_tanh_grad(v):
    t = tanh(v)
    return tl.where(v >= 0.0, 1.0, (1.0 - t) * (1.0 + t))


@triton.jit
def sinc_plus_x_f(v):
    zs = tl.where(v == 0.0, 1.0, v)
    s = tl.where(v == 0.0, 1.0, tl.sin(zs) / zs)
    return tl.where(tl.abs(v) == _INF, v, s + v)


@triton.jit
def sinc_plus_x_grad(v):
    z2 = v * v
    series = v * (-1.0 / 3.0 + z2 * (1.0 / 30.0 + z2 * (-1.0 / 840.0 + z2 * (1.0 / 45360.0))))
    small = tl.abs(v) < 0.1
    zs = tl.where(small, 1.0, v)
    d = tl.where(small, series, (zs * tl.cos(zs) - tl.sin(zs)) / (zs * zs))
    return tl.where(tl.abs(v) == _INF, 1.0, d + 1.0)
