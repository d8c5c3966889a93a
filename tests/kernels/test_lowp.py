"""bf16 and fp16 through every registered operator and every zoo activation: PyTorch's own custom-op test suite
(``torch.library.opcheck``), a compiled training step, and the float32-computed CPU path against the reference."""

from __future__ import annotations

import pytest
import torch

import actlab
from actlab import kernels
from actlab.bench.ops import top_level_aten_ops
from actlab.kernels import _fused
from actlab.expr import compile_kernel

LOWP = (torch.bfloat16, torch.float16)
SPECS = [actlab.spec(n) for n in actlab.names() if actlab.spec(n).kernel]
OPS = [(s.name, kernels.get_kernel(s.kernel), s.reference, tuple(s.cls.defaults.values())) for s in SPECS]
OPS += [(e, compile_kernel(e), None, (1.3,)) for e in ("x * sigmoid(beta * x)",)]


@pytest.mark.parametrize("dtype", (torch.float32, *LOWP), ids=str)
@pytest.mark.parametrize(("name", "kernel", "reference", "defaults"), OPS, ids=[o[0] for o in OPS])
def test_opcheck_passes_for_every_operator(name, kernel, reference, defaults, dtype) -> None:
    # Before the fix, 6 operators failed test_aot_dispatch_dynamic in bf16/fp16: their composite backward called
    # torch.autograd.grad inside the operator, below the Autograd key.
    op = kernels.operator(kernel, reference)
    x = (torch.randn(37) * 3).to(dtype).requires_grad_(True)
    params = [torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for v in defaults]
    torch.library.opcheck(op.forward, (x, params))


@pytest.mark.parametrize("name", actlab.names("unary"))
def test_a_compiled_bf16_training_step_works(name: str) -> None:
    # aot_eager runs dynamo and AOT autograd (where the bf16 backward broke) without inductor's code generation,
    # which tests/activations/test_compile.py covers in float32.
    torch._dynamo.reset()  # one Sequential per case: without it dynamo's recompile limit is reached
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), actlab.get(name), torch.nn.Linear(16, 4)).bfloat16()
    eager = [p.detach().clone() for p in model.parameters()]
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    x = torch.randn(5, 8, dtype=torch.bfloat16)
    compiled(x).float().square().mean().backward()
    grads = [p.grad.detach().clone() for p in model.parameters()]
    assert all(torch.isfinite(g).all() for g in grads)
    model.zero_grad()
    for p, e in zip(model.parameters(), eager, strict=True):
        assert torch.equal(p, e)
    model(x).float().square().mean().backward()  # the same step eagerly
    for g, p in zip(grads, model.parameters(), strict=True):
        torch.testing.assert_close(g, p.grad, atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("dtype", LOWP, ids=str)
@pytest.mark.parametrize(("name", "kernel", "reference", "defaults"), OPS[:-1], ids=[o[0] for o in OPS[:-1]])
def test_cpu_low_precision_computes_in_float32_and_rounds_once(name, kernel, reference, defaults, dtype) -> None:
    assert kernels.backend(kernel, torch.ones(2, dtype=dtype), *defaults) == "numba"
    # the 16-bit loops (serial and parallel): bit for bit the float32 kernel, rounded once
    xb = (torch.randn(20_000, dtype=torch.float64) * 4).to(dtype)
    yb = kernels.apply(kernel, xb, *defaults)
    assert yb.dtype == dtype and torch.equal(yb, _fused.fused_forward(kernel, xb.float(), defaults).to(dtype))
    gb = torch.randn_like(xb)
    sb = yb if kernel.saves_output else xb
    got, _ = _fused.fused_backward(kernel, sb, gb, defaults, False)
    want_g, _ = _fused.fused_backward(kernel, sb.float(), gb.float(), defaults, False)
    assert torch.equal(got, want_g.to(dtype))
    x = (torch.randn(513, dtype=torch.float64) * 4).to(dtype).requires_grad_(True)
    y = kernels.apply(kernel, x, *defaults, reference=reference)
    assert y.dtype == dtype
    xd = x.detach().double().requires_grad_(True)
    yd = reference(xd, *defaults)
    # one rounding of the exact value: within one ulp of the dtype (PyTorch's own tanh/σ round once too)
    torch.testing.assert_close(y.double(), yd.to(dtype).double(), atol=1e-3, rtol=torch.finfo(dtype).eps)
    g = torch.randn_like(yd)
    y.backward(g.to(dtype))
    yd.backward(g)
    # The backward reads the rounded x (or y), as PyTorch's own bf16 ops do; 4 eps covers that input rounding.
    torch.testing.assert_close(x.grad.double(), xd.grad.to(dtype).double(), atol=1e-2,
                               rtol=4 * torch.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", LOWP, ids=str)
@pytest.mark.parametrize("name", actlab.names())
def test_cpu_low_precision_forward_backward_takes_at_most_four_aten_ops(name: str, dtype: torch.dtype) -> None:
    # The target: a fused forward and backward, as in float32. The 16-bit numba loops launch no aten op at all;
    # ReLU and leaky ReLU modules are PyTorch's op and its backward (2); the composite recomputed took 9 to 41.
    spec = actlab.spec(name)
    m = spec.cls()
    x = torch.randn(64, 64, dtype=dtype, requires_grad=True)
    g = torch.randn_like(m(x))
    ops = top_level_aten_ops(m, x, g)
    assert len(ops) == (2 if spec.native_module else 0), ops  # the bound is 4
    composite = top_level_aten_ops(lambda t: kernels.recompute(spec.reference, t, *spec.cls.defaults.values()), x, g)
    assert len(composite) > len(ops), composite


@pytest.mark.parametrize("dtype", (torch.float32, torch.float64, *LOWP), ids=str)
@pytest.mark.parametrize("name", [s.name for s in SPECS if s.native_module])
def test_a_native_module_is_pytorchs_own_op(name: str, dtype: torch.dtype) -> None:
    # KernelDef.module_native (ReLU, leaky ReLU): the module is the native op, with its autograd node; the kernel
    # still serves kernels.apply (the numba loops on the CPU) and agrees with it away from NaN.
    spec = actlab.spec(name)
    kernel = kernels.get_kernel(spec.kernel)
    params = tuple(spec.cls.defaults.values())
    x = (torch.randn(3000) * 3).to(dtype).requires_grad_(True)
    xn = x.detach().clone().requires_grad_(True)
    y, yn = spec.cls()(x), kernel.native_op.functional(xn, *params)
    assert type(y.grad_fn).__name__ == type(yn.grad_fn).__name__
    g = torch.randn_like(y)
    y.backward(g)
    yn.backward(g)
    assert torch.equal(y, yn) and torch.equal(x.grad, xn.grad)
    assert kernels.backend(kernel, x.detach(), *params) == "numba"
    assert torch.equal(kernels.apply(kernel, x.detach(), *params), y.detach())
    m = spec.cls()
    m(x)
    for key in spec.cls.defaults:  # a new hyperparameter takes effect on the next call
        setattr(m, key, getattr(m, key) + 0.5)
    assert torch.equal(m(x), kernel.native_op.functional(x, *m.params()))
