"""In bf16 and fp16 every activation saves exactly one tensor: fused activations on the float32 kernels (computed in
float32, rounded once), the others on the one-tensor recompute path (as on MPS, and on CUDA without Triton)."""

from __future__ import annotations

import pytest
import torch

import actlab
from actlab import kernels
from actlab.expr import ExprActivation
from tests._saved import saved_count

DTYPES = (torch.bfloat16, torch.float16)


def _modules() -> list[tuple[str, torch.nn.Module]]:
    mods = [(n, actlab.get(n)) for n in actlab.names("unary")]
    return mods + [(e, ExprActivation(e)) for e in ("x * sigmoid(beta * x)", "x * tanh(x)")]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_one_saved_tensor_and_composite_values(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    base = torch.randn(257) * 4
    bad = []
    for name, m in _modules():
        x = base.to(dtype).requires_grad_(True)
        fused = bool(m._get_kernel()) if isinstance(m, ExprActivation) else m.spec.kernel is not None
        y, n = saved_count(m, x)
        if n != 1:
            bad.append(f"{name}: {n}")
            continue
        w = torch.linspace(-1, 1, y.numel(), dtype=dtype)
        (gx,) = torch.autograd.grad((y * w).sum(), x)
        xr = (base.to(dtype).double() if fused else base.to(dtype)).requires_grad_(True)
        m.fused = False
        yr = m(xr)
        m.fused = True
        (gr,) = torch.autograd.grad((yr * w.to(yr.dtype)).sum(), xr)
        if fused:  # the float32 kernel rounded once: the exact value rounded to the dtype, up to one ulp
            torch.testing.assert_close(y.double(), yr.detach().to(dtype).double(), rtol=torch.finfo(dtype).eps,
                                       atol=1e-5, msg=name)
        else:  # the composite with no graph: the same numbers as under plain autograd
            torch.testing.assert_close(y, yr, msg=name)
        torch.testing.assert_close(gx.float(), gr.float(), rtol=2e-2, atol=2e-2, msg=name)
    assert not bad, f"saved more than one tensor: {bad}"


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_trainable_parameters_get_gradients_on_the_generic_path(dtype: torch.dtype) -> None:
    mods = [actlab.spec(n).cls(trainable=True) for n in actlab.names() if actlab.spec(n).trainable]
    mods += [ExprActivation("x * sigmoid(beta * x)"), ExprActivation("x * sigmoid(beta * x)", per_channel=True,
                                                                      channels=3)]
    x = (torch.randn(4, 3, 5) * 3).to(dtype)
    for m in mods:
        m.to(dtype)
        y = m(x)
        y.sum().backward()
        ps = list(m.parameters())
        assert ps and all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in ps), m
        # Against the composite under plain autograd.
        grads = [p.grad.clone() for p in ps]
        m.zero_grad()
        m.fused = False
        m(x).sum().backward()
        m.fused = True
        for a, p in zip(grads, ps, strict=False):
            torch.testing.assert_close(a.float(), p.grad.float(), rtol=3e-2, atol=3e-2)


def test_generic_path_double_backward() -> None:
    for name in actlab.names("unary"):
        m = actlab.get(name)
        x = (torch.randn(6, dtype=torch.float64) * 3).requires_grad_(True)
        # Through kernels.recompute directly (float64 would take the fused path).
        ref, params = m.spec.reference, m.params()
        torch.autograd.gradgradcheck(lambda t, ref=ref, params=params: kernels.recompute(ref, t, *params), (x,))
