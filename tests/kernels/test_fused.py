"""The autograd path shared by every fused kernel: what it saves, shapes and strides, threads, and the fallbacks."""

from __future__ import annotations

import numba
import pytest
import torch

import actlab.activations as A
from actlab import kernels as K
from actlab.kernels._drivers import CHUNK, SERIAL_MAX


NAMES = list(K.KERNELS)


def _params(name: str) -> list[float]:
    return [1.3] * len(K.KERNELS[name].param_names)


@pytest.mark.parametrize("name", NAMES)
def test_parallel_path_matches_serial(name: str) -> None:
    """Above SERIAL_MAX the prange loop runs; it must give the serial loop's values exactly (sums: to rounding)."""
    n = SERIAL_MAX * 3 + 17
    x = torch.randn(n, generator=torch.Generator().manual_seed(2)) * 5
    gy = torch.randn(n, generator=torch.Generator().manual_seed(3))
    k = K.KERNELS[name]
    params = [torch.tensor(p, requires_grad=True) for p in _params(name)]
    xg = x.clone().requires_grad_(True)
    (K.apply(k, xg, *params) * gy).sum().backward()
    parts = torch.split(torch.arange(n), SERIAL_MAX // 2)
    y_ser, g_ser, p_ser = [], [], 0.0
    for idx in parts:
        ps = [torch.tensor(p, requires_grad=True) for p in _params(name)]
        xs = x[idx].clone().requires_grad_(True)
        y = K.apply(k, xs, *ps)
        (y * gy[idx]).sum().backward()
        y_ser.append(y.detach())
        g_ser.append(xs.grad)
        p_ser += sum(float(p.grad) for p in ps)
    assert torch.equal(K.apply(k, x, *_params(name)), torch.cat(y_ser))
    assert torch.equal(xg.grad, torch.cat(g_ser))
    if params:
        assert float(params[0].grad) == pytest.approx(p_ser, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("shape", [(), (1,), (0,), (0, 3), (3, 5, 7)])
def test_shapes(shape: tuple[int, ...]) -> None:
    k = K.KERNELS["isrlu"]
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    y = K.apply(k, x, 1.0)
    assert y.shape == x.shape and y.dtype == x.dtype
    y.sum().backward()
    ref = A.spec("isrlu").reference(x.detach(), 1.0)
    assert torch.allclose(y.detach(), ref)
    assert x.grad.shape == x.shape


def test_non_contiguous_and_strided_gradients() -> None:
    k = K.KERNELS["swish"]
    base = torch.randn(6, 8, dtype=torch.float64)
    x = base.t()[::2].requires_grad_(True)  # transposed and strided
    assert not x.is_contiguous()
    y = K.apply(k, x, 1.3)
    gy = torch.randn(6, 8, dtype=torch.float64).t()[::2]  # non-contiguous incoming gradient
    y.backward(gy)
    xr = x.detach().clone().requires_grad_(True)
    A.spec("swish").reference(xr, 1.3).backward(gy)
    assert torch.allclose(y.detach(), A.spec("swish").reference(x.detach(), 1.3))
    assert torch.allclose(x.grad, xr.grad)


@pytest.mark.parametrize("name", NAMES)
def test_saves_one_tensor_and_the_parameters(name: str) -> None:
    """Exactly one activation-sized tensor is kept: the output for kernels that read f′ from it, else the input."""
    saved: list[torch.Tensor] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t)
        return t

    x = torch.randn(100, requires_grad=True)
    params = [torch.tensor(p, requires_grad=True) for p in _params(name)]
    k = K.KERNELS[name]
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = K.apply(k, x, *params)
    assert len(saved) == 1 + len(params)
    assert saved[0] is (y if k.saves_output else x)
    assert all(s is p for s, p in zip(saved[1:], params, strict=False))
    y.sum().backward()


def _saved_bytes(act: torch.nn.Module) -> int:
    """Distinct storage autograd keeps for backward in Linear → act → Linear."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    net = torch.nn.Sequential(torch.nn.Linear(64, 256), act, torch.nn.Linear(256, 8))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = net(torch.randn(32, 64))
    out.sum().backward()
    return sum(storages.values())


@pytest.mark.parametrize("name", [n for n in NAMES if K.KERNELS[n].saves_output])
def test_output_saving_kernels_cost_no_more_memory_than_relu(name: str) -> None:
    """The next layer saves the activation's output anyway, so saving y adds nothing (ReLU's memory)."""
    k = K.KERNELS[name]

    class Act(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return K.apply(k, x, *_params(name))

    assert _saved_bytes(Act()) == _saved_bytes(torch.nn.ReLU())


def test_output_saving_kernel_detects_in_place_change_of_its_output() -> None:
    k = K.KERNELS["isrlu"]
    assert k.saves_output
    x = torch.randn(10, requires_grad=True)
    y = K.apply(k, x, 1.0)
    y.mul_(2)  # like nn.ReLU or torch.tanh: the saved output changed, so backward must refuse
    with pytest.raises(RuntimeError, match="inplace"):
        y.sum().backward()


def test_backward_input_skips_parameter_reduction(monkeypatch) -> None:
    """With a fixed α the cheaper backward runs; with a trainable α the reducing one."""
    base = K.KERNELS["isrlu"]
    calls: list[str] = []

    def spy(tag, fn):
        def f(*a):
            calls.append(tag)
            return fn(*a)
        return f

    k = K.FusedKernel("isrlu", base.forward, spy("full", base.backward), base.param_names,
                      backward_input=spy("input", base.backward_input))
    x = torch.randn(50, requires_grad=True)
    K.apply(k, x, 1.0).sum().backward()
    K.apply(k, x, torch.tensor(1.0)).sum().backward()
    a = torch.tensor(1.0, requires_grad=True)
    K.apply(k, x, a).sum().backward()
    assert calls == ["input", "input", "full"] and a.grad is not None


def test_threads_follow_torch() -> None:
    # numba's parallel loops (above SERIAL_MAX elements: the α/β reduction, bf16/fp16) run on numba's pool, which
    # must follow torch's thread count; float32/float64 forward and input-gradient loops are split over torch's own
    # pool in C++ and leave numba's alone (that check is the small path's cost).
    big = K.SERIAL_MAX + 1
    old = torch.get_num_threads()

    def learnable(n: int) -> None:  # a learnable α: its gradient's reduction is numba's parallel loop
        K.apply(K.KERNELS["isru"], torch.randn(n), torch.tensor(1.0, requires_grad=True)).sum().backward()

    try:
        torch.set_num_threads(1)
        learnable(big)
        assert numba.get_num_threads() == 1
        if numba.config.NUMBA_NUM_THREADS >= 2:
            torch.set_num_threads(2)
            K.apply(K.KERNELS["isru"], torch.randn(10), 1.0)
            K.apply(K.KERNELS["isru"], torch.randn(big), 1.0)  # the node: torch's threads
            assert numba.get_num_threads() == 1
            learnable(big)
            assert numba.get_num_threads() == 2
    finally:
        torch.set_num_threads(old)
        K.sync_threads()


def test_supports() -> None:
    assert K.supports(torch.randn(3), 1.0, torch.tensor(2.0))
    assert K.supports(torch.randn(3, dtype=torch.float64))
    # bf16/fp16 run the float32 loops (one conversion each way); lowp=False asks for the native dtypes only
    assert K.supports(torch.randn(3).half()) and K.supports(torch.randn(3).bfloat16())
    assert not K.supports(torch.randn(3).half(), lowp=False)
    assert not K.supports(torch.randn(3).bfloat16(), lowp=False)
    assert not K.supports(torch.arange(3))
    assert not K.supports(torch.randn(3), torch.ones(2))  # per-channel parameters go to the reference
    if torch.cuda.is_available():  # pragma: no cover - no GPU here
        assert not K.supports(torch.randn(3, device="cuda"))


def test_wrong_parameter_count() -> None:
    with pytest.raises(TypeError, match="takes 1 parameters"):
        K.apply(K.KERNELS["isrlu"], torch.randn(3))


def test_chunked_parameter_sum_is_float64() -> None:
    """Σ over many float32 terms: a float32 accumulator would drift; the float64 one matches a float64 sum."""
    n = CHUNK * 40 + 3
    x = -torch.rand(n) * 3 - 0.5
    a = torch.tensor(1.0, requires_grad=True)
    K.apply(K.KERNELS["isrlu"], x, a).sum().backward()
    y = A.spec("isrlu").reference(x.double(), 1.0)
    want = float((-0.5 * y**3).sum())
    assert float(a.grad) == pytest.approx(want, rel=1e-6)


def test_allocator_tuning_is_explicit_and_reversible() -> None:
    from actlab.kernels import _alloc, _fused

    glibc = _alloc._libc() is not None
    try:
        assert K.tune_allocator(True) is glibc  # applied exactly where glibc's mallopt exists
        if glibc:  # heap reuse replaces the huge-page outputs (a fresh mapping would fault again)
            assert _fused._hugepages[0] is False
        assert K.tune_allocator(False) is glibc
        if glibc:
            assert _fused._hugepages[0] is (_fused.HUGEPAGES_DEFAULT and hasattr(_fused.mmap, "MADV_HUGEPAGE"))
    finally:
        K.tune_allocator(False)
        K.use_hugepage_outputs(_fused.HUGEPAGES_DEFAULT)
    with pytest.raises(ValueError):
        K.tune_allocator(trim_threshold=-1)


def _mapping_of(addr: int) -> dict[str, int] | None:
    """The /proc/self/smaps fields (kB) of the mapping containing ``addr``, or None if it is not its own mapping."""
    from pathlib import Path

    fields: dict[str, int] | None = None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):  # a mapping's header line: "lo-hi perms offset ..."
            if fields is not None:
                break  # past the mapping that holds addr
            lo, hi = (int(v, 16) for v in head.split("-"))
            if lo <= addr < hi:
                fields = {"start": lo, "end": hi}
        elif fields is not None and head.endswith(":"):
            try:
                fields[head[:-1]] = int(line.split()[1])
            except (IndexError, ValueError):
                pass
    return fields


def test_large_outputs_use_their_own_mapping(monkeypatch) -> None:
    """The huge-page path is taken: one madvise(MADV_HUGEPAGE) mapping per large output (and gradient), exactly the
    tensor's size; where the system's THP mode allows it, the mapping really holds huge pages."""
    import mmap
    import sys
    from pathlib import Path

    from actlab.kernels import _fused

    if not (sys.platform.startswith("linux") and hasattr(mmap, "MADV_HUGEPAGE")):
        pytest.skip("huge-page outputs are Linux-only")
    advised: list[int] = []
    real = mmap.mmap

    class Spy(real):  # type: ignore[misc, valid-type]
        def madvise(self, option: int, *args: int) -> None:
            if option == mmap.MADV_HUGEPAGE:
                advised.append(len(self))
            super().madvise(option, *args)

    monkeypatch.setattr(_fused.mmap, "mmap", Spy)
    n = _fused.HUGEPAGE_MIN_BYTES // 4 + 5
    x = torch.randn(n, requires_grad=True)
    want = A.spec("isrlu").reference(x.detach(), 1.0)
    try:
        for enable in (True, False):
            advised.clear()
            K.use_hugepage_outputs(enable)
            y = K.apply(K.KERNELS["isrlu"], x, 1.0)
            assert torch.allclose(y, want, rtol=4e-7, atol=0) and y.is_contiguous()
            if enable:
                assert advised == [4 * n], f"output not in its own huge-page mapping: {advised}"
                m = _mapping_of(y.data_ptr())
                assert m is not None and m["end"] - m["start"] >= 4 * n
                thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
                if thp.exists() and "[never]" not in thp.read_text():
                    assert m.get("AnonHugePages", 0) > 0, f"no huge pages in the output's mapping: {m}"
            else:
                assert advised == []
            advised.clear()
            y.backward(torch.ones_like(y))
            assert advised == ([4 * n] if enable else []), "the input gradient takes the same path"
            assert x.grad.shape == x.shape
            x.grad = None
            advised.clear()
            small = K.empty_output(torch.empty(10))
            assert small.shape == (10,) and small.dtype == torch.float32 and advised == []
    finally:
        K.use_hugepage_outputs(_fused.HUGEPAGES_DEFAULT)


@pytest.mark.parametrize("name", [n for n in NAMES if K.KERNELS[n].simd])
def test_serial_loops_vectorise(name: str) -> None:
    """Tensors below SERIAL_MAX run the serial loop, which must be SIMD code like the prange loop.

    Python's error model puts a ZeroDivisionError branch on every float division, which kept the serial loops
    scalar (5–10× slower on small tensors) until the drivers switched to numpy's model. numba cannot inspect code
    loaded from its disk cache, so the same function is compiled afresh here, with the kernel's own options (serial:
    the serial loop is the one under test, and it compiles faster).
    """
    import re

    import numpy as np

    k = K.KERNELS[name]
    x = np.linspace(-3, 3, 64, dtype=np.float32)
    p = _params(name)
    serial_forward, serial_backward_input = k.loops[0]
    for fn, args in ((serial_forward, (x, np.empty_like(x))),
                     (serial_backward_input, (x, np.ones_like(x), np.empty_like(x)))):
        opts = {k: v for k, v in fn.targetoptions.items() if k != "nopython"}
        fresh = numba.njit(**{**opts, "cache": False, "parallel": False})(fn.py_func)
        fresh(*args, *p, *k.static)
        ir = fresh.inspect_llvm(fresh.signatures[0])
        assert "ZeroDivisionError" not in ir, f"{name}: {fn.__name__} has Python's division check"
        assert re.search(r"<(?:4|8|16) x float>", ir), f"{name}: {fn.__name__} has no SIMD code"
