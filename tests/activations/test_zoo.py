"""Every activation in the registry, checked against its declared properties and the float range."""

from __future__ import annotations

import math

import pytest
import torch

import actlab
from actlab.activations import spec

NAMES = actlab.names("unary")
SPECIAL = [0.0, -0.0, 1e-45, -1e-45, 1e-310, -1e-310, 1e-20, -1e-20, 0.5, -0.5, 3.0, -3.0, 1e10, -1e10, 1e20,
           -1e20, 3e38, -3e38, 1e300, -1e300, math.inf, -math.inf]


def _grid(lo: float, hi: float, n: int) -> torch.Tensor:
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def _derivs(name: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    y = actlab.get(name)(x)
    (d1,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    # Piecewise-linear functions give an f' with no graph: their f'' is zero.
    d2 = torch.autograd.grad(d1.sum(), x)[0] if d1.requires_grad else torch.zeros_like(x)
    return y.detach(), d1.detach(), d2.detach()


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_float64(name):
    s = spec(name)
    x = torch.randn(64, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2
    for k in s.kinks:  # finite differences straddling a kink are meaningless
        x = torch.where((x - k).abs() < 1e-3, x + 0.01, x)
    x.requires_grad_(True)
    m = actlab.get(name)
    assert torch.autograd.gradcheck(m, (x,))
    if s.smoothness != "C0":
        assert torch.autograd.gradgradcheck(m, (x,))


@pytest.mark.parametrize("name", [n for n in NAMES if spec(n).trainable])
def test_gradcheck_trainable_hparam(name):
    m = actlab.get(name, trainable=True).double()
    x = torch.randn(32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    p = getattr(m, spec(name).trainable[0])
    assert isinstance(p, torch.nn.Parameter)
    assert torch.autograd.gradcheck(lambda x, p: spec(name).reference(x, p), (x.requires_grad_(), p))
    y = m(x)
    (g,) = torch.autograd.grad(y.sum(), p)
    (g_ref,) = torch.autograd.grad(spec(name).reference(x, p).sum(), p)
    torch.testing.assert_close(g, g_ref)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", NAMES)
def test_special_values(name, dtype):
    """Limits at ±inf, overflowing squares, subnormals: finite where the function is, NaN only from NaN."""
    x = torch.tensor(SPECIAL + [math.nan], dtype=dtype)
    y = actlab.get(name)(x)
    ref = spec(name).reference(x.double())
    assert torch.isnan(y[-1]), "NaN in must give NaN out"
    # The float64 reference at the float32 input is the truth; compare where it is representable.
    expect = ref.to(dtype)
    both_nan = torch.isnan(y) & torch.isnan(expect)
    close = torch.isclose(y, expect, rtol=1e-5 if dtype == torch.float32 else 1e-12, atol=1e-37)
    assert bool((close | both_nan).all()), f"{name}: {x[~(close | both_nan)]} -> {y[~(close | both_nan)]}"
    finite_in = torch.isfinite(x)
    # min_sin has no limit at +inf; every other non-NaN input gives a non-NaN output.
    assert not torch.isnan(y[finite_in]).any(), f"{name} gives NaN for a finite input"


@pytest.mark.parametrize("name", NAMES)
def test_derivative_finite(name):
    x = torch.tensor(SPECIAL, dtype=torch.float64, requires_grad=True)
    y = actlab.get(name)(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    # Finite inputs need a finite f'. At ±inf the slope may be infinite (x·asinh(x)²) but is never NaN, except
    # where f itself has no limit.
    bad = (~torch.isfinite(g) & torch.isfinite(x.detach())) | (torch.isnan(g) & ~torch.isnan(y.detach()))
    assert not bad.any(), f"{name}: non-finite f' at {x[bad].tolist()}"


@pytest.mark.parametrize("name", NAMES)
def test_monotonic_and_bounds(name):
    s = spec(name)
    x = _grid(-60, 60, 24001)
    y = actlab.get(name)(x)
    d = torch.diff(y)
    monotonic = bool((d >= -1e-12).all() or (d <= 1e-12).all())
    assert monotonic == s.monotonic
    far = actlab.get(name)(torch.tensor([-1e12, 1e12], dtype=torch.float64))
    lo, hi = torch.minimum(y.min(), far.min()), torch.maximum(y.max(), far.max())
    assert bool(lo > -1e3) == s.bounded_below
    assert bool(hi < 1e3) == s.bounded_above


def _jump_ratio(g_coarse: torch.Tensor, g_fine: torch.Tensor) -> float:
    """max |Δg| on a grid over the same on a 10× finer grid: ≈10 where g is continuous, ≈1 where it jumps."""
    return float(torch.diff(g_coarse).abs().max() / torch.diff(g_fine).abs().max().clamp_min(1e-300))


@pytest.mark.parametrize("name", NAMES)
def test_smoothness_class(name):
    s = spec(name)
    coarse, fine = _derivs(name, _grid(-4, 4, 8001)), _derivs(name, _grid(-4, 4, 80001))
    ratios = [_jump_ratio(c, f) for c, f in zip(coarse, fine, strict=False)]  # f, f', f''
    order = {"C0": 0, "C1": 1, "C2": 2, "Cinf": 3}[s.smoothness]
    for k, r in enumerate(ratios):
        if k <= order:
            assert r > 5, f"{name}: derivative {k} looks discontinuous (ratio {r:.2f})"
        elif k == order + 1:
            assert r < 2, f"{name}: derivative {k} looks continuous (ratio {r:.2f}) but {s.smoothness} is declared"


def test_isrlu_vs_elu_smoothness_at_zero():
    """The ISRLU paper's claim: ISRLU's f'' is continuous at 0, ELU's is not."""
    x = torch.tensor([-1e-6, 1e-6], dtype=torch.float64)
    assert abs(float(torch.diff(_derivs("isrlu", x)[2]))) < 1e-4
    assert abs(float(torch.diff(_derivs("elu", x)[2]))) > 0.9


@pytest.mark.parametrize("name", [n for n in NAMES if spec(n).kernel])
def test_saves_at_most_one_activation_sized_tensor(name):
    """The fused path keeps the input or the output for backward, never both (plus the hyperparameters)."""
    x = torch.randn(1000, requires_grad=True)
    saved: list[torch.Tensor] = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = actlab.get(name)(x)
    big = [t for t in saved if t.numel() == x.numel()]
    assert len(big) == 1, f"{name}: saved {len(big)} activation-sized tensors (backward needs exactly one)"
    assert sum(t.numel() for t in saved) <= x.numel() + len(spec(name).defaults)
    y.sum().backward()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", NAMES)
def test_low_precision_dtypes_match_reference(name, dtype):
    x = (torch.randn(256) * 3).to(dtype)
    if spec(name).kernel is None:  # the composite evaluated in the dtype
        torch.testing.assert_close(actlab.get(name)(x), spec(name).reference(x))
    else:  # the float32 kernel, rounded once: the exact value rounded, up to one ulp
        exact = spec(name).reference(x.double()).to(dtype).double()
        torch.testing.assert_close(actlab.get(name)(x).double(), exact, rtol=torch.finfo(dtype).eps, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_rejects_integer_and_bool(name):
    for dtype in (torch.int64, torch.bool):
        with pytest.raises(TypeError, match=str(dtype).split(".")[-1]):
            actlab.get(name)(torch.zeros(3, dtype=dtype))
    with pytest.raises(TypeError, match="list"):  # not a tensor at all: named, not an AttributeError
        actlab.get(name)([0.0, 1.0])


@pytest.mark.parametrize("name", [n for n in NAMES if spec(n).cls.positive])
@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_rejects_bad_hparam(name, bad):
    key = spec(name).cls.positive[0]
    with pytest.raises(ValueError, match=key):
        actlab.get(name, **{key: bad})
    with pytest.raises(ValueError, match=key):
        getattr(actlab.functional, name)(torch.zeros(2), **{key: bad})


def test_unknown_name_suggests():
    with pytest.raises(KeyError, match="isrlu"):
        actlab.get("isrlü")
    with pytest.raises(TypeError, match="alpha"):
        actlab.get("relu", alpha=2.0)


def test_names_case_insensitive_and_aliases():
    assert type(actlab.get("ISRLU")) is actlab.ISRLU
    assert type(actlab.get("SiLU")) is actlab.Swish
    assert len(set(NAMES)) == len(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_repr_shows_hparams(name):
    text = repr(actlab.get(name))
    for key, value in spec(name).defaults.items():
        assert f"{key}={value:g}" in text


@pytest.mark.parametrize("name", NAMES)
def test_functional_matches_module(name):
    x = torch.randn(100)
    torch.testing.assert_close(getattr(actlab.functional, name)(x), actlab.get(name)(x))


def test_drop_in_training_loss_decreases():
    torch.manual_seed(0)
    x = torch.randn(256, 8)
    y = (x[:, :1] * x[:, 1:2]).sign()
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), actlab.get("isrlu"), torch.nn.Linear(32, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(200):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("name", NAMES)
def test_functional_binds_like_its_signature(name):
    # The binder is hand-written for speed: positional and keyword hyperparameters agree, and bad calls say why.
    fn, keys = getattr(actlab.functional, name), list(spec(name).defaults)
    x = torch.randn(50)
    vals = [1.25 + 0.25 * i for i in range(len(keys))]
    torch.testing.assert_close(fn(x, *vals), fn(x, **dict(zip(keys, vals, strict=True))))
    torch.testing.assert_close(fn(x, *vals), spec(name).cls(*vals)(x))
    with pytest.raises(TypeError, match=f"takes {len(keys)} hyperparameter"):
        fn(x, *vals, 1.0)
    with pytest.raises(TypeError, match="unknown keyword.*allowed: .*fused"):
        fn(x, not_a_hparam=1.0)
    if keys:
        with pytest.raises(TypeError, match=f"multiple values for '{keys[0]}'"):
            fn(x, vals[0], **{keys[0]: vals[0]})
