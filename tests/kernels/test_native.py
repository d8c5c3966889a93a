"""The C++ autograd node (actlab.kernels._native) against the Python autograd.Function, over every kernel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import warnings

import pytest
import torch

import actlab.activations as A
from actlab import kernels as K
from actlab.expr import compile_kernel
from actlab.kernels import _fused, _native
from tests._saved import saved_count


NAMES = list(K.KERNELS)
DTYPES = [torch.float32, torch.float64]
NODE_DTYPES = [*DTYPES, torch.bfloat16, torch.float16]  # the node's loops read bf16/fp16 as 16 bits
PARAM = 1.7

# Where a compiler exists and the node is not switched off, conftest has built it: a missing node is a failure
# here, not a skip.
if not K.native_enabled():
    if shutil.which("g++") and os.environ.get("ACTLAB_NATIVE", "1") != "0":
        raise AssertionError(f"the native autograd node should be built here: {K.native_status()}")
    pytest.skip(f"native autograd node: {K.native_status()}", allow_module_level=True)


def _params(name: str) -> list[float]:
    return [PARAM] * len(K.KERNELS[name].param_names)


def _run(name: str, x: torch.Tensor, gy: torch.Tensor, native: bool) -> tuple[torch.Tensor, torch.Tensor, str]:
    K.use_native(native)
    try:
        xg = x.clone().requires_grad_(True)
        y = K.apply(K.KERNELS[name], xg, *_params(name), reference=A.spec(name).reference)
        y.backward(gy)
        return y.detach(), xg.grad, y.grad_fn.name()
    finally:
        K.use_native(True)


def _is_node(grad_fn_name: str) -> bool:
    return "FusedNode" in grad_fn_name


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
def test_node_matches_python_function_bit_for_bit(name: str, dtype: torch.dtype) -> None:
    """Same numba loops behind both: values and input gradients are identical, serial and parallel sizes (the node
    splits the serial loop over torch's threads above PARALLEL_GRAIN, the Python Function runs numba's parallel
    loop; on two threads, so that the split really splits)."""
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _node_matches_function(name, dtype)
    finally:
        torch.set_num_threads(old)


def _node_matches_function(name: str, dtype: torch.dtype) -> None:
    for n in (257, 3 * (1 << 14) + 5, 5 * _native.PARALLEL_GRAIN + 7):
        g = torch.Generator().manual_seed(n)
        x = torch.randn(n, generator=g, dtype=dtype) * 5
        gy = torch.randn(n, generator=g, dtype=dtype)
        y_n, gx_n, fn_n = _run(name, x, gy, native=True)
        y_p, gx_p, fn_p = _run(name, x, gy, native=False)
        assert _is_node(fn_n) and not _is_node(fn_p), (fn_n, fn_p)
        assert torch.equal(y_n, y_p) and torch.equal(gx_n, gx_p)


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("name", NAMES)
def test_double_backward_on_both_paths(name: str, native: bool) -> None:
    """create_graph=True goes back to differentiable torch ops (the node calls into Python for it)."""
    x = torch.linspace(-3.1, 2.9, 7, dtype=torch.float64).requires_grad_(True)
    k, ref = K.KERNELS[name], A.spec(name).reference
    K.use_native(native)
    try:
        assert _is_node(K.apply(k, x, *_params(name), reference=ref).grad_fn.name()) == native
        assert torch.autograd.gradgradcheck(lambda x: K.apply(k, x, *_params(name), reference=ref), (x,))
    finally:
        K.use_native(True)


def test_routing() -> None:
    """The node takes small tensors with fixed parameters; the Python Function takes the rest."""
    k = K.KERNELS["isrlu"]
    x = torch.randn(64, requires_grad=True)
    assert _is_node(K.apply(k, x, 1.0).grad_fn.name())
    assert _is_node(K.apply(k, x, torch.tensor(1.0)).grad_fn.name())  # a tensor that needs no gradient
    alpha = torch.tensor(1.0, requires_grad=True)
    assert not _is_node(K.apply(k, x, alpha).grad_fn.name())  # ∂/∂α is the Python Function's job
    big = torch.zeros(_fused.HUGEPAGE_MIN_BYTES // 4, requires_grad=True)
    if _fused._hugepages[0]:  # large outputs keep their huge-page allocation
        assert not _is_node(K.apply(k, big, 1.0).grad_fn.name())
    assert _is_node(K.apply(compile_kernel("x * sigmoid(x)"), x).grad_fn.name())  # a generated kernel too


@pytest.mark.parametrize("text", ["x * sigmoid(x)", "max(x, 0) + beta * sin(x)"])
def test_expression_kernels_on_both_paths(text: str) -> None:
    """Generated kernels pick their serial or parallel loop by size on both paths; β needing a gradient keeps the
    Python Function."""
    k = compile_kernel(text)
    beta = [0.3] * len(k.param_names)
    for n in (300, 3 * (1 << 14)):
        x = torch.randn(n, generator=torch.Generator().manual_seed(n)) * 3
        out = []
        for native in (True, False):
            K.use_native(native)
            try:
                xg = x.clone().requires_grad_(True)
                y = K.apply(k, xg, *beta)
                y.backward(torch.ones_like(y))
                assert _is_node(y.grad_fn.name()) == native
                out.append((y.detach(), xg.grad))
            finally:
                K.use_native(True)
        assert torch.equal(out[0][0], out[1][0]) and torch.equal(out[0][1], out[1][1])
    if beta:
        b = torch.tensor(0.3, requires_grad=True)
        assert not _is_node(K.apply(k, torch.randn(5, requires_grad=True), b).grad_fn.name())


def test_shapes_strides_and_modes() -> None:
    k, ref = K.KERNELS["swish"], A.spec("swish").reference
    for shape in [(), (0,), (0, 3), (3, 5, 7)]:
        x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
        y = K.apply(k, x, 1.3)
        y.sum().backward()
        assert y.shape == x.shape and x.grad.shape == x.shape
        assert torch.allclose(y.detach(), ref(x.detach(), 1.3))
    x = torch.randn(6, 8, dtype=torch.float64).t()[::2].requires_grad_(True)
    gy = torch.randn(6, 8, dtype=torch.float64).t()[::2]
    y = K.apply(k, x, 1.3)
    assert _is_node(y.grad_fn.name())
    y.backward(gy)
    xr = x.detach().clone().requires_grad_(True)
    ref(xr, 1.3).backward(gy)
    assert torch.allclose(x.grad, xr.grad)
    with torch.no_grad():
        assert K.apply(k, x, 1.3).grad_fn is None
    with torch.inference_mode():
        assert torch.equal(K.apply(k, x.detach(), 1.3), y.detach())


def test_backward_on_another_thread() -> None:
    """The node's backward runs without the GIL wherever autograd runs it."""
    k = K.KERNELS["elu"]
    x = torch.randn(5000, requires_grad=True)
    y = K.apply(k, x, 1.0)
    t = threading.Thread(target=lambda: y.sum().backward())
    t.start()
    t.join()
    xr = x.detach().clone().requires_grad_(True)
    A.spec("elu").reference(xr, 1.0).sum().backward()
    assert torch.allclose(x.grad, xr.grad)


def test_failed_build_warns_and_falls_back(monkeypatch) -> None:
    def broken(verbose: bool = False):
        raise OSError("no C++ compiler here")

    monkeypatch.setattr(_native, "build_native", broken)
    for key, value in (("module", None), ("error", None), ("thread", None)):
        monkeypatch.setitem(_native._state, key, value)
    monkeypatch.setattr(_native, "_build_dir", lambda: _native.Path("/nonexistent/actlab_native_x"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x = torch.randn(10, requires_grad=True)
        y = K.apply(K.KERNELS["isrlu"], x, 1.0)  # starts the background build, served by the Python Function
        assert not _is_node(y.grad_fn.name())
        _native._state["thread"].join()
    assert any("no C++ compiler here" in str(w.message) for w in caught)
    assert "unavailable" in K.native_status() and "no C++ compiler" in K.native_status()
    assert not _is_node(K.apply(K.KERNELS["isrlu"], x, 1.0).grad_fn.name())


def test_switched_off_by_environment() -> None:
    env = {**os.environ, "ACTLAB_NATIVE": "0"}
    code = ("import torch, actlab.kernels as K; x = torch.randn(8, requires_grad=True); "
            "y = K.apply(K.KERNELS['isrlu'], x, 1.0); print(K.native_status(), '|', y.grad_fn.name())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         check=True).stdout
    assert out.startswith("off") and "FusedNode" not in out


# Modules that run their kernel (a native module, KernelDef.module_native, is PyTorch's own op: test_lowp.py)
FUSED_ACTS = [n for n in A.names() if A.spec(n).kernel is not None and not A.spec(n).native_module]


@pytest.mark.parametrize("dtype", NODE_DTYPES, ids=str)
@pytest.mark.parametrize("name", FUSED_ACTS)
def test_module_fast_entry_matches_apply(name: str, dtype: torch.dtype) -> None:
    """A zoo module's eager fast entry (the C++ call with the checks) gives kernels.apply's exact values and
    gradients, on the node, above SERIAL_MAX elements too (split over torch's threads)."""
    m = A.get(name)
    for n in (5, 1000, K.SERIAL_MAX + 3):
        g = torch.Generator().manual_seed(n)
        x = torch.randn(n, generator=g, dtype=dtype) * 4
        gy = torch.randn(n, generator=g, dtype=dtype)
        xa, xm = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        ya = K.apply(K.KERNELS[A.spec(name).kernel], xa, *m.params(), reference=A.spec(name).reference)
        ya.backward(gy)
        m(xm)  # the first call compiles this dtype's loops and fills the entry
        ym = m(xm)
        ym.backward(gy)
        assert _is_node(ym.grad_fn.name())
        assert torch.equal(ya.detach(), ym.detach()) and torch.equal(xa.grad, xm.grad)
        served = m._fast(x, m._fast_values)  # what the module's forward asked first: served under 32 MB
        assert served is not None and torch.equal(served, ya.detach())


def test_module_fast_entry_follows_switches() -> None:
    """use_native(False), a new hyperparameter, fused=False, trainable, pickling and copies all keep it right."""
    import copy
    import pickle

    x = torch.randn(300, dtype=torch.float64)
    m = A.get("isrlu")
    m(x)
    assert m(x).grad_fn is None and m._fast is not None  # no grad needed: still the node's forward
    xg = x.clone().requires_grad_(True)
    K.use_native(False)
    try:
        assert not _is_node(m(xg).grad_fn.name())
    finally:
        K.use_native(True)
    m(xg)
    assert _is_node(m(xg).grad_fn.name())
    m.alpha = 3.0
    assert torch.equal(m(x), A.get("isrlu", alpha=3.0)(x))
    assert torch.allclose(m(x), A.get("isrlu", alpha=3.0, fused=False)(x))
    for other in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        other(x)
        assert torch.equal(other(x), m(x)) and other._fast is not None
    m.fused = False
    assert m._fast is None and not m._fast_ok and m(xg).grad_fn.name() != "CppFunction"
    t = A.get("isrlu", trainable=True)
    assert not t._fast_ok and not _is_node(t(xg).grad_fn.name())


def test_module_fast_entry_steps_aside_under_tracing() -> None:
    """Under jit.trace the C++ entry returns None, so the trace records the registered operator."""
    m = A.get("isrlu")
    x = torch.randn(50)
    m(x), m(x)
    graph = str(torch.jit.trace(m, (x,)).graph)
    assert "actlab::isrlu" in graph and "empty_like" not in graph


@pytest.mark.parametrize("name", FUSED_ACTS)
def test_module_node_saves_one_tensor_and_catches_in_place_edits(name: str) -> None:
    """The node keeps one input-sized tensor (through saved_tensors_hooks, as autograd's own nodes do), and an
    in-place edit of what it saved is an error at backward, not a wrong gradient."""
    m = A.get(name)
    x = torch.randn(300, requires_grad=True)
    m(x)
    y, n = saved_count(m, x)
    assert _is_node(y.grad_fn.name()) and n == 1
    # Without hooks (which take over the saved tensor, so autograd checks no version), as a model runs:
    inp = x.detach().clone().requires_grad_(True) * 1.0  # a non-leaf input, which may be edited in place
    y = m(inp)
    with torch.no_grad():
        (y if K.get_kernel(A.spec(name).kernel).saves_output else inp).add_(1.0)  # what the node saved
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
