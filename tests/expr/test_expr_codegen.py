"""Generated fused kernels agree with the composite torch form (values and gradients, gradcheck in float64).

Compiles are the cost here, so a handful of expressions together cover every operator of the table (a test checks
that coverage), each compiled once per dtype in this process and cached on disk.
"""

import pytest
import torch

from actlab.expr import OPERATORS, compile_kernel, kernel_source, parse
from actlab.kernels import apply

# numba's pedantic SSA self-check fires on actlab.kernels._math's inlined helpers; the code it compiles is correct.
pytestmark = pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaIRAssumptionWarning")

COVER = [
    "sigmoid(beta * x) * abs(x)",
    "exp(-beta * (x - sinh(x))^2) + cosh(x)^3 / (sqrt(cosh(x)) + eps)",
    "exp(-beta * abs(x - x^2)) * log(abs(x) + eps)",
    "beta * tanh(x) + (1 - beta) * asinh(x)",
    "max(atan(x), sinc(x)) - min(x, 0)",
    "min(exp(x), -erf(x)) + max(x, 0)",
    "log(1 + exp(x)) * exp(-x^2) + (x + beta) * sin(x) * cos(x)",
    "x / (exp(x) + 1) + sigmoid(x) - eps * beta",
]


def test_cover_uses_every_operator():
    used = {name for text in COVER for name in parse(text).operators()}
    missing = {op.name for op in OPERATORS.values() if not op.passthrough} - used
    assert not missing, f"add an expression using {missing} to COVER"


def _inputs(e, dtype, n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, generator=g, dtype=torch.float64) * 6 - 3).to(dtype)
    betas = [torch.tensor(0.7 + 0.3 * i, dtype=dtype, requires_grad=True) for i in range(e.betas)]
    return x.requires_grad_(True), betas


@pytest.mark.parametrize("text", COVER)
def test_kernel_matches_composite_float64(text):
    e = parse(text)
    k = compile_kernel(e)
    ref = e.torch_fn()
    x, betas = _inputs(e, torch.float64)
    y = apply(k, x, *betas, reference=ref)
    y_ref = ref(x, *betas)
    torch.testing.assert_close(y, y_ref, rtol=1e-12, atol=1e-12)
    gy = torch.randn_like(y)
    got = torch.autograd.grad(y, [x, *betas], gy)
    want = torch.autograd.grad(y_ref, [x, *betas], gy)
    for a, b in zip(got, want, strict=False):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    assert torch.autograd.gradcheck(lambda x, *b: apply(k, x, *b, reference=ref), (x, *betas), eps=1e-6,
                                    atol=1e-6, rtol=1e-5)


def test_kernel_float32_and_parallel_path_match():
    e = parse("x * sigmoid(beta * x)")
    k = compile_kernel(e)
    ref = e.torch_fn()
    x = torch.randn(1 << 15).requires_grad_(True)  # above the serial threshold: the prange variants run
    b = torch.tensor(1.3, requires_grad=True)
    y = apply(k, x, b, reference=ref)
    y_ref = ref(x, b)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-6)
    assert y.dtype == torch.float32
    gx, gb = torch.autograd.grad(y.sum(), [x, b])
    rx, rb = torch.autograd.grad(y_ref.sum(), [x, b])
    torch.testing.assert_close(gx, rx, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gb, rb, rtol=1e-4, atol=1e-3)


def test_special_values():
    e = parse(COVER[4])  # max/min/sinc: kinks, and sinc's 0/0 at the origin
    k = compile_kernel(e)
    x = torch.tensor([float("nan"), 0.0, -0.0, 1e-300, 30.0, -30.0], dtype=torch.float64)
    out = torch.empty_like(x)
    k.forward(x.numpy(), out.numpy())
    assert torch.isnan(out[0])
    torch.testing.assert_close(out[1:], e(x[1:]), rtol=1e-12, atol=1e-12)
    gx = torch.empty_like(x)
    k.backward(x.numpy(), torch.ones_like(x).numpy(), gx.numpy())
    assert torch.isnan(gx[0]) and torch.isfinite(gx[1:]).all()


def test_source_is_cached_on_disk_and_reused(tmp_path, monkeypatch):
    from actlab.expr import cache_dir

    src = kernel_source("max(x, tanh(x))")
    # Only the element functions are generated; the loops come from the shared template (actlab.kernels.make_loops).
    assert "def _f(" in src and "def _df(" in src and "_tanh" in src and "prange" not in src
    assert compile_kernel("max(x, tanh(x))") is compile_kernel(parse("max(x,tanh(x))"))
    assert any(p.read_text() == src for p in cache_dir().glob("expr_*.py"))
    monkeypatch.setenv("ACTLAB_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path / "kernels"


def test_double_backward_uses_the_composite():
    e = parse(COVER[0])
    k = compile_kernel(e)
    x, betas = _inputs(e, torch.float64, n=6)
    y = apply(k, x, *betas, reference=e.torch_fn())
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    (g2,) = torch.autograd.grad(g.sum(), x)
    x2 = x.detach().requires_grad_(True)
    (r,) = torch.autograd.grad(e.torch_fn()(x2, *betas).sum(), x2, create_graph=True)
    (r2,) = torch.autograd.grad(r.sum(), x2)
    torch.testing.assert_close(g2, r2)
