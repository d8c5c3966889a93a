"""The vectorisable building blocks in actlab.kernels._math: accuracy on dense sweeps, special values, fast 1/√x."""

from __future__ import annotations

import math

import mpmath as mp
import numba
import numpy as np
import pytest
import scipy.special as sp
from numba import njit, prange

from actlab.kernels import _math as M
from actlab.kernels import _special as S
from actlab.kernels import _trig as T
from actlab.kernels._drivers import SOURCE_FINGERPRINT

# name → (function, float64 reference, max error in eps of the dtype: (float32, float64), domain)
# The bounds are the documented ones (module docstring of _math), not the measured values, which are lower.
FUNCTIONS = {
    "vexp": (M.vexp, np.exp, (2, 2), "all"),
    "vexp_neg": (M.vexp_neg, np.exp, (2, 2), "negative"),
    "vexpm1": (M.vexpm1, np.expm1, (3, 3), "all"),
    "vlog": (M.vlog, np.log, (2, 1), "positive"),
    "vlog1p": (M.vlog1p, np.log1p, (3, 1), "positive"),
    "vsigmoid": (S.vsigmoid, sp.expit, (3, 3), "all"),
    "vsoftplus": (S.vsoftplus, lambda x: np.logaddexp(0.0, x), (3, 3), "all"),
    "vtanh": (S.vtanh, np.tanh, (4, 4), "all"),
    "verf": (S.verf, sp.erf, (4, 4), "all"),
    "verfc": (S.verfc, sp.erfc, (17, 4), "all"),  # float32: ≤ 2e-6 relative; float64 (libm): against mpmath
    "vatan": (T.vatan, np.arctan, (2, 2), "all"),
    "vsin": (T.vsin, np.sin, (1, 1), "all"),  # correctly rounded but for a few ties: ≤ 0.5001 ulp measured
    "vcos": (T.vcos, np.cos, (1, 1), "all"),
}
# scipy's own float64 erfc is off by up to ~600 eps in the tail, more than libm's; these float64 references come from
# mpmath instead, on every 16th point of the sweep (mpmath is slow).
MPMATH_FLOAT64 = {"verfc": mp.erfc}

_compiled: dict[str, object] = {}


def _vector(name: str):
    """One parallel loop per function (compiled once per dtype), the way kernels use these blocks."""
    if name not in _compiled:
        f = FUNCTIONS[name][0]
        fp = SOURCE_FINGERPRINT  # cache key follows the kernels' source (see actlab.kernels._drivers)

        @njit(parallel=True, fastmath=M.SAFE_FASTMATH, cache=True)
        def run(x, out):
            fp  # noqa: B018
            for i in prange(x.size):
                out[i] = f(x[i])
        _compiled[name] = run
    return _compiled[name]


def _sweep(dtype, domain: str) -> np.ndarray:
    lo, hi = (-110.0, 95.0) if dtype == np.float32 else (-750.0, 712.0)
    mags = 10.0 ** np.linspace(-44 if dtype == np.float32 else -300, 38 if dtype == np.float32 else 300, 40001)
    x = np.concatenate([np.linspace(lo, hi, 200001), np.linspace(-2, 2, 100001), mags, -mags]).astype(dtype)
    return np.abs(x) if domain == "positive" else -np.abs(x) if domain == "negative" else x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_accuracy_on_dense_sweep(name: str, dtype) -> None:
    _, ref, bounds, domain = FUNCTIONS[name]
    x = _sweep(dtype, domain)
    exact = MPMATH_FLOAT64.get(name) if dtype == np.float64 else None
    if exact is not None:  # beyond |x| = 30 erfc is 0 or 2 in float64, and mpmath's series check overflows
        x = x[::16]
        x = x[np.abs(x) <= 30]
    out = np.empty_like(x)
    _vector(name)(x, out)
    with np.errstate(all="ignore"):
        if exact is not None:
            with mp.workdps(40):
                r = np.array([float(exact(mp.mpf(float(v)))) for v in x])
        else:
            r = ref(x.astype(np.float64))
    fi = np.finfo(dtype)
    normal = np.isfinite(r) & (np.abs(r) >= fi.tiny) & (np.abs(r) <= fi.max)
    rel = np.abs(out[normal].astype(np.float64) - r[normal]) / np.abs(r[normal])
    bound = bounds[0 if dtype == np.float32 else 1] * fi.eps
    worst = int(np.argmax(rel))
    assert rel[worst] <= bound, f"{name}({x[normal][worst]!r}) off by {rel[worst] / fi.eps:.1f} eps"
    # Outside the normal range the result must round the same way: overflow to ±inf, underflow to within tiny.
    big = np.abs(r) > fi.max
    assert np.all(np.isinf(out[big]) & (np.sign(out[big]) == np.sign(r[big])))
    small = np.isfinite(r) & (np.abs(r) < fi.tiny)
    assert np.all(np.abs(out[small] - r[small]) <= fi.tiny)


SPECIALS = {  # (x, expected) pairs per function, checked exactly with the sign of zero (0.0 == -0.0 as dict keys)
    "vexp": [(math.inf, math.inf), (-math.inf, 0.0), (0.0, 1.0), (-0.0, 1.0)],
    "vexp_neg": [(-math.inf, 0.0), (0.0, 1.0), (-0.0, 1.0)],
    "vexpm1": [(math.inf, math.inf), (-math.inf, -1.0), (0.0, 0.0), (-0.0, -0.0)],
    "vlog": [(math.inf, math.inf), (0.0, -math.inf), (-0.0, -math.inf), (-1.0, math.nan), (1.0, 0.0)],
    "vlog1p": [(math.inf, math.inf), (-1.0, -math.inf), (-2.0, math.nan), (0.0, 0.0), (-0.0, -0.0)],
    "vsigmoid": [(math.inf, 1.0), (-math.inf, 0.0), (0.0, 0.5)],
    "vsoftplus": [(math.inf, math.inf), (-math.inf, 0.0)],
    "vtanh": [(math.inf, 1.0), (-math.inf, -1.0), (0.0, 0.0), (-0.0, -0.0)],
    "verf": [(math.inf, 1.0), (-math.inf, -1.0), (0.0, 0.0), (-0.0, -0.0)],
    "verfc": [(math.inf, 0.0), (-math.inf, 2.0), (0.0, 1.0)],
    "vatan": [(math.inf, math.pi / 2), (-math.inf, -math.pi / 2), (0.0, 0.0), (-0.0, -0.0)],
    "vsin": [(math.inf, math.nan), (-math.inf, math.nan), (0.0, 0.0), (-0.0, -0.0)],
    "vcos": [(math.inf, math.nan), (-math.inf, math.nan), (0.0, 1.0), (-0.0, 1.0)],
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_special_values(name: str, dtype) -> None:
    cases = [*SPECIALS[name], (math.nan, math.nan)]
    x = np.array([c[0] for c in cases], dtype=dtype)
    out = np.empty_like(x)
    _vector(name)(x, out)
    for xi, yi, (_, want) in zip(x, out, cases, strict=False):
        if math.isnan(want):
            assert math.isnan(yi), f"{name}({xi}) = {yi}, want NaN"
        else:
            assert yi == want and math.copysign(1, yi) == math.copysign(1, want), f"{name}({xi}) = {yi}, want {want}"


def test_sin_cos_reduce_hard_arguments_exactly() -> None:
    """vsin/vcos on the float32s nearest to multiples of π/2 (the reduced argument all but cancels), at every
    magnitude up to 2^127, with their neighbours and subnormals: within one float32 rounding (0.5 ulp, plus the float64
    reference's own error) of the float64 result. A reduction short of exact loses the result's leading digits here."""
    rng = np.random.default_rng(5)
    k = np.unique(np.floor(2.0 ** rng.uniform(0, 127, 20000)))
    near = (k * (np.pi / 2)).astype(np.float32)
    x = np.concatenate([near, np.nextafter(near, np.float32(np.inf)), np.nextafter(near, np.float32(0)),
                        np.array([1e-45, 3e-39, -1e-40, 0.7853981], dtype=np.float32)])
    x = np.concatenate([x, -x])
    for name, ref in (("vsin", np.sin), ("vcos", np.cos)):
        out = np.empty_like(x)
        _vector(name)(x, out)
        r = ref(x.astype(np.float64))
        ulp = np.spacing(np.abs(r).astype(np.float32)).astype(np.float64)
        err = np.abs(out.astype(np.float64) - r) / ulp
        worst = int(np.argmax(err))
        assert err[worst] <= 0.501, f"{name}({x[worst]!r}) = {out[worst]!r}, off by {err[worst]:.3f} ulp"


_asinh_wide_all = None


def test_asinh_wide_is_float64_accurate_for_float32_inputs() -> None:
    """vasinh_wide(float32) is a float64 within 4 float64 ulp of libm's asinh (x·asinh(x)² rounds once on store on
    the strength of it), over every magnitude and 2M random float32 bit patterns, with ±0, ±inf and NaN exact."""
    global _asinh_wide_all
    if _asinh_wide_all is None:
        fp = SOURCE_FINGERPRINT

        @njit(parallel=True, fastmath=M.SAFE_FASTMATH, cache=True)
        def run(x, out):
            fp  # noqa: B018
            for i in prange(x.size):
                out[i] = T.vasinh_wide(x[i])
        _asinh_wide_all = run
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2**32, size=1 << 21, dtype=np.uint64).astype(np.uint32).view(np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dtype=np.float32)
    x = np.concatenate([_sweep(np.float32, "all"), bits[np.isfinite(bits)], specials])
    out = np.empty(x.size, dtype=np.float64)
    _asinh_wide_all(x, out)
    r = np.arcsinh(x.astype(np.float64))
    ok = np.isfinite(r) & (r != 0)
    rel = np.abs(out[ok] - r[ok]) / np.abs(r[ok])
    worst = int(np.argmax(rel))
    assert rel[worst] <= 4 * np.finfo(np.float64).eps, f"asinh({x[ok][worst]!r}) off by {rel[worst]:.3g}"
    tail = out[-5:]
    assert tail[0] == 0 and not np.signbit(tail[0]) and tail[1] == 0 and np.signbit(tail[1])
    assert tail[2] == np.inf and tail[3] == -np.inf and np.isnan(tail[4])


def test_two_over_pi_bits() -> None:
    """The reduction table's 2/π (Machin's formula in integers) agrees with mpmath to the last of its 400 bits."""
    with mp.workprec(600):
        assert T._two_over_pi(400) == int(mp.floor(2 / mp.pi * mp.mpf(2) ** 400))


_ndtr_exp_all = None


def _ndtr_exp_vector():
    global _ndtr_exp_all
    if _ndtr_exp_all is None:
        fp = SOURCE_FINGERPRINT

        @njit(parallel=True, fastmath=M.SAFE_FASTMATH, cache=True)
        def run(x, cdf, dens):
            fp  # noqa: B018
            for i in prange(x.size):
                cdf[i], dens[i] = S.ndtr_exp(x[i])
        _ndtr_exp_all = run
    return _ndtr_exp_all


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ndtr_exp_against_mpmath(dtype) -> None:
    """Φ(x) and e^{−x²/2} from one exp: a few ulps plus the rounding of x² (float32) or of x/√2 (float64 erfc), i.e.
    the documented (4 + x²/4) and (2 + x²/4) ulp (float32), (4 + x²) and 3 ulp (float64)."""
    lim = 15.0 if dtype == np.float32 else 39.0
    x = np.concatenate([np.linspace(-lim, lim, 30001), np.linspace(-1, 1, 2001)]).astype(dtype)
    cdf, dens = np.empty_like(x), np.empty_like(x)
    _ndtr_exp_vector()(x, cdf, dens)
    with mp.workdps(30):
        rc = np.array([float(mp.ncdf(mp.mpf(float(v)))) for v in x])
        rd = np.array([float(mp.exp(-mp.mpf(float(v)) ** 2 / 2)) for v in x])
    fi = np.finfo(dtype)
    x2 = x.astype(np.float64) ** 2
    bc, bd = (4 + x2 / 4, 2 + x2 / 4) if dtype == np.float32 else (4 + x2, 3 + 0 * x2)
    for what, got, ref, bound in (("cdf", cdf, rc, bc), ("dens", dens, rd, bd)):
        normal = ref >= fi.tiny
        rel = np.abs(got[normal] - ref[normal]) / ref[normal] / fi.eps
        worst = int(np.argmax(rel / bound[normal]))
        assert rel[worst] <= bound[normal][worst], f"{what}({x[normal][worst]!r}) off by {rel[worst]:.1f} eps"
        assert np.all(np.abs(got[~normal] - ref[~normal]) <= fi.tiny), what
    s = np.array([math.nan, math.inf, -math.inf, 0.0, -0.0], dtype)
    cdf, dens = np.empty_like(s), np.empty_like(s)
    _ndtr_exp_vector()(s, cdf, dens)
    assert np.isnan(cdf[0]) and np.isnan(dens[0])
    assert cdf[1:3].tolist() == [1.0, 0.0] and dens[1:].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert np.all(np.abs(cdf[3:] - 0.5) <= fi.eps)


def test_scalar_call_from_python() -> None:
    assert M.vexp(np.float32(1.0)) == pytest.approx(math.e, rel=1e-7)
    assert S.vtanh(0.5) == pytest.approx(math.tanh(0.5), rel=1e-15)


@pytest.mark.parametrize("fn", [M.vexp, M.vlog, S.vtanh, S.vsigmoid, S.verf], ids=lambda f: f.__name__)
def test_float32_stays_float32_inside_numba(fn) -> None:
    # Called from Python, every result is a Python float whatever its precision, so the type is read from numba's
    # compiled signature: a float32 argument must not be promoted to float64 (that halves the vector width).
    wrapped = numba.njit(lambda v: fn(v))
    wrapped(np.float32(0.5))
    assert wrapped.nopython_signatures[-1].return_type == numba.types.float32


def _make_rsqrt_all():
    fp = SOURCE_FINGERPRINT

    @njit(parallel=True, cache=True)
    def run(x, out, k):
        fp  # noqa: B018
        for i in prange(x.size):
            out[i] = M.fast_rsqrt(x[i], k)
    return run


_rsqrt_all = _make_rsqrt_all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_rsqrt_error_per_newton_step(dtype) -> None:
    # The error is periodic with period 4 in x; a dense sample of [1, 4) plus scaled copies covers it.
    base = np.linspace(1.0, 4.0, 1_000_001)[:-1]
    x = np.concatenate([base, base * 2.0**-40, base * 2.0**60]).astype(dtype)
    ref = 1.0 / np.sqrt(x.astype(np.longdouble))
    for k, bound in enumerate(M.FAST_RSQRT_MAX_REL[np.dtype(dtype).name]):
        out = np.empty_like(x)
        _rsqrt_all(x, out, k)
        rel = float(np.max(np.abs((out - ref) / ref)))
        assert rel <= bound, f"k={k}: {rel:.3g} > documented {bound:.3g}"
        if k == 2:
            assert rel > 1e-7, "k=2 should not be exact: the test would not notice a broken guess"


def test_magic_constants() -> None:
    assert M.RSQRT_MAGIC_F32 == 0x5F3759DF
    assert M.RSQRT_MAGIC_F64 == 0x5FE6EB50C7B537A9

