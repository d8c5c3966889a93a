"""The registered operators over every kernel: direct calls, double backward, fake tensors, decompositions."""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

import actlab
from actlab import kernels
from actlab.expr import compile_kernel

SPECS = [actlab.spec(n) for n in actlab.names() if actlab.spec(n).kernel]
CASES = [(s.name, kernels.get_kernel(s.kernel), s.reference) for s in SPECS]
CASES += [(e, compile_kernel(e), None) for e in ("x * sigmoid(beta * x)", "x * tanh(x)")]


def _params(kernel: kernels.FusedKernel, trainable: bool) -> list[torch.Tensor]:
    return [torch.tensor(1.3, dtype=torch.float64, requires_grad=trainable) for _ in kernel.param_names]


@pytest.mark.parametrize(("name", "kernel", "reference"), CASES, ids=[c[0] for c in CASES])
def test_operator(name: str, kernel: kernels.FusedKernel, reference) -> None:
    op = kernels.operator(kernel, reference)
    assert op.overload is getattr(torch.ops.actlab, kernels.op_name(kernel.name)).default
    ref = op.reference
    x = (torch.randn(9, dtype=torch.float64) * 3).requires_grad_(True)
    ps = _params(kernel, trainable=True)
    # Values against the composite, on the numba path (float64) and the composite path (float32 per-channel-like).
    torch.testing.assert_close(op.overload(x, ps), ref(x, *ps))
    torch.autograd.gradcheck(lambda t, *p: op.overload(t, list(p)), (x, *ps))
    torch.autograd.gradgradcheck(lambda t, *p: op.overload(t, list(p)), (x, *ps))
    # bf16 runs the float32 kernel and rounds once: the float64 value rounded to bf16, up to one bf16 ulp
    xb = x.detach().bfloat16()
    exact = ref(xb.double(), *[p.detach() for p in ps])
    torch.testing.assert_close(op.overload(xb, [p.detach() for p in ps]).double(), exact.bfloat16().double(),
                               rtol=2 ** -7, atol=1e-6)
    xd, pd = x.detach().float(), [p.detach() for p in ps]
    mode = FakeTensorMode()
    fx, fps = mode.from_tensor(xd), [mode.from_tensor(p) for p in pd]
    with mode:
        assert op.overload(fx, fps).shape == x.shape
    # the decomposition (what ONNX export runs) computes the operator's values
    xs = x.detach() * 1.7
    torch.testing.assert_close(kernels.decompositions()[op.overload](xs, pd), op.overload(xs, pd))


def test_op_names_are_identifiers() -> None:
    assert kernels.op_name("isrlu") == "isrlu"
    n = kernels.op_name("expr:x * sigmoid(beta0 * x)")
    assert n.isidentifier() and n != kernels.op_name("expr:x * sigmoid(beta1 * x)")


def test_apply_checks_the_parameter_count() -> None:
    with pytest.raises(TypeError, match="takes 1 parameters"):
        kernels.apply(kernels.get_kernel("isrlu"), torch.randn(3))
