"""Special functions built on the exp/log blocks of :mod:`._math`: σ, softplus, tanh, erf/erfc and the normal CDF with
its density from one exp (``ndtr_exp``). Same conventions as :mod:`._math` (vectorisable, dtype-dispatched, errors
in its table, IEEE special values)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload, register_jitable

from ._math import (  # the exp/log internals these are built from
    _ERRORS, _F, _FHALF, _FONE, _FTWO, _FZERO, _I127, _I23, _INLINE, _INLINE_BIG, _TWO_M64_F, _dispatch,
    _exp64_neg_f32, _exp_f32, _exp_f64, _exp_neg_f32, _exp_neg_f64, _log1p_f32, _log1p_f64, bits_to_f32,
    bits_to_f64, expm1_reduced_f32, expm1_reduced_f64, fma, select, vexp_neg
)

__all__ = ["vsigmoid", "vsoftplus", "vtanh", "verf", "verfc", "ndtr_exp", "sigmoid_pair"]


# ----------------------------------------------------------------------------------------- sigmoid / softplus / tanh
@njit(inline=_INLINE, error_model=_ERRORS)
def _sigmoid_f32(x):
    # e^{−|x|} never overflows, so σ keeps relative accuracy (and subnormal results) for very negative x.
    t = _exp_neg_f32(-abs(x))
    r = _FONE / (_FONE + t)
    return select(x >= _FZERO, r, t * r)


@njit(inline=_INLINE, error_model=_ERRORS)
def _sigmoid_f64(x):
    t = _exp_neg_f64(-abs(x))
    r = 1.0 / (1.0 + t)
    return select(x >= 0.0, r, t * r)


@njit(inline=_INLINE_BIG)
def _softplus_f32(x):
    m = select(x > _FZERO, x, _FZERO)
    return m + _log1p_f32(_exp_neg_f32(-abs(x)))


@njit(inline=_INLINE_BIG)
def _softplus_f64(x):
    m = select(x > 0.0, x, 0.0)
    return m + _log1p_f64(_exp_neg_f64(-abs(x)))


# tanh|x| = −m/(2 + m) with m = e^{−2|x|} − 1 ∈ (−1, 0]: the exp's argument is ≤ 0 and, with |x| clamped where tanh
# rounds to 1 (1 − 2e^{−2|x|} within half an ulp of 1), ≥ −38.2, so one scale factor 2^n suffices and nothing
# overflows; m = q itself where n = 0 keeps relative accuracy near 0. About half the ops of expm1(2|x|)/(…+2).
_TANH_CLAMP_F = _F(9.1)
_TANH_CLAMP_D = 19.1
_FMTWO = _F(-2.0)


@njit(inline=_INLINE, error_model=_ERRORS)
def _tanh_f32(x):
    a = abs(x)
    a = select(a > _TANH_CLAMP_F, _TANH_CLAMP_F, a)  # NaN passes
    n, q = expm1_reduced_f32(_FMTWO * a)
    m = select(n == _FZERO, q, (_FONE + q) * bits_to_f32((np.int32(n) + _I127) << _I23) - _FONE)
    return math.copysign(m / (_FMTWO - m), x)


@njit(inline=_INLINE, error_model=_ERRORS)
def _tanh_f64(x):
    a = abs(x)
    a = select(a > _TANH_CLAMP_D, _TANH_CLAMP_D, a)
    n, q = expm1_reduced_f64(-2.0 * a)
    m = select(n == 0.0, q, (1.0 + q) * bits_to_f64((np.int64(np.int32(n)) + 1023) << 52) - 1.0)
    return math.copysign(m / (-2.0 - m), x)


vsigmoid = _dispatch(_sigmoid_f32, _sigmoid_f64, "vsigmoid", "Logistic σ(x) = 1/(1 + e^−x); σ(−inf) = 0, σ(inf) = 1.")
vsoftplus = _dispatch(_softplus_f32, _softplus_f64, "vsoftplus",
                      "log(1 + e^x) without overflow: max(x, 0) + log1p(e^−|x|).", inline=_INLINE_BIG)
vtanh = _dispatch(_tanh_f32, _tanh_f64, "vtanh",
                  "tanh(x) = sign(x)·(−m)/(2 + m), m = e^{−2|x|} − 1 (one exp, argument ≤ 0); keeps −0.0.")

# ----------------------------------------------------------------------------------------- erf / erfc
# Fitted here (weighted least squares on 1000 Chebyshev nodes against mpmath, relative error):
#   erf(x)/x = P(x²) on |x| ≤ 1, degree 6, max rel. error 1.2e-9;
#   erfc(x)·e^{x²} = t·Q(t), t = 1/(1 + x/2), x ≥ 1, degree 8, max rel. error 3.7e-8.
_ERF_P_F = tuple(_F(c) for c in (7.853856510106616e-05, -0.0008010192158254686, 0.005188327518740585,
                                 -0.026853811847406317, 0.11283585146513284, -0.37612625824048057,
                                 1.1283791657266844))
_ERFC_Q_F = tuple(_F(c) for c in (0.022965238625334936, 0.03074056214161403, -0.15737744470241186,
                                  0.04441866705699441, 0.07137566626730024, 0.17797518950002467,
                                  0.24672401931963936, 0.2820974841939442, 0.28209478070164623))
_ERFC_CLAMP_F = _F(10.5)  # erfc(10.5) underflows float32


@njit(inline=_INLINE_BIG)
def _erf_small_f32(x):
    z = x * x
    p = _ERF_P_F[0]
    p = p * z + _ERF_P_F[1]
    p = p * z + _ERF_P_F[2]
    p = p * z + _ERF_P_F[3]
    p = p * z + _ERF_P_F[4]
    p = p * z + _ERF_P_F[5]
    p = p * z + _ERF_P_F[6]
    return x * p


@njit(inline=_INLINE_BIG)
def _erfc_large_f32(a):
    # a ≥ 1. e^{−a²} is computed as e^{−h}·(1 − l) with h + l = a² exactly (fma), so that the rounding of a²
    # (up to 110·2^-24 absolute) does not become a relative error of the tiny result.
    a = select(a < _ERFC_CLAMP_F, a, _ERFC_CLAMP_F)
    h = a * a
    lo = fma(a, a, -h)
    t = _FONE / (_FONE + _FHALF * a)
    q = _ERFC_Q_F[0]
    q = q * t + _ERFC_Q_F[1]
    q = q * t + _ERFC_Q_F[2]
    q = q * t + _ERFC_Q_F[3]
    q = q * t + _ERFC_Q_F[4]
    q = q * t + _ERFC_Q_F[5]
    q = q * t + _ERFC_Q_F[6]
    q = q * t + _ERFC_Q_F[7]
    q = q * t + _ERFC_Q_F[8]
    return _exp_f32(-h) * (_FONE - lo) * (t * q)


@njit(inline=_INLINE_BIG)
def _erf_f32(x):
    a = abs(x)
    big = math.copysign(_FONE - _erfc_large_f32(a), x)
    y = select(a < _FONE, _erf_small_f32(x), big)
    return select(x == x, y, x)


@njit(inline=_INLINE_BIG)
def _erfc_f32(x):
    a = abs(x)
    tail = _erfc_large_f32(a)
    y = select(a < _FONE, _FONE - _erf_small_f32(x), tail)
    y = select(x <= -_FONE, _FTWO - tail, y)
    return select(x == x, y, x)


@njit(inline=_INLINE_BIG)
def _erf_f64(x):
    return math.erf(x)


@njit(inline=_INLINE_BIG)
def _erfc_f64(x):
    return math.erfc(x)


verf = _dispatch(_erf_f32, _erf_f64, "verf", "Error function erf(x). float32 vectorised; float64 uses libm.",
                 inline=_INLINE_BIG)
verfc = _dispatch(_erfc_f32, _erfc_f64, "verfc",
                  "erfc(x) = 1 − erf(x) with relative accuracy in the tail. float32 vectorised; float64 uses libm.",
                  inline=_INLINE_BIG)

# ----------------------------------------------------------------------------------------- normal CDF and density
# Φ(−u)·e^{u²/2} = t·R(t), t = 1/(1 + u/4), u ≥ 0: one polynomial over the whole half line (degree 9, fitted here by
# iteratively reweighted least squares on 1500 Chebyshev nodes of t ∈ [1/(1 + 14.5/4), 1] against mpmath; max rel.
# error 8.6e-9). Unlike verfc's two branches it needs no erf polynomial near 0 (Φ is needed to absolute accuracy
# there, not relative), and the same e^{−u²/2} gives the density, so x·Φ(x)'s f′ costs one exp, not two.
# The coefficients carry the 2^−64 of _exp64_neg_f32's scaled result (exact: a power of two), saving a multiply.
_NDTR_R_F = tuple(_F(c * 2.0**-64) for c in (0.016892523315180093, -0.06453780819183227, 0.0558809770481775,
                                  0.02260890012859444,
                                  0.01773637402928492, 0.08385033835081165, 0.07301311118455438, 0.09528779313514643,
                                  0.09952146615029686, 0.09974632915954586))
_NDTR_CLAMP_F = _F(14.5)  # e^{−14.5²/2} underflows float32; the clamp keeps inf out of the exp's range reduction
_FQUARTER = _F(0.25)
_RSQRT2_D = 1.0 / math.sqrt(2.0)


@njit(inline=_INLINE_BIG, error_model=_ERRORS)
def _ndtr_exp_f32(x):
    # x·Φ(x) and its f′ are compute-bound against PyTorch's, so every op counts: the exp's argument −u²/2 is already
    # in [−105.2, 0] (no clamp needed), and u² is left rounded (x²/4 ulp relative, less than what rounding x by half
    # an ulp moves e^{−x²/2} by: the callers' tolerances include that condition). NaN passes the clamp.
    u = abs(x)
    u = select(u > _NDTR_CLAMP_F, _NDTR_CLAMP_F, u)
    e64 = _exp64_neg_f32(-_FHALF * u * u)  # 2^64·e^{−u²/2}
    t = _FONE / (_FONE + _FQUARTER * u)
    q = _NDTR_R_F[0]
    q = q * t + _NDTR_R_F[1]
    q = q * t + _NDTR_R_F[2]
    q = q * t + _NDTR_R_F[3]
    q = q * t + _NDTR_R_F[4]
    q = q * t + _NDTR_R_F[5]
    q = q * t + _NDTR_R_F[6]
    q = q * t + _NDTR_R_F[7]
    q = q * t + _NDTR_R_F[8]
    q = q * t + _NDTR_R_F[9]
    tail = e64 * (t * q)  # Φ(−|x|), rounded once into the subnormals
    return select(x < _FZERO, tail, _FONE - tail), e64 * _TWO_M64_F


@njit(inline=_INLINE_BIG, error_model=_ERRORS)
def _ndtr_exp_f64(x):
    u = abs(x)
    u = select(u < 40.0, u, 40.0)  # e^{−800} underflows float64
    h = u * u
    lo = fma(u, u, -h)
    e = _exp_f64(-0.5 * h)
    e = e - e * (0.5 * lo)
    cdf = 0.5 * math.erfc(-x * _RSQRT2_D)
    return cdf, select(x == x, e, x)


def ndtr_exp(x):
    """(Φ(x), e^{−x²/2}): the standard normal CDF and its unnormalised density from one exp (for x·Φ(x) and its slope).

    float32 vectorised, relative errors ≤ (4 + x²/4) ulp for Φ and ≤ (2 + x²/4) ulp for e^{−x²/2} (x²/4 ulp: the
    rounding of x², no more than rounding x itself would cause); float64: libm ``erfc`` (scalar, ≤ (4 + x²) ulp from
    rounding x/√2) and a vectorised exp (≤ 3 ulp). NaN gives (NaN, NaN); ±inf give (1 or 0, 0).
    """
    return _ndtr_exp_py(x)


@overload(ndtr_exp, inline=_INLINE_BIG)
def _ndtr_exp_ol(x):
    if x == types.float32:
        return lambda x: _ndtr_exp_f32(x)
    if isinstance(x, (types.Float, types.Integer)):
        return lambda x: _ndtr_exp_f64(np.float64(x))
    return None


_ndtr_exp_py = njit(lambda x: ndtr_exp(x))


@register_jitable(inline="always")
def sigmoid_pair(u, one):
    """(σ(u), 1 − σ(u)), each with relative accuracy: e^{−|u|} never overflows, and neither side cancels.

    ``one`` is 1 in ``u``'s dtype (kernels pass their cast constant, so float32 stays float32).
    """
    t = vexp_neg(-abs(u))
    r = one / (one + t)
    p = t * r
    pos = u >= 0
    return select(pos, r, p), select(pos, p, r)
