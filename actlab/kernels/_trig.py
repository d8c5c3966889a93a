"""Vectorisable atan, sin and cos for numba kernels (float32; float64 calls libm, scalar), alongside :mod:`._math`
and :mod:`._special` (same conventions: selects, no branches, dtype-dispatched).

numba has no SVML here, so ``np.arctan`` inside a loop is one libm call per element and the loop stays scalar: the
zoo's atan(x)² − x ran 5× slower than PyTorch's composite (which vectorises with Sleef) at 64K elements and up. The
float32 form is Cephes ``atanf`` (reduction by tan(π/8) and tan(3π/8), degree-4 polynomial), ≤ 2 ulp over the whole
range, as the Triton form (``tmath.atan``); checked in ``tests/kernels/test_math.py``.

sin and cos (float32) reduce *every* float32 argument exactly enough for a correctly rounded result at any
magnitude, so the kernels stay exact for huge inputs (a Cephes-style Cody–Waite reduction in float32 loses the
quadrant beyond |x| ≈ 8192). The reduction is Payne–Hanek done in float64 with a table: a finite float32
is m·2^e with m < 2^24 an integer, and x·2/π mod 4 is m times V_e = 2^e·2/π mod 4. :data:`_RED` holds V_e for every
exponent, cut at fixed bit positions into four 24-bit pieces (bits 2^1…2^-22, 2^-23…2^-46, ...). m times a piece is
exact in float64 (24 + 24 bits); the first product taken mod 4 and the second added are exact too (< 8 with
granularity 2^-46, 49 bits), so the quadrant and the leading 46 bits of the fraction are exact and the last two
pieces add 48 more: the reduced argument's absolute error is about 2^-70, against the closest a float32 comes to a
multiple of π/2 (about 2^-30 away). sin and cos of the reduced argument (|r| ≤ π/4) are degree-11/12 Taylor
polynomials in float64, rounded once to float32 on return. |x| < π/4 skips the reduction (r = x, which keeps
subnormals and −0.0). Every step is a select, a multiply-add or a table read (a gather), so the loops vectorise.

``vasinh_wide`` is asinh of a float32 *returned in float64* (≤ 3 float64 ulp), for kernels that compute in float64
inside and round once on store (x·asinh(x)²): log1p(a + a²/(1 + √(1 + a²))) with a float64 log by the atanh series,
vectorised, where numba's ``np.arcsinh`` is a scalar libm call. For a float64 argument it is libm's ``asinh``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._math import _ERRORS, _F, _FONE, _FZERO, _INLINE, _dispatch, bits_to_f64, f32_to_bits, f64_to_bits, select

__all__ = ["vatan", "vsin", "vcos", "vasinh_wide"]

_T3P8, _TP8 = _F(2.414213562373095), _F(0.4142135623730950)
_PIO2, _PIO4 = _F(math.pi / 2), _F(math.pi / 4)
_FLT_MAX = _F(np.finfo(np.float32).max)
_AT = (_F(8.05374449538e-2), _F(-1.38776856032e-1), _F(1.99777106478e-1), _F(-3.33329491539e-1))


@njit(inline=_INLINE, error_model=_ERRORS)
def _atan_f32(x):
    a = abs(x)
    big = a > _T3P8
    mid = a > _TP8
    y0 = select(big, _PIO2, select(mid, _PIO4, _FZERO))
    w = select(big, -_FONE / a, select(mid, (a - _FONE) / (a + _FONE), a))
    w2 = w * w
    p = ((_AT[0] * w2 + _AT[1]) * w2 + _AT[2]) * w2 + _AT[3]
    r = y0 + (p * w2 * w + w)
    return select(x < _FZERO, -r, select(x == _FZERO, x, r))  # odd; ±0 kept; NaN passes


@njit(inline=_INLINE, error_model=_ERRORS)
def _atan_f64(x):
    return np.arctan(x)


vatan = _dispatch(_atan_f32, _atan_f64, "vatan", "atan; float32 vectorised (Cephes atanf), float64 libm.")


# ----------------------------------------------------------------------------------------- sin / cos


def _two_over_pi(bits: int) -> int:
    """floor(2/π · 2^bits), from Machin's formula π = 16·atan(1/5) − 4·atan(1/239) in integers (30 guard bits)."""
    one = 1 << (bits + 64)

    def atan_inv(k: int) -> int:  # atan(1/k)·one by its series
        total, term, n, k2 = 0, one // k, 1, k * k
        while term:
            total += term // n if n % 4 == 1 else -(term // n)
            term //= k2
            n += 2
        return total

    pi = 16 * atan_inv(5) - 4 * atan_inv(239)  # π·2^(bits+64), error a few units
    return ((2 * one) << (bits + 64)) // pi >> 64


def _reduction_table() -> np.ndarray:
    # _RED[b, k]: for a float32 of biased exponent b (x = m·2^(b−150)), the bits of V = 2^(b−150)·2/π mod 4 at
    # positions 2^(1−24k) … 2^(−22−24k), as a float64. Exponent 255 (inf/NaN) reads zeros; the caller selects NaN.
    n = 400
    g = _two_over_pi(n)
    table = np.zeros((256, 4), dtype=np.float64)
    for b in range(255):
        e = b - 150
        for k in range(4):
            shift = 22 + 24 * k
            chunk = (g >> (n - e - shift)) & ((1 << 24) - 1)  # floor(V·2^shift) mod 2^24
            table[b, k] = math.ldexp(chunk, -shift)
    return table


_RED = _reduction_table()
_RED0, _RED1, _RED2, _RED3 = (np.ascontiguousarray(_RED[:, k]) for k in range(4))
_PIO2_D = math.pi / 2
_MANT = np.int32(0x7FFFFF)
_HIDDEN = np.int32(0x800000)
_ABS = np.int32(0x7FFFFFFF)
# Taylor coefficients of sin (r³ … r¹¹) and cos (r² … r¹²): on |r| ≤ π/4 the next terms are below 1e-11 relative.
_SIN_C = tuple(float((-1) ** k / math.factorial(2 * k + 1)) for k in range(1, 6))
_COS_C = tuple(float((-1) ** k / math.factorial(2 * k)) for k in range(1, 7))


@njit(inline=_INLINE, error_model=_ERRORS)
def _reduce_f32(x):
    """(r, q): |x| = r + q·π/2 (mod 2π) with |r| ≤ π/4 (plus 2^-21), r in float64, q in 0…3 (int64)."""
    u = f32_to_bits(x) & _ABS
    b = u >> np.int32(23)
    m = np.float64((u & _MANT) | _HIDDEN)
    s = m * _RED0[b]
    s = s - 4.0 * np.floor(s * 0.25)  # exact: x·2/π's bits from 2^1 down to 2^-22, mod 4
    s = s + m * _RED1[b]  # exact: < 8, granularity 2^-46
    n = np.rint(s)
    f = (s - n) + (m * _RED2[b] + m * _RED3[b])
    small = u < f32_to_bits(_PIO4)
    r = select(small, np.float64(abs(x)), f * _PIO2_D)
    q = select(small, np.int64(0), np.int64(n) & np.int64(3))
    return r, q


@njit(inline=_INLINE, error_model=_ERRORS)
def _sin_cos_poly(r):
    z = r * r
    sp = ((((_SIN_C[4] * z + _SIN_C[3]) * z + _SIN_C[2]) * z + _SIN_C[1]) * z + _SIN_C[0]) * z * r + r
    cp = (((((_COS_C[5] * z + _COS_C[4]) * z + _COS_C[3]) * z + _COS_C[2]) * z + _COS_C[1]) * z + _COS_C[0]) * z + 1.0
    return sp, cp


@njit(inline=_INLINE, error_model=_ERRORS)
def _sin_f32(x):
    r, q = _reduce_f32(x)
    sp, cp = _sin_cos_poly(r)
    v = select((q & np.int64(1)) == np.int64(0), sp, cp)
    v = select(q >= np.int64(2), -v, v)
    y = _F(select(x < _FZERO, -v, v))
    return select(abs(x) <= _FLT_MAX, select(x == _FZERO, x, y), x - x)  # ±0 kept; inf and NaN give NaN


@njit(inline=_INLINE, error_model=_ERRORS)
def _cos_f32(x):
    r, q = _reduce_f32(x)
    sp, cp = _sin_cos_poly(r)
    v = select((q & np.int64(1)) == np.int64(0), cp, sp)
    v = select((q == np.int64(1)) | (q == np.int64(2)), -v, v)
    return select(abs(x) <= _FLT_MAX, _F(v), x - x)


@njit(inline=_INLINE, error_model=_ERRORS)
def _sin_f64(x):
    return np.sin(x)


@njit(inline=_INLINE, error_model=_ERRORS)
def _cos_f64(x):
    return np.cos(x)


vsin = _dispatch(_sin_f32, _sin_f64, "vsin", "sin; float32 vectorised (table reduction, exact at any size), float64 "
                 "libm.")
vcos = _dispatch(_cos_f32, _cos_f64, "vcos", "cos; float32 vectorised (table reduction, exact at any size), float64 "
                 "libm.")


# ----------------------------------------------------------------------------------------- asinh, float32 → float64
_SQRT2 = math.sqrt(2.0)
_LN2 = math.log(2.0)
_EXP_MASK = np.int64(0x7FF) << np.int64(52)
_MANT64 = np.int64((1 << 52) - 1)
_ONE_EXP = np.int64(1023) << np.int64(52)
# 2·atanh(s)/s = 2·(1 + s²/3 + s⁴/5 + …): on |s| ≤ 3 − 2√2 (m in [√½, √2)) eleven terms reach 1e-18.
_ATANH_C = tuple(2.0 / (2 * k + 1) for k in range(11))


@njit(inline=_INLINE, error_model=_ERRORS)
def _log_ge1(u):
    """log(u) for a finite float64 u ≥ 1 (the only arguments _asinh_wide_f32 makes), a few float64 ulp."""
    b = f64_to_bits(u)
    e = np.float64((b >> np.int64(52)) - np.int64(1023))
    m = bits_to_f64((b & _MANT64) | _ONE_EXP)  # [1, 2)
    hi = m > _SQRT2
    m = select(hi, m * 0.5, m)
    e = select(hi, e + 1.0, e)
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    c = _ATANH_C
    p = c[10]
    for i in range(9, -1, -1):  # Horner; a constant trip count, which LLVM unrolls
        p = p * z + c[i]
    return e * _LN2 + s * p


@njit(inline=_INLINE, error_model=_ERRORS)
def _asinh_wide_f32(x):
    a = np.float64(abs(x))
    a2 = a * a  # exact for a float32 a (48 bits), and finite up to float32's max
    t = a + a2 / (1.0 + np.sqrt(1.0 + a2))
    u = 1.0 + t
    r = _log_ge1(u) + (t - (u - 1.0)) / u  # log1p(t): log(u) corrected by the rounding of 1 + t
    r = select(a <= _FLT_MAX, r, a)  # inf stays inf (a²/(1 + √(1 + a²)) would be inf/inf), NaN stays NaN
    return select(x < _FZERO, -r, select(x == _FZERO, np.float64(x), r))  # odd; ±0.0 kept


@njit(inline=_INLINE, error_model=_ERRORS)
def _asinh_f64(x):
    return np.arcsinh(x)


vasinh_wide = _dispatch(_asinh_wide_f32, _asinh_f64, "vasinh_wide", "asinh; a float32 gives a float64 (vectorised, "
                        "≤ 3 float64 ulp), a float64 libm's result.")
