"""Every fused kernel in KERNELS, in float32 and float64, against the registry's composite reference.

Tolerance (documented in benchmarks/RESULTS.md, "Kernel accuracy"): the error may be a few ulps of the result plus
what rounding the input by half an ulp would cause (the function's condition), i.e.

    |fused − ref| ≤ C·eps·(|ref| + |x·ref′|) + tiny          (values)
    |fused′ − ref′| ≤ C·eps·(|ref′| + |x·ref″| + 1) + tiny   (derivatives; the +1 allows ref′'s own cancellation)

with C = 8 and ref computed in float64 from the same (rounded) inputs. For float64 inputs the reference is no more
precise than the kernel, and its σ-based derivatives lose ~eps·|x| to cancellation, so |x| is added to the
derivative scale there.
"""

from __future__ import annotations

import math

import pytest
import torch
from numba.extending import register_jitable

import actlab.activations as A
from actlab import kernels as K
from actlab.kernels import cast_like


C = 8
DTYPES = [torch.float32, torch.float64]
NAMES = list(K.KERNELS)
# A non-default hyperparameter value, so that a kernel ignoring its parameter is caught.
PARAM = {"alpha": 2.5, "beta": 1.7, "negative_slope": 0.2}


def _params(name: str) -> list[float]:
    return [PARAM[p] for p in K.KERNELS[name].param_names]


def _specials(dtype: torch.dtype) -> torch.Tensor:
    fi = torch.finfo(dtype)
    v = [0.0, -0.0, fi.tiny, -fi.tiny, fi.tiny / 64, -fi.tiny / 64, fi.max, -fi.max, 1e10, -1e10, 1e19, -1e19,
         1e30, -1e30, 88.7, -88.7, 104.0, -104.0, 710.0, -710.0, 30.0, -30.0, 1e-3, -1e-3, 1.0, -1.0]
    return torch.tensor(v, dtype=torch.float64).clamp(-fi.max, fi.max).to(dtype)


def _inputs(dtype: torch.dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.cat([torch.randn(4000, generator=g, dtype=dtype) * 4, torch.linspace(-40, 40, 4001, dtype=dtype),
                      _specials(dtype)])


def _reference(name: str, x: torch.Tensor, params: list[float]):
    """f, f′ and f″ of the registry reference in float64 (NaN/inf in f″ read as 0: only used for the tolerance)."""
    ref = A.spec(name).reference
    xr = x.detach().double().clone().requires_grad_(True)
    y = ref(xr, *params)
    (g,) = torch.autograd.grad(y.sum(), xr, create_graph=True)
    # a piecewise-linear reference's slope is a constant with no graph (leaky ReLU): f″ = 0
    (h,) = torch.autograd.grad(g.sum(), xr, allow_unused=True) if g.requires_grad else (None,)
    h = torch.zeros_like(xr) if h is None else torch.nan_to_num(h.detach(), nan=0.0, posinf=0.0, neginf=0.0)
    return y.detach(), g.detach(), h


def _assert_close(got: torch.Tensor, want: torch.Tensor, scale: torch.Tensor, x: torch.Tensor, what: str) -> None:
    dt = got.dtype
    fi = torch.finfo(dt)
    got = got.double()
    want = torch.where(want.abs() > fi.max, want.to(dt).double(), want)  # overflows in dtype: must give ±inf
    fin = torch.isfinite(want)
    # The tiny·(1 + |x|) floor: x·g(x) forms near underflow (|x| up to ~750), where the float64 reference itself
    # flushes to 0. It is capped at |x| = 1e3, so that it allows nothing at huge |x| (checked exactly below anyway).
    tol = C * fi.eps * torch.nan_to_num(scale, nan=0.0, posinf=math.inf) + fi.tiny * (1 + x.double().abs().clamp(
        max=1e3))
    err = (got - want).abs()
    bad = fin & ~(err <= tol)
    if bad.any():
        i = torch.nonzero(bad)[0, 0]
        raise AssertionError(f"{what}: x={x[i].item()!r} got {got[i].item()!r} want {want[i].item()!r} "
                             f"({int(bad.sum())} points out of tolerance)")
    inf = torch.isinf(want)
    assert torch.equal(got[inf], want[inf]), f"{what}: infinities differ"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_reference(name: str, dtype: torch.dtype) -> None:
    x = _inputs(dtype)
    params = _params(name)
    y = K.apply(K.KERNELS[name], x, *params)
    f, g, _ = _reference(name, x, params)
    _assert_close(y, f, f.abs() + (x.double() * g).abs(), x, f"{name} f")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_reference(name: str, dtype: torch.dtype) -> None:
    x = _inputs(dtype)
    params = _params(name)
    xg = x.clone().requires_grad_(True)
    K.apply(K.KERNELS[name], xg, *params).backward(torch.ones_like(x))
    _, g, h = _reference(name, x, params)
    scale = g.abs() + (x.double() * h).abs() + 1.0
    if dtype == torch.float64:  # the float64 reference's own 1 − σ cancellation: ~eps·|x| absolute
        scale = scale + x.double().abs()
    _assert_close(xg.grad, g, scale, x, f"{name} f'")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_special_values(name: str, dtype: torch.dtype) -> None:
    """NaN in → NaN out (value and slope); ±inf give the reference's limit (NaN only where it has none: min(x, sin x)
    at +inf) and a finite slope; −0.0 kept."""
    x = torch.tensor([math.nan, math.inf, -math.inf, -0.0, 0.0], dtype=dtype, requires_grad=True)
    params = _params(name)
    y = K.apply(K.KERNELS[name], x, *params)
    y.backward(torch.ones_like(y))
    assert torch.isnan(y[0]) and torch.isnan(x.grad[0])
    f, _, _ = _reference(name, x.detach()[1:], params)
    assert torch.equal(torch.isnan(y[1:]), torch.isnan(f)), f"{name}: NaN at {y[1:].tolist()} vs {f.tolist()}"
    # finite slopes, except where the function grows faster than linearly (squared ReLU: 2x at +inf)
    g_ref = _reference(name, x.detach()[1:], params)[1]
    ok = torch.isfinite(x.grad[1:]) | (torch.isinf(g_ref) & (x.grad[1:].double() == g_ref))
    assert ok.all(), f"{name}: slope at ±inf/±0 is {x.grad[1:].tolist()}"
    same = (y[1:].detach().double() == f.to(dtype).double()) | torch.isnan(f)
    assert same.all(), f"{name}: {y[1:].tolist()} vs {f.tolist()}"
    ref0 = A.spec(name).reference(torch.tensor([-0.0], dtype=torch.float64), *params)
    assert math.copysign(1, y[3].item()) == math.copysign(1, ref0.item()), f"{name}(-0.0) sign"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_huge_inputs_are_exact(name: str, dtype: torch.dtype) -> None:
    """At |x| ≥ 1e10 up to ±finfo.max every kernel's value is exact: it equals the float64 reference rounded to the
    dtype (the saturation value, x itself or its multiple; within 4 ulp where f grows faster than x). Slopes are
    the rounded reference too, except that kernels reading f′ from the output are exact to eps^{3/2} absolute there
    (ISRU's f′ = (1 − αy²)^{3/2}, and 1 − αy² has rounded to 0 where f′ ≈ 1e-31), which a relative bound with that
    floor states."""
    fi = torch.finfo(dtype)
    v = torch.tensor([1e10, 1e19, 1e30, 1e300, fi.max], dtype=torch.float64).clamp(max=fi.max)
    x = torch.cat([v, -v]).to(dtype)
    params = _params(name)
    xg = x.clone().requires_grad_(True)
    y = K.apply(K.KERNELS[name], xg, *params)
    y.backward(torch.ones_like(y))
    f, g, _ = _reference(name, x, params)
    g = torch.where(g.abs() > fi.max, g.to(dtype).double(), g)  # a slope beyond the dtype's range must be ±inf
    y = y.detach()
    # Exact where the value is at most linear in x (saturation, x itself or its multiple); a faster-growing one
    # (x·asinh(x)²) is a product of rounded factors even in float64, so 4 ulp there.
    grows = f.abs() > 1e3 * x.double().abs()
    bad = ~((y == f.to(dtype)) | (torch.isnan(y) & torch.isnan(f))
            | (grows & ((y.double() - f).abs() <= 4 * fi.eps * f.abs())))
    assert not bad.any(), f"{name} f at {x[bad].tolist()}: {y[bad].tolist()} vs {f.to(dtype)[bad].tolist()}"
    err = (xg.grad.double() - g).abs()
    bad = ~((err <= C * fi.eps * g.abs() + fi.eps ** 1.5) | (xg.grad.double() == g))
    assert not bad.any(), f"{name} f' at {x[bad].tolist()}: {xg.grad[bad].tolist()} vs {g[bad].tolist()}"


def _param_slopes(name: str, x: torch.Tensor, p0: float) -> torch.Tensor:
    """∂f/∂p per element, in float64 (a per-element parameter, so autograd keeps the terms apart)."""
    pv = torch.full_like(x, p0, dtype=torch.float64, requires_grad=True)
    A.spec(name).reference(x.double(), pv).sum().backward()
    return pv.grad


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [n for n in NAMES if K.KERNELS[n].param_names])
def test_parameter_gradient(name: str, dtype: torch.dtype) -> None:
    """Σ gy·∂f/∂p against the float64 reference on the same inputs, to a few eps of Σ|gy·∂f/∂p| for float32: each
    term carries the kernel's few-ulp error (and the product's rounding in the dtype); the float64 sum adds nothing.
    For float64 the reference is no more precise than the kernel, and its σ-based ∂f/∂β = x²σ(1 − σ) loses
    ~eps·x² absolute to the 1 − σ cancellation, so x² joins the scale there."""
    x = _inputs(dtype)
    x = x[torch.isfinite(x) & (x.abs() < 1e4)]
    p0 = PARAM[K.KERNELS[name].param_names[0]]
    p = torch.tensor(p0, dtype=dtype, requires_grad=True)
    gy = torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
    (K.apply(K.KERNELS[name], x, p) * gy).sum().backward()
    d = _param_slopes(name, x, p0)
    want = float((gy.double() * d).sum())
    scale = float((gy.double() * d).abs().sum())
    if dtype == torch.float64:
        scale += float((gy.double().abs() * x.double() ** 2).sum())
    err = abs(p.grad.item() - want)
    assert err <= C * torch.finfo(dtype).eps * scale, f"{name}: off by {err / scale:.3g} of Σ|gy·∂f/∂p|"


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_float64(name: str) -> None:
    x = torch.linspace(-3.1, 2.9, 9, dtype=torch.float64).requires_grad_(True)
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in _params(name)]
    k = K.KERNELS[name]
    assert torch.autograd.gradcheck(lambda x, *p: K.apply(k, x, *p), (x, *params))


@pytest.mark.parametrize("name", NAMES)
def test_double_backward_uses_reference(name: str) -> None:
    x = torch.linspace(-3.1, 2.9, 7, dtype=torch.float64).requires_grad_(True)
    k, ref = K.KERNELS[name], A.spec(name).reference
    params = _params(name)
    assert torch.autograd.gradgradcheck(lambda x: K.apply(k, x, *params, reference=ref), (x,))


def test_kernels_cover_the_issue_and_registry_links() -> None:
    assert {"isrlu", "isru", "elu", "swish", "mish", "gelu", "gelu_tanh"} <= set(K.KERNELS)
    for n in A.names("unary"):
        s = A.spec(n)
        if s.kernel is not None:
            k = K.get_kernel(s.kernel)
            assert k is not None, f"{n} links to missing kernel {s.kernel!r}"
            assert k.param_names == tuple(s.defaults), f"{n}: parameter order differs from the registry"


def test_get_kernel_contract() -> None:
    assert K.get_kernel("no_such_kernel") is None
    assert K.get_kernel("ISRLU") is K.KERNELS["isrlu"]
    k2 = K.get_kernel("isrlu", newton=2)
    assert k2 is K.get_kernel("isrlu", newton=2) and k2 is not K.KERNELS["isrlu"]
    with pytest.raises(ValueError, match="newton"):
        K.get_kernel("elu", newton=1)
    for bad in (-1, K.NEWTON_MAX + 1, 1.5, True):
        with pytest.raises(ValueError, match="newton"):
            K.get_kernel("isru", newton=bad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("isr")])
def test_newton_mode_error_bound(name: str, dtype: torch.dtype) -> None:
    from actlab.kernels._math import FAST_RSQRT_MAX_REL

    x = _inputs(dtype)
    exact = K.apply(K.KERNELS[name], x, 1.3).double()
    xg = x.clone().requires_grad_(True)
    bounds = FAST_RSQRT_MAX_REL[str(dtype).split(".")[-1]]
    # Two step counts keep compiles down (one specialisation per k); test_math checks fast_rsqrt itself for all k.
    for k in (0, 2):
        bound = bounds[k]
        y = K.apply(K.get_kernel(name, newton=k), x, 1.3)
        both = torch.isfinite(exact)
        assert torch.equal(torch.isnan(y), torch.isnan(exact))
        part = exact - 0.5 if name == "isru_sigmoid" else exact  # the error is relative to the ISRU part
        err = (y.double() - exact).abs()[both]
        # bound on the inverse square root, plus rounding differences of the two paths (a few ulps of the result)
        tol = 1.5 * bound * part.abs()[both] + 4 * torch.finfo(dtype).eps * exact.abs()[both] + torch.finfo(dtype).tiny
        assert (err <= tol).all(), f"k={k}: worst {((err - tol) / tol).max().item():.3g} over tolerance"
    xg.grad = None
    K.apply(K.get_kernel(name, newton=2), xg, 1.3).sum().backward()
    assert torch.isfinite(xg.grad[torch.isfinite(x)]).all()


@register_jitable(inline="always")
def _toy_prep(x, p, k):
    return cast_like(p[0], x), cast_like(1.0, x)


@register_jitable(inline="always")
def _toy_f(v, c, k):
    return c[0] * v * v + v  # f(x) = a·x² + x


@register_jitable(inline="always")
def _toy_grad(v, c, k):
    return c[0] * v + c[0] * v + c[1], v * v  # f′ = 2ax + 1, ∂f/∂a = x²


def test_the_engine_runs_a_description_it_has_never_seen() -> None:
    """kernels/ is an engine: any KernelDef works through it, with nothing registered anywhere else (what the old
    grep of its source for activation names was meant to show, shown by behaviour)."""
    kernel = K.build_kernel("toy_quadratic", K.KernelDef(_toy_prep, _toy_f, _toy_grad), ("a",))
    assert "toy_quadratic" not in K.KERNELS  # building registers nothing

    def reference(t: torch.Tensor, a) -> torch.Tensor:
        return a * t * t + t

    x = torch.randn(300, dtype=torch.float64, requires_grad=True)
    a = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    y = K.apply(kernel, x, a, reference=reference)
    y.sum().backward()
    xr, ar = x.detach().requires_grad_(True), a.detach().requires_grad_(True)
    reference(xr, ar).sum().backward()
    torch.testing.assert_close(y, reference(x.detach(), 0.7))
    torch.testing.assert_close(x.grad, xr.grad)
    torch.testing.assert_close(a.grad, ar.grad)
    op = K.operator(kernel, reference)
    torch.testing.assert_close(op.overload(x.detach(), [a.detach()]), y.detach())
