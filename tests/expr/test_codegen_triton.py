"""Generated Triton kernels: every operator of the table, printed from the same element source as the numba kernel,
run on CPU tensors by Triton's interpreter (``TRITON_INTERPRET=1``, set in conftest) against the numba kernel and
the float64 composite."""

from __future__ import annotations

import pytest
import torch

from actlab import kernels
from actlab.expr import OPERATORS, compile_kernel, parse
from actlab.expr import _kmath
from actlab.expr._codegen import triton_source
from actlab.expr._ops import HELPERS
from actlab.kernels import _fused
from actlab.kernels import _triton as triton_backend

pytestmark = [pytest.mark.skipif(not triton_backend.available(), reason="triton is not installed"),
              pytest.mark.skipif(not triton_backend.interpreting(), reason="TRITON_INTERPRET=0: run on a GPU"),
              pytest.mark.filterwarnings("ignore::RuntimeWarning")]


def _case(name: str) -> str:
    # Each operator once, in a small expression that keeps it inside its domain on the test grid.
    op = OPERATORS[name]
    if op.kind == "leaf":
        return "x * eps + x"
    a, b = ("abs(x) + 0.5", "sin(x)") if name in ("sqrt", "fdiv") else ("x", "sin(x)")
    text = op.syntax.format(a=a, b=b) if op.kind == "binary" else op.syntax.format(a=a)
    return text if "x" in text else f"x + {text}"


CASES = sorted({_case(n) for n in OPERATORS})


def test_every_helper_is_bound_by_both_backends() -> None:
    from actlab.expr import _tlmath

    assert [h for h in HELPERS if not hasattr(_kmath, h)] == []
    assert [h for h in HELPERS if not hasattr(_tlmath, h)] == []


@pytest.mark.parametrize("text", CASES)
def test_triton_matches_numba_and_the_composite(text: str) -> None:
    kernel = compile_kernel(text)
    values = tuple(1.3 for _ in kernel.param_names)
    x = torch.cat([torch.linspace(-9, 9, 1000), torch.tensor([0.0, -0.0, float("nan")])])
    g = torch.randn_like(x)
    with kernels.use_triton_on_cpu():
        assert kernels.backend(kernel, x, *values) == "triton"
        y = _fused.fused_forward(kernel, x, values)
        gx, sums = _fused.fused_backward(kernel, x, g, values, True)
    y_n = _fused.fused_forward(kernel, x, values)
    gx_n, _ = _fused.fused_backward(kernel, x, g, values, False)
    _, sums_n = _fused.fused_backward(kernel, x[:-1], g[:-1], values, True)
    # as the numba kernel does, NaN included (NaN in gives NaN out; a kink's slope at NaN follows sympy's form)
    torch.testing.assert_close(y, y_n, rtol=1e-5, atol=1e-5, equal_nan=True)
    torch.testing.assert_close(gx, gx_n, rtol=1e-4, atol=1e-4, equal_nan=True)
    assert torch.isnan(y[-1])
    # against float64 autograd of the composite form
    ref = parse(text).torch_fn()
    xd = x[:-1].double().requires_grad_(True)
    ps = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    yd = ref(xd, *ps)
    grads = torch.autograd.grad(yd, [xd, *ps], g[:-1].double())
    torch.testing.assert_close(y[:-1].double(), yd.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx[:-1].double(), grads[0], rtol=1e-4, atol=1e-4)
    if values:  # the β sums were taken with the NaN element in the Triton run: compare without it
        with kernels.use_triton_on_cpu():
            _, sums = _fused.fused_backward(kernel, x[:-1], g[:-1], values, True)
        for got, want, numba in zip(sums, grads[1:], sums_n, strict=True):
            torch.testing.assert_close(float(got), float(want), rtol=1e-4, atol=1e-3)
            torch.testing.assert_close(float(got), float(numba), rtol=1e-4, atol=1e-3)


def test_the_triton_module_is_written_only_on_the_first_gpu_call(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ACTLAB_CACHE_DIR", str(tmp_path))
    kernel = compile_kernel("x * tanh(softplus(x)) + beta")
    assert not (tmp_path / "triton").exists()  # compiling for the CPU wrote no Triton module
    with kernels.use_triton_on_cpu():
        y = kernels.apply(kernel, torch.randn(64).bfloat16(), 0.5)
    assert y.dtype == torch.bfloat16 and any((tmp_path / "triton").iterdir())


def test_constant_outputs_are_broadcast_to_the_block() -> None:
    src = triton_source("x + beta")
    assert "tl.zeros_like(x)" in src  # f′ = 1 and ∂f/∂β = 1 do not depend on x
