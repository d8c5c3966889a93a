"""Vectorisable scalar building blocks for numba kernels (float32 and float64): primitives, exp/log, fast rsqrt.

The special functions built on them (σ, softplus, tanh, erf, the normal CDF) live in :mod:`._special`; the error
table below covers both modules.

numba here has no SVML, so ``math.exp``/``math.log``/``math.erf`` inside a ``prange`` loop stay scalar libm calls
and the loop does not vectorise. The functions below are written with selects, polynomials and bit casts only, so
LLVM turns a loop that calls them into AVX2 code. Each one dispatches on its argument type at compile time
(``float32`` → float32 constants and polynomials, ``float64`` → float64 ones; integers are treated as float64).
Small ones are left to LLVM's inliner, the log/erf chains are inlined at numba-IR level (see ``_INLINE_BIG``);
either way a loop calling them vectorises. Use ``select(c, a, b)`` rather than ``a if c else b`` in kernels: a
branch makes numba's IR (and compile time) grow and can keep LLVM from inlining. Use them from ``@njit`` code::

    from actlab.kernels._special import vsigmoid

    @njit(parallel=True, fastmath=SAFE_FASTMATH)
    def swish_forward(x, out):
        for i in prange(x.size):
            out[i] = x[i] * vsigmoid(x[i])

They can also be called from Python on one scalar (a compiled helper runs), which is what the tests do.

Special values follow IEEE/libm: NaN in → NaN out, ±inf and overflow/underflow give the limits, −0.0 is kept where
the function is odd. Maximum errors were measured against mpmath/float64 references on dense sweeps (see
``tests/kernels/test_math.py``); "ulp" is the float32 unit in the last place of the true result.

============  =====================================  ==========================================================
function      float32                                float64
============  =====================================  ==========================================================
``vexp``      ≤ 2 ulp; subnormal results kept        ≤ 2 ulp (degree-13 Taylor after ln 2 reduction)
``vexp_neg``  ≤ 2 ulp (x ≤ 0 only)                   ≤ 2 ulp (x ≤ 0 only)
``vexpm1``    ≤ 3 ulp                                ≤ 3 ulp
``vlog``      ≤ 2 ulp (cephes ``logf``)              libm ``log`` (scalar; not vectorised)
``vlog1p``    ≤ 3 ulp                                libm ``log1p`` (scalar)
``vsigmoid``  ≤ 3 ulp                                ≤ 3 ulp
``vsoftplus`` ≤ 3 ulp                                libm (scalar)
``vtanh``     ≤ 4 ulp                                ≤ 4 ulp
``verf``      ≤ 4 ulp                                libm ``erf`` (scalar)
``verfc``     ≤ 2e-6 relative (x² rounding)          libm ``erfc`` (scalar)
``ndtr_exp``  ≤ (4 + x²/4) ulp (x² rounding)         libm ``erfc`` (scalar) + vectorised exp
``fast_rsqrt`` see :func:`fast_rsqrt` (Newton steps)  see :func:`fast_rsqrt`
============  =====================================  ==========================================================

Fast-math: use :data:`SAFE_FASTMATH` (``{'contract'}``, which lets LLVM fuse multiply-adds) or none. ``nnan``/
``ninf`` (part of ``fastmath=True``) let LLVM delete the NaN/inf selects below; ``reassoc`` breaks the Cody–Waite
range reduction and the ``log1p`` correction; ``nsz`` loses −0.0.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

__all__ = ["SAFE_FASTMATH", "bits_to_f32", "bits_to_f64", "f32_to_bits", "f64_to_bits", "fma", "select", "cast_like",
           "vexp", "vexp_neg", "vexpm1", "exp_expm1", "vlog", "vlog1p", "fast_rsqrt",
           "RSQRT_MAGIC_F32", "RSQRT_MAGIC_F64", "FAST_RSQRT_MAX_REL"]

SAFE_FASTMATH = {"contract"}

# numba-IR inlining of these (nested) helpers multiplies compile time several-fold; LLVM inlines them anyway, since
# each one is small, and the loops that call them still vectorise (checked by the vectorisation test).
# The log and erf chains are too large for LLVM's inliner, so they are inlined at numba level instead (costlier to
# compile, so only where needed).
_INLINE: Literal["never"] = "never"
_INLINE_BIG: Literal["always"] = "always"
# Helpers compiled on their own (``_INLINE``) keep their own error model: numba's default ("python") guards every
# float division with a ZeroDivisionError branch, which survives LLVM's inlining and keeps the caller's loop
# scalar (vtanh measured 2.7× slower than native). IEEE division (±inf/NaN) is what these functions want anyway.
_ERRORS: Literal["numpy"] = "numpy"

RSQRT_MAGIC_F32 = 0x5F3759DF
RSQRT_MAGIC_F64 = 0x5FE6EB50C7B537A9

# ----------------------------------------------------------------------------------------- bit casts and fma
# Bit casts must be a single LLVM `bitcast` instruction: going through a temporary array (`.view`) blocks
# vectorisation (measured ≈ 20× slower).


def _int_to_width(builder, value, width: int):
    if value.type.width > width:
        return builder.trunc(value, ir.IntType(width))
    if value.type.width < width:
        return builder.sext(value, ir.IntType(width))
    return value


@intrinsic
def bits_to_f32(typingctx, i):
    """Reinterpret the low 32 bits of an integer as a float32."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(_int_to_width(builder, args[0], 32), ir.FloatType())
    return types.float32(i), codegen


@intrinsic
def bits_to_f64(typingctx, i):
    """Reinterpret a 64-bit integer as a float64."""
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(_int_to_width(builder, args[0], 64), ir.DoubleType())
    return types.float64(i), codegen


@intrinsic
def f32_to_bits(typingctx, x):
    """The bits of a float32 as an int32."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.int32(x), codegen


@intrinsic
def f64_to_bits(typingctx, x):
    """The bits of a float64 as an int64."""
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(x), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """a·b + c with one rounding (``llvm.fma``; a hardware instruction on this CPU). All three of one float type."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, sig, args):
        ty = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fma", [ty], ir.FunctionType(ty, [ty, ty, ty]))
        return builder.call(fn, args)
    return a(a, b, c), codegen


@intrinsic
def select(typingctx, cond, a, b):
    """``a if cond else b`` as one LLVM ``select``: no branch, so numba's IR stays small (fast compiles) and LLVM
    inlines and vectorises the caller. Both sides are evaluated; ``a`` and ``b`` must have the same type."""
    if not isinstance(cond, types.Boolean) or a != b:
        return None

    def codegen(context, builder, sig, args):
        return builder.select(args[0], args[1], args[2])
    return a(cond, a, b), codegen


def cast_like(value, arr):
    """``value`` converted to the dtype ``arr``'s elements are computed in (inside numba), e.g. a float64 parameter
    for a float32 kernel. bf16/fp16 arrays, which the loops receive as their ``uint16``/``int16`` bits
    (:mod:`._half`), compute in float32."""
    return arr.dtype.type(value)


@overload(cast_like, inline="always")
def _cast_like_ol(value, arr):
    if arr.dtype in (types.float32, types.uint16, types.int16):
        return lambda value, arr: np.float32(value)
    return lambda value, arr: np.float64(value)


def _dispatch(f32_impl, f64_impl, name: str, doc: str, inline: Literal["never", "always"] = _INLINE):
    """A one-argument function usable from numba (inlined, type-dispatched) and from Python (one scalar)."""
    def stub(x):
        return compiled(x)

    @overload(stub, inline=inline)
    def _ol(x):
        if x == types.float32:
            return lambda x: f32_impl(x)
        if isinstance(x, (types.Float, types.Integer, types.Boolean)):
            return lambda x: f64_impl(np.float64(x))
        return None

    compiled = njit(lambda x: stub(x))
    stub.__name__ = stub.__qualname__ = name
    stub.__doc__ = doc
    stub.__module__ = __name__
    return stub


# ----------------------------------------------------------------------------------------- exp / expm1
_F = np.float32
_LOG2E_F, _LN2_HI_F, _LN2_LO_F = _F(1.4426950408889634), _F(0.693359375), _F(-2.12194440e-4)
_EXP_LO_F, _EXP_HI_F = _F(-104.0), _F(89.0)
_I127 = np.int32(127)
_I23 = np.int32(23)
_I1 = np.int32(1)
_FHALF, _FONE, _FTWO, _FZERO = _F(0.5), _F(1.0), _F(2.0), _F(0.0)
# cephes expf: e^r = 1 + r + r²·P(r) on |r| ≤ ln2/2.
_EP_F = tuple(_F(c) for c in (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
                              1.6666665459e-1, 5.0000001201e-1))


@njit(inline=_INLINE, error_model=_ERRORS)
def _exp_parts_f32(x):
    # e^x = (1 + q)·s1·s2 with q = e^r − 1; the scale 2^n is split in two factors so that n ∈ [−150, 128] (subnormal
    # results and the exact overflow threshold) never leaves the normal exponent range of either factor.
    xc = select(x > _EXP_LO_F, x, _EXP_LO_F)
    xc = select(xc < _EXP_HI_F, xc, _EXP_HI_F)
    n = np.floor(xc * _LOG2E_F + _FHALF)
    r = xc - n * _LN2_HI_F - n * _LN2_LO_F
    p = _EP_F[0]
    p = p * r + _EP_F[1]
    p = p * r + _EP_F[2]
    p = p * r + _EP_F[3]
    p = p * r + _EP_F[4]
    p = p * r + _EP_F[5]
    q = r + r * r * p
    ni = np.int32(n)
    h = ni >> _I1
    s1 = bits_to_f32((h + _I127) << _I23)
    s2 = bits_to_f32((ni - h + _I127) << _I23)
    return q, s1, s2, ni


@njit(inline=_INLINE, error_model=_ERRORS)
def _exp_f32(x):
    q, s1, s2, _ = _exp_parts_f32(x)
    y = (_FONE + q) * s1 * s2
    return select(x == x, y, x)


@njit(inline=_INLINE, error_model=_ERRORS)
def _expm1_f32(x):
    q, s1, s2, ni = _exp_parts_f32(x)
    # n == 0 means |x| < ln2/2: q itself is accurate there; elsewhere e^x − 1 loses < 1 ulp.
    y = select(ni == 0, q, (_FONE + q) * s1 * s2 - _FONE)
    y = select(x == _FZERO, x, y)  # keeps −0.0
    return select(x == x, y, x)


_LOG2E_D, _LN2_HI_D, _LN2_LO_D = 1.4426950408889634, 6.93147180369123816490e-01, 1.90821492927058770002e-10
_EXP_LO_D, _EXP_HI_D = -746.0, 710.0
# Taylor coefficients of (e^r − 1 − r)/r² = Σ r^k/(k+2)!, truncated where r^14/14! < 2^-53 on |r| ≤ ln2/2.
_EP_D = tuple(1.0 / math.factorial(k + 2) for k in range(11, -1, -1))


@njit(inline=_INLINE, error_model=_ERRORS)
def expm1_reduced_f64(x):
    """(n, e^r − 1) with x = n·ln2 + r, |r| ≤ ln2/2 (Cody–Waite, Taylor to degree 13): every float64 exp's core.

    No clamp: callers bound x first (e^x = (1 + q)·2^n)."""
    n = np.floor(x * _LOG2E_D + 0.5)
    r = x - n * _LN2_HI_D - n * _LN2_LO_D
    p = _EP_D[0]
    p = p * r + _EP_D[1]
    p = p * r + _EP_D[2]
    p = p * r + _EP_D[3]
    p = p * r + _EP_D[4]
    p = p * r + _EP_D[5]
    p = p * r + _EP_D[6]
    p = p * r + _EP_D[7]
    p = p * r + _EP_D[8]
    p = p * r + _EP_D[9]
    p = p * r + _EP_D[10]
    p = p * r + _EP_D[11]
    return n, r + r * r * p


@njit(inline=_INLINE, error_model=_ERRORS)
def _exp_parts_f64(x):
    xc = select(x > _EXP_LO_D, x, _EXP_LO_D)
    n, q = expm1_reduced_f64(select(xc < _EXP_HI_D, xc, _EXP_HI_D))
    # float64 → int32 converts 4-wide on AVX2 (there is no vector float64 → int64 without AVX-512).
    ni = np.int64(np.int32(n))
    h = ni >> 1
    s1 = bits_to_f64((h + 1023) << 52)
    s2 = bits_to_f64((ni - h + 1023) << 52)
    return q, s1, s2, ni


@njit(inline=_INLINE, error_model=_ERRORS)
def _exp_f64(x):
    q, s1, s2, _ = _exp_parts_f64(x)
    y = (1.0 + q) * s1 * s2
    return select(x == x, y, x)


@njit(inline=_INLINE, error_model=_ERRORS)
def _expm1_f64(x):
    q, s1, s2, ni = _exp_parts_f64(x)
    y = select(ni == 0, q, (1.0 + q) * s1 * s2 - 1.0)
    y = select(x == 0.0, x, y)
    return select(x == x, y, x)


@njit(inline=_INLINE, error_model=_ERRORS)
def _exp_expm1_f32(x):
    q, s1, s2, ni = _exp_parts_f32(x)
    e = (_FONE + q) * s1 * s2
    m = select(ni == 0, q, e - _FONE)
    m = select(x == _FZERO, x, m)
    return select(x == x, e, x), select(x == x, m, x)


@njit(inline=_INLINE, error_model=_ERRORS)
def _exp_expm1_f64(x):
    q, s1, s2, ni = _exp_parts_f64(x)
    e = (1.0 + q) * s1 * s2
    m = select(ni == 0, q, e - 1.0)
    m = select(x == 0.0, x, m)
    return select(x == x, e, x), select(x == x, m, x)


def exp_expm1(x):
    """(e^x, e^x − 1) from one range reduction: kernels of the form α(eˣ − 1) need both (f and f′)."""
    return _exp_expm1_py(x)


@overload(exp_expm1, inline=_INLINE)
def _exp_expm1_ol(x):
    if x == types.float32:
        return lambda x: _exp_expm1_f32(x)
    if isinstance(x, (types.Float, types.Integer)):
        return lambda x: _exp_expm1_f64(np.float64(x))
    return None


_exp_expm1_py = njit(lambda x: exp_expm1(x))

vexp = _dispatch(_exp_f32, _exp_f64, "vexp", "e^x, vectorisable (range reduction by ln 2 + polynomial + 2ⁿ bit cast).")
vexpm1 = _dispatch(_expm1_f32, _expm1_f64, "vexpm1",
                   "e^x − 1, accurate near 0 (relative), vectorisable.")

# e^x for x ≤ 0 only (σ's e^{−|x|}, the Gaussian's e^{−x²/2}): one scale factor instead of vexp's two, and no upper
# clamp: about 7 fewer vector ops. 2^(n+64) is a normal float for every n of the clamped range, and the final ·2^−64
# rounds once into the subnormals, so the result is as accurate as vexp's. NaN passes the clamp (select).
_I191 = np.int32(127 + 64)
_TWO_M64_F = _F(2.0**-64)
# (e^r − 1 − r)/r² to degree 4 on |r| ≤ ln2/2, max rel. error of e^r 3.1e-9 (0.03 ulp; fitted here like the others).
# cephes' degree 5 is 100× more accurate than float32 can show; one multiply-add less per exp.
_EP4_F = tuple(_F(c) for c in (0.0013814537892718076, 0.00836874532004267, 0.0416683908313262, 0.16666520396770812,
                               0.49999993431891154))
_TWO_M64_D = 2.0**-64


@njit(inline=_INLINE, error_model=_ERRORS)
def expm1_reduced_f32(x):
    """(n, e^r − 1) with x = n·ln2 + r, |r| ≤ ln2/2, degree-4 polynomial (float32; no clamp, see the f64 twin)."""
    n = np.floor(x * _LOG2E_F + _FHALF)
    r = x - n * _LN2_HI_F - n * _LN2_LO_F
    p = _EP4_F[0]
    p = p * r + _EP4_F[1]
    p = p * r + _EP4_F[2]
    p = p * r + _EP4_F[3]
    p = p * r + _EP4_F[4]
    return n, r + r * r * p


@njit(inline=_INLINE, error_model=_ERRORS)
def _exp64_neg_f32(x):
    # 2^64·e^x for x ∈ [−105.2, 0] or NaN, unclamped (callers whose argument is already bounded skip a clamp).
    n, q = expm1_reduced_f32(x)
    return (_FONE + q) * bits_to_f32((np.int32(n) + _I191) << _I23)


@njit(inline=_INLINE, error_model=_ERRORS)
def _exp_neg_f32(x):
    return _exp64_neg_f32(select(x < _EXP_LO_F, _EXP_LO_F, x)) * _TWO_M64_F


@njit(inline=_INLINE, error_model=_ERRORS)
def _exp_neg_f64(x):
    n, q = expm1_reduced_f64(select(x < _EXP_LO_D, _EXP_LO_D, x))
    s = bits_to_f64((np.int64(np.int32(n)) + (1023 + 64)) << 52)
    return (1.0 + q) * s * _TWO_M64_D


vexp_neg = _dispatch(_exp_neg_f32, _exp_neg_f64, "vexp_neg",
                     "e^x for x ≤ 0 (or NaN), cheaper than vexp (one scale factor, one clamp); x > 0 is out of range.")

# ----------------------------------------------------------------------------------------- log / log1p
_FLT_MIN = _F(1.1754943508222875e-38)
_SQRTH_F = _F(0.70710678118654752440)
_TWO23_F = _F(8388608.0)
# cephes logf polynomial for log(1 + m) − m + m²/2 on m ∈ [√½ − 1, √2 − 1].
_LP_F = tuple(_F(c) for c in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                              1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                              3.3333331174e-1))
_F_INF = _F(np.inf)
_F_NAN = _F(np.nan)


@njit(inline=_INLINE_BIG)
def _log_f32(x):
    sub = x < _FLT_MIN
    xs = select(sub, x * _TWO23_F, x)
    b = f32_to_bits(xs)
    e = ((b >> _I23) & np.int32(0xFF)) - np.int32(126)
    e = select(sub, e - _I23, e)
    m = bits_to_f32((b & np.int32(0x007FFFFF)) | np.int32(0x3F000000))  # mantissa in [0.5, 1)
    small = m < _SQRTH_F
    e = select(small, e - _I1, e)
    m = select(small, m + m - _FONE, m - _FONE)
    fe = _F(e)
    z = m * m
    p = _LP_F[0]
    p = p * m + _LP_F[1]
    p = p * m + _LP_F[2]
    p = p * m + _LP_F[3]
    p = p * m + _LP_F[4]
    p = p * m + _LP_F[5]
    p = p * m + _LP_F[6]
    p = p * m + _LP_F[7]
    p = p * m + _LP_F[8]
    y = p * m * z
    y = y + fe * _LN2_LO_F
    y = y - _FHALF * z
    r = m + y
    r = r + fe * _LN2_HI_F
    r = select(x == _FZERO, -_F_INF, r)
    r = select(x < _FZERO, _F_NAN, r)
    r = select(x == _F_INF, x, r)
    return select(x == x, r, x)


@njit(inline=_INLINE_BIG)
def _log1p_f32(y):
    u = _FONE + y
    # log(u) − ((u − 1) − y)/u corrects for the rounding of 1 + y (Goldberg's trick); needs no `reassoc`.
    r = _log_f32(u) - ((u - _FONE) - y) / u
    r = select(u == _FONE, y, r)
    r = select(y == _F_INF, y, r)
    r = select(u == _FZERO, -_F_INF, r)
    return select(y == y, r, y)


@njit(inline=_INLINE_BIG)
def _log_f64(x):
    return math.log(x) if x > 0.0 else (-np.inf if x == 0.0 else np.nan) if x == x else x


@njit(inline=_INLINE_BIG)
def _log1p_f64(x):
    return math.log1p(x) if x > -1.0 else (-np.inf if x == -1.0 else np.nan) if x == x else x


vlog = _dispatch(_log_f32, _log_f64, "vlog", "Natural log; log(0) = −inf, log(x < 0) = NaN. float32 vectorised.",
                 inline=_INLINE_BIG)
vlog1p = _dispatch(_log1p_f32, _log1p_f64, "vlog1p", "log(1 + x), accurate near 0. float32 vectorised.",
                   inline=_INLINE_BIG)


# ----------------------------------------------------------------------------------------- fast inverse square root
# Measured maximum relative error of fast_rsqrt per Newton step count k (index), rounded up; see fast_rsqrt.
FAST_RSQRT_MAX_REL = {
    "float32": (3.45e-2, 1.76e-3, 4.74e-6, 1.5e-7, 1.1e-7),
    "float64": (3.45e-2, 1.76e-3, 4.61e-6, 3.2e-11, 2.8e-16),
}


def fast_rsqrt(x, k):
    """1/√x by the bit-level initial guess (Kinney 1986) and ``k`` Newton steps ``y ← y·(3/2 − x·y²/2)``.

    float32 uses the magic constant 0x5f3759df, float64 0x5fe6eb50c7b537a9. ``k`` should be a compile-time
    constant inside numba (pass it through ``numba.literally``) so that the steps unroll and the loop vectorises.
    Valid for finite positive normal ``x``; callers handle 0, inf and NaN themselves. Measured maximum relative
    error (the error is periodic with period 4 in x, so [1, 4) covers every case), see benchmarks/RESULTS.md:

    ====  ==========  ==========
    k     float32     float64
    ====  ==========  ==========
    0     3.44e-2     3.44e-2
    1     1.75e-3     1.75e-3
    2     4.73e-6     4.60e-6
    3     1.47e-7     3.17e-11
    4     1.07e-7     2.74e-16
    ====  ==========  ==========

    (float32 swept over every float in [1, 4); float64 over 2·10⁷ evenly spaced points. From k = 3 (float32) or
    k = 4 (float64) on, the error is the rounding of the arithmetic itself.)
    """
    return _fast_rsqrt_py(x, k)


@overload(fast_rsqrt, inline="always")
def _fast_rsqrt_ol(x, k):
    if x == types.float32:
        def impl(x, k):
            y = bits_to_f32(np.int32(RSQRT_MAGIC_F32) - (f32_to_bits(x) >> _I1))
            hx = _FHALF * x
            for _ in range(k):
                y = y * (_F(1.5) - hx * y * y)
            return y
        return impl
    if x == types.float64:
        def impl(x, k):
            y = bits_to_f64(np.int64(RSQRT_MAGIC_F64) - (f64_to_bits(x) >> 1))
            hx = 0.5 * x
            for _ in range(k):
                y = y * (1.5 - hx * y * y)
            return y
        return impl
    return None


_fast_rsqrt_py = njit(lambda x, k: fast_rsqrt(x, k))
