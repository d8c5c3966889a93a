"""The gated zoo entries (GLU family) over the registry: convention, kernels against the composite, memory, errors.

Graph capture (trace, compile, export, ONNX) of every gated entry is in test_graphs.py's chain; relu2 is unary and
runs through every unary registry test.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import actlab
from actlab import kernels

GATED = actlab.names("gated")
SPECIAL = [0.0, -0.0, 1e-45, -1e-45, 1e-20, -1e-20, 1.0, -1.0, 30.0, -30.0, 1e20, -1e20, 3e38, -3e38,
           float("inf"), float("-inf"), float("nan")]


def _close_to_reference(name: str, x: torch.Tensor, gate_last: bool, work: torch.dtype = torch.float64,
                        **tol: float) -> None:
    m = actlab.get(name, gate_last=gate_last)
    xg = x.clone().requires_grad_(True)
    y = m(xg)
    gy = torch.linspace(-1, 1, y.numel(), dtype=x.dtype).view_as(y)
    (gx,) = torch.autograd.grad(y, xg, gy)
    x64 = x.to(work).requires_grad_(True)
    y64 = m.spec.reference(x64, *m.params(), gate_last=gate_last)
    (g64,) = torch.autograd.grad(y64, x64, gy.to(work))
    # against the float64 composite rounded to x's dtype: overflow to ±inf is then the reference's too
    torch.testing.assert_close(y, y64.to(x.dtype), equal_nan=True, **tol)
    torch.testing.assert_close(gx, g64.to(x.dtype), equal_nan=True, **tol)


def test_the_issue_entries_are_registered_with_kernels() -> None:
    assert {"glu", "bilinear", "reglu", "geglu", "swiglu", "isruglu", "isrluglu"} <= set(GATED)
    assert "relu2" in actlab.names("unary") and actlab.spec("relu2").kernel == "relu2"
    assert set(GATED).isdisjoint(actlab.names("unary"))
    for n in GATED:
        k = kernels.get_gated(n)
        assert k is not None and k.param_names == tuple(actlab.spec(n).defaults), n
        assert actlab.spec(n).gated and actlab.spec(n).kernel is None


def test_glu_equals_torch_glu_and_gate_last_swaps_the_halves() -> None:
    x = torch.randn(4, 7, 10)
    torch.testing.assert_close(actlab.get("glu")(x), F.glu(x, dim=-1), rtol=2e-7, atol=1e-7)
    a, b = x.chunk(2, dim=-1)
    for n in GATED:
        first = actlab.get(n, gate_last=False)(torch.cat([b, a], -1))
        torch.testing.assert_close(first, actlab.get(n)(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", GATED)
@pytest.mark.parametrize("gate_last", [True, False])
def test_fused_matches_the_composite_in_float32(name: str, gate_last: bool) -> None:
    torch.manual_seed(0)
    for shape in [(3, 10), (5, 2), (130, 258)]:  # both loop sizes: serial and row-parallel
        _close_to_reference(name, torch.randn(shape) * 4, gate_last, rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("name", GATED)
def test_gradcheck_and_double_backward_in_float64(name: str) -> None:
    x = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    m = actlab.get(name)
    assert torch.autograd.gradcheck(m, (x,))
    assert torch.autograd.gradgradcheck(m, (x,))


def _gate_values(name: str, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """f(g) and f′(g) of the gate as its own unary kernel gives them (the identity for the bilinear layer): the
    kernel's loops, also where the unary module is PyTorch's own op (ReLU: aten passes the gradient on at NaN, the
    kernels give NaN)."""
    cls = actlab.spec(name).cls
    if cls.gate_name == "identity":
        return g.clone(), torch.ones_like(g)
    gate = actlab.spec(cls.gate_name)
    gg = g.clone().requires_grad_(True)
    f = kernels.apply(kernels.get_kernel(gate.kernel), gg, *cls.defaults.values(), reference=gate.reference)
    (d,) = torch.autograd.grad(f, gg, torch.ones_like(f))
    return f.detach(), d


@pytest.mark.parametrize("name", GATED)
def test_special_values_in_both_halves(name: str) -> None:
    # The gated kernel is the product rule in IEEE float32 over its gate's own values: y = a·f(g), ∂/∂a = dy·f(g),
    # ∂/∂g = (dy·a)·f′(g), with f and f′ as the unary kernel gives them on special values (tested in test_zoo), so
    # ∞·0 is NaN here as in any product; PyTorch's composite differs only where its where-masks hide such products.
    v = torch.tensor(SPECIAL)
    a, g = torch.meshgrid(v, v, indexing="ij")  # every (value, gate) pair
    a, g = a.reshape(-1, 1), g.reshape(-1, 1)
    x = torch.cat([a, g], dim=1).requires_grad_(True)
    y = actlab.get(name)(x)
    gy = torch.linspace(-1, 1, y.numel()).view_as(y)
    (gx,) = torch.autograd.grad(y, x, gy)
    f, d = _gate_values(name, g)
    torch.testing.assert_close(y, a * f, rtol=2e-6, atol=0, equal_nan=True)
    torch.testing.assert_close(gx, torch.cat([gy * f, gy * a * d], dim=1), rtol=2e-6, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", GATED)
def test_saves_only_the_packed_input(name: str) -> None:
    x = torch.randn(16, 64, requires_grad=True)
    saved: list[torch.Tensor] = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        actlab.get(name)(x).sum().backward()
    big = [t for t in saved if t.numel() > 1]
    assert len(big) == 1 and big[0].shape == x.shape, [tuple(t.shape) for t in big]


@pytest.mark.parametrize("name", GATED)
def test_odd_last_dimension_is_a_one_line_error(name: str) -> None:
    for bad in (torch.randn(4, 5), torch.randn(3, 0), torch.tensor(1.0)):
        with pytest.raises(ValueError, match=r"even last dimension .* got shape") as e:
            actlab.get(name)(bad)
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="even last dimension"):
        getattr(actlab.functional, name)(torch.randn(3))


def test_functional_and_repr_carry_gate_last() -> None:
    x = torch.randn(2, 6)
    torch.testing.assert_close(actlab.functional.swiglu(x, gate_last=False), actlab.SwiGLU(gate_last=False)(x))
    assert "gate_last=False" in repr(actlab.SwiGLU(gate_last=False))
    assert actlab.ISRUGLU(alpha=2.0).alpha == 2.0


def test_fixed_hyperparameters_only() -> None:
    with pytest.raises(ValueError, match="no trainable"):
        actlab.get("swiglu", trainable=True)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("name", GATED)
def test_low_precision_error_within_twice_torchs_own(name: str, dtype: torch.dtype) -> None:
    # The CPU runs the float32 kernel on bf16/fp16 and rounds once; the composite in the same dtype rounds every op.
    torch.manual_seed(1)
    x = (torch.randn(64, 128) * 3).to(dtype)
    m = actlab.get(name)
    exact = m.spec.reference(x.double(), *m.params())
    ours = (m(x).double() - exact).abs().max()
    torchs = (m.spec.reference(x, *m.params()).double() - exact).abs().max()
    assert ours <= 2 * torchs + 1e-30, (float(ours), float(torchs))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_opcheck_every_gated_operator(dtype: torch.dtype) -> None:
    for n in GATED:
        m = actlab.get(n)
        x = torch.randn(3, 8, dtype=dtype, requires_grad=True)
        op = kernels.gated_operator(kernels.get_gated(n))
        params = [torch.scalar_tensor(float(p), dtype=torch.float64) for p in m.params()]
        torch.library.opcheck(op.forward, (x, params, True))


def test_composite_path_off_the_kernel_devices() -> None:
    # meta tensors have no kernel backend: the recompute path runs the composite and keeps the shape contract
    x = torch.empty(4, 10, device="meta")
    assert actlab.get("reglu")(x).shape == (4, 5)


@pytest.mark.parametrize("name", GATED)
def test_triton_gated_kernel_matches_the_composite(name: str) -> None:
    pytest.importorskip("triton")
    torch.manual_seed(2)
    with kernels.use_triton_on_cpu():
        for shape, gate_last in [((3, 10), True), ((33, 2050), False)]:  # odd sizes: masked tails, >1 block
            x = torch.randn(shape) * 4
            assert kernels.gated_backend(kernels.get_gated(name), x) == "triton"
            _close_to_reference(name, x, gate_last, rtol=3e-6, atol=2e-6)
