"""The Triton kernels, run on CPU tensors by Triton's interpreter (``TRITON_INTERPRET=1``, set in conftest), over
every registry entry with a fused kernel: values and gradients against the float64 reference over the whole float
range, special values against the numba kernel, bf16/fp16 error against PyTorch's own, odd sizes and α/β gradients.
"""

from __future__ import annotations

import pytest
import torch

import actlab
from actlab import kernels
from actlab.kernels import _fused
from actlab.kernels import _triton as triton_backend
from tests._saved import saved_count

pytestmark = [pytest.mark.skipif(not triton_backend.available(), reason="triton is not installed"),
              pytest.mark.skipif(not triton_backend.interpreting(), reason="TRITON_INTERPRET=0: run on a GPU instead"),
              # the interpreter runs numpy, which warns where the kernels meet inf/NaN on purpose
              pytest.mark.filterwarnings("ignore::RuntimeWarning")]

SPECS = [actlab.spec(n) for n in actlab.names() if actlab.spec(n).kernel]
CASES = [(s.name, kernels.get_kernel(s.kernel), s.reference, tuple(float(v) for v in s.cls.defaults.values()))
         for s in SPECS]
IDS = [c[0] for c in CASES]
SPECIAL = [float("inf"), -float("inf"), float("nan"), 0.0, -0.0, 3.4e38, -3.4e38, 1e-40, -1e-40, 1e-30, -1e-30, 88.0,
           -88.0, 1e10, -1e10]


def _grid() -> torch.Tensor:
    # The whole float32 range, both signs, logarithmically, plus the dense middle (1024 + 15 elements: two blocks,
    # the second partial).
    mag = torch.logspace(-38, 38, 240, dtype=torch.float64)
    mid = torch.linspace(-12, 12, 544, dtype=torch.float64)
    return torch.cat([mag, -mag, mid, torch.tensor(SPECIAL, dtype=torch.float64)]).float()


def _triton(kernel, x, values, s=None, g=None, want=False):
    with kernels.use_triton_on_cpu():
        assert kernels.backend(kernel, x, *values) == "triton"
        if s is None:
            return _fused.fused_forward(kernel, x, values)
        return _fused.fused_backward(kernel, s, g, values, want)


def _reference(reference, x: torch.Tensor, values, g: torch.Tensor):
    xd = x.double().requires_grad_(True)
    ps = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    y = reference(xd, *ps)
    grads = torch.autograd.grad(y, [xd, *ps], g.double()) if ps else torch.autograd.grad(y, [xd], g.double())
    return y.detach(), grads[0], grads[1:]


def test_every_zoo_kernel_has_a_triton_form() -> None:
    assert [n for n, k, _, _ in CASES if k.triton is None] == []


@pytest.mark.parametrize(("name", "kernel", "reference", "values"), CASES, ids=IDS)
def test_float32_against_the_float64_reference_and_the_numba_kernel(name, kernel, reference, values) -> None:
    x = _grid()
    y = _triton(kernel, x, values)
    y_numba = _fused.fused_forward(kernel, x, values)
    g = torch.randn_like(x)
    s = y if kernel.saves_output else x
    gx, sums = _triton(kernel, s, s=s, g=g, values=values, want=True)
    gx_numba, sums_numba = _fused.fused_backward(kernel, y_numba if kernel.saves_output else x, g, values, True)
    y_ref, gx_ref, sums_ref = _reference(reference, x, values, g)
    # Special values (±inf, NaN, ±max, subnormals) as the numba kernel treats them (numba's fast exp is a few ulp
    # off in the far tails, hence 2e-5 here and the strict check against float64 below).
    torch.testing.assert_close(y, y_numba, rtol=2e-5, atol=1e-30, equal_nan=True)
    torch.testing.assert_close(gx, gx_numba, rtol=2e-5, atol=1e-6, equal_nan=True)
    # And the float64 reference wherever it is finite in float32: relative to the value, or to float32's eps where
    # a form cancels near 0 in float32 (ISRU-σ's ½ + ½·isru, as on the CPU).
    fin = torch.isfinite(y_ref.float())
    torch.testing.assert_close(y[fin].double(), y_ref[fin], rtol=2e-6, atol=1e-7)
    # where f′ or dy·f′ passes float32's range (squared ReLU's 2x near max) the kernel's is ±inf
    fin = torch.isfinite((gx_ref / g.double()).float()) & torch.isfinite(gx_ref.float()) & torch.isfinite(x)
    torch.testing.assert_close(gx[fin].double(), gx_ref[fin], rtol=2e-5, atol=1e-6)
    # α/β: a block-wise reduction, summed once in float64; the grid's NaN makes both sums NaN, so check on finite x.
    if values:
        xf = x[torch.isfinite(x) & (x.abs() < 1e6)]
        gf = torch.randn_like(xf)
        sf = _triton(kernel, xf, values) if kernel.saves_output else xf
        _, sums = _triton(kernel, sf, s=sf, g=gf, values=values, want=True)
        _, _, sums_ref = _reference(reference, xf, values, gf)
        for got, want in zip(sums, sums_ref, strict=True):
            assert got.dtype == torch.float64 and got.dim() == 0
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        assert len(sums_numba) == len(values)


def _truncate_to_bf16(t: torch.Tensor) -> torch.Tensor:
    return (t.float().view(torch.int32) & -65536).view(torch.float32).bfloat16()


@pytest.mark.parametrize("dtype", (torch.bfloat16, torch.float16), ids=str)
@pytest.mark.parametrize(("name", "kernel", "reference", "values"), CASES, ids=IDS)
def test_low_precision_error_is_at_most_twice_pytorchs_own(name, kernel, reference, values, dtype) -> None:
    torch.manual_seed(0)
    x = (torch.randn(1024, dtype=torch.float64) * 3).to(dtype)
    g = torch.randn(1024, dtype=torch.float64).to(dtype)
    y = _triton(kernel, x, values)
    assert y.dtype == dtype
    s = y if kernel.saves_output else x
    gx, _ = _triton(kernel, s, s=s, g=g, values=values)
    if dtype == torch.bfloat16:
        # The interpreter casts float32 to bf16 by truncation where a GPU rounds to nearest: check that the store
        # is that cast of the float32 computation, then judge the float32 value rounded as a GPU rounds it.
        y32 = _triton(kernel, x.float(), values)
        g32, _ = _triton(kernel, s.float(), s=s.float(), g=g.float(), values=values)
        assert torch.equal(y.view(torch.int16), _truncate_to_bf16(y32).view(torch.int16))
        assert torch.equal(gx.view(torch.int16), _truncate_to_bf16(g32).view(torch.int16))
        y = y32.bfloat16()
        if kernel.saves_output:  # the backward reads y as a GPU would have stored it
            g32, _ = _triton(kernel, y.float(), s=y.float(), g=g.float(), values=values)
        gx = g32.bfloat16()
    y_ref, gx_ref, _ = _reference(reference, x.double(), values, g.double())
    # PyTorch's own low-precision result: the composite reference evaluated in the low dtype under autograd.
    xl = x.clone().requires_grad_(True)
    yl = reference(xl, *values)
    (gl,) = torch.autograd.grad(yl, xl, g)

    def err(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a.double() - b).abs().max())

    ulp = torch.finfo(dtype).eps
    assert err(y, y_ref) <= 2 * err(yl, y_ref) + ulp * 1e-3
    # The gradient is judged at the rounded y where the kernel reads y, as PyTorch's own tanh/σ backward is.
    assert err(gx, gx_ref) <= 2 * err(gl, gx_ref) + ulp * 1e-3


@pytest.mark.parametrize("n", [1, 1023, 4097])
@pytest.mark.parametrize("name", ["isrlu", "gelu"])
def test_odd_sizes(name: str, n: int) -> None:
    kernel = kernels.get_kernel(name)
    values = tuple(float(v) for v in actlab.spec(name).cls.defaults.values())
    x = torch.randn(n) * 3
    torch.testing.assert_close(_triton(kernel, x, values), _fused.fused_forward(kernel, x, values), rtol=2e-6,
                               atol=1e-7)
    g = torch.randn(n)
    s = _fused.fused_forward(kernel, x, values) if kernel.saves_output else x
    gx, sums = _triton(kernel, s, s=s, g=g, values=values, want=True)
    gx_n, sums_n = _fused.fused_backward(kernel, s, g, values, True)
    torch.testing.assert_close(gx, gx_n, rtol=2e-5, atol=1e-6)
    for a, b in zip(sums, sums_n, strict=True):
        torch.testing.assert_close(float(a), float(b), rtol=1e-4, atol=1e-5)


def test_the_registered_operator_and_autograd_run_the_triton_kernels() -> None:
    kernel = kernels.get_kernel("isrlu")
    op = kernels.operator(kernel, actlab.spec("isrlu").reference)
    x = (torch.randn(300) * 3).bfloat16().requires_grad_(True)
    alpha = torch.tensor(1.5, requires_grad=True)
    with kernels.use_triton_on_cpu():
        y = kernels.apply(kernel, x, alpha, reference=actlab.spec("isrlu").reference)
        y.float().sum().backward()
        y_op = op.overload(x.detach(), [torch.tensor(1.5, dtype=torch.float64)])
    torch.testing.assert_close(y_op, y.detach())
    x64 = x.detach().double().requires_grad_(True)
    a64 = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    actlab.spec("isrlu").reference(x64, a64).sum().backward()
    torch.testing.assert_close(x.grad.double(), x64.grad, rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(alpha.grad.double(), a64.grad, rtol=2e-2, atol=1e-2)


def test_a_malformed_element_function_name_is_a_one_line_error() -> None:
    with pytest.raises(ValueError, match="package.module:name"):
        triton_backend.kernel_source("no_colon_here", 1)


@pytest.mark.parametrize("nparams", [0, 1, 2])
def test_the_generated_source_compiles(nparams: int) -> None:
    src = triton_backend.kernel_source("pkg.mod:fn", nparams)
    compile(src, "<triton>", "exec")
    assert ("if WANT:" in src) == (nparams > 0)


@pytest.mark.parametrize("name", ["swish", "isrlu"])  # one input-saving and one output-saving kernel
def test_compiled_graphs_and_one_saved_tensor_on_the_triton_path(name: str) -> None:
    torch._dynamo.reset()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), actlab.get(name), torch.nn.Linear(16, 4)).bfloat16()
    x = torch.randn(5, 8, dtype=torch.bfloat16)
    with kernels.use_triton_on_cpu():
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
        compiled(x).float().square().mean().backward()
        grads = [p.grad.detach().clone() for p in model.parameters()]
        model.zero_grad()
        model(x).float().square().mean().backward()  # eager, the same Triton kernels
        torch.testing.assert_close(grads, [p.grad for p in model.parameters()])
        act = actlab.get(name)
        h = torch.randn(64, dtype=torch.bfloat16, requires_grad=True)
        y, saved = saved_count(act, h)
        assert saved == 1
        y.float().sum().backward()
        assert h.grad is not None and torch.isfinite(h.grad).all()


@pytest.mark.parametrize("name", [n for n, k, _, _ in CASES if k.param_names])
def test_a_tensor_parameter_is_loaded_in_the_kernel_not_read_back(name: str, monkeypatch) -> None:
    # A learnable α/β on the device goes to the pointer variant (fwd_p/bwd_p) as it is: float(p) on a GPU tensor
    # would wait for the device on every call. The values and the α/β sums equal the number path's.
    kernel = kernels.get_kernel(name)
    values = tuple(1.5 for _ in kernel.param_names)  # exact in float32 (the kernels compute in float32)
    x = (torch.randn(2100) * 3).requires_grad_(True)
    params = [torch.tensor(v, requires_grad=True) for v in values]
    reads: list[float] = []
    real = torch.Tensor.__float__
    monkeypatch.setattr(torch.Tensor, "__float__", lambda t: reads.append(1) or real(t))
    with kernels.use_triton_on_cpu():
        assert triton_backend._launch_args(tuple(p.detach() for p in params), x.device)[0] == "_p"
        y = kernels.apply(kernel, x, *params)
        y.backward(torch.ones_like(y))
    monkeypatch.undo()
    assert reads == [], "a tensor parameter was read back with float()"
    y_num = _triton(kernel, x.detach(), values)
    s = y_num if kernel.saves_output else x.detach()
    gx_num, sums_num = _triton(kernel, s, values, s=s, g=torch.ones_like(s), want=True)
    assert torch.equal(y.detach(), y_num) and torch.equal(x.grad, gx_num)
    for p, v in zip(params, sums_num, strict=True):
        assert torch.equal(p.grad.double(), v.double().reshape(p.shape).to(p.dtype).double())


@pytest.mark.parametrize("name", ["swish", "isrlu", "gelu"])  # an input-saving, an output-saving and an erf kernel
def test_the_triton_op_form_equals_the_operator(name: str) -> None:
    # kernels.use_triton_op()'s operators (actlab::<name>_tl and its backward), called eagerly: the same values and
    # input gradients as the Triton path through the autograd Function. Under the interpreter torch cannot trace a
    # Triton kernel (wrap_triton returns the interpreted function as it is), so their compiled form, where inductor
    # sees the kernels, runs only on a GPU: benchmarks/gpu_activations.py checks and times it there.
    from actlab.kernels import _triton_op

    spec = actlab.spec(name)
    kernel = kernels.get_kernel(spec.kernel)
    params = tuple(spec.cls.defaults.values())
    x = (torch.randn(3000) * 3).requires_grad_(True)
    xo = x.detach().clone().requires_grad_(True)
    g = torch.randn(3000)
    kernels.use_triton_op(True)
    try:
        with kernels.use_triton_on_cpu():
            assert _triton_op.serves(kernel, x, params)
            learnable = (torch.tensor(1.0, requires_grad=True),) * len(params)
            assert _triton_op.serves(kernel, x, learnable) == (not params)  # α/β with a gradient: the opaque op
            y = _triton_op.call(kernel, x, params)
            yo = kernels.apply(kernel, xo, *params, reference=spec.reference)
            y.backward(g)
            yo.backward(g)
    finally:
        kernels.use_triton_op(False)
    assert torch.equal(y, yo) and torch.equal(x.grad, xo.grad)
    assert hasattr(torch.ops.actlab, f"{kernels.op_name(kernel.name)}_tl")
