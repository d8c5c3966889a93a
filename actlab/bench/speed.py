"""The speed benchmark: fused kernels against a memory copy, PyTorch's native op and the composite reference.

This is what ``actlab bench speed`` runs; from Python::

    from actlab.bench import speed
    records = speed.run(sizes=(65536, 16_777_216), repeats=20)
    print(speed.to_markdown(records))

For every registered activation with a fused kernel (and the approximate-ISRLU variants), at each size, float32
(a gated activation, GLU family: an input of that many elements as rows of 2 × 256, its gate's native op times the
value half as the native form, and no aten ``out=`` rows):

* **kernel time** (outputs preallocated, so page faults are not counted): the numba forward/backward called
  directly on preallocated arrays; a copy into a preallocated tensor (the memory-bandwidth limit); the PyTorch op
  the kernel stands in for (``NativeOp`` in the activation's kernel description) through its ``out=`` /
  ``grad_input=`` overloads. Mish's backward has no ``grad_input=`` form: it is timed allocating its result (no
  copy), the one native variant that is not preallocated. The ELU family's aten backward is timed both ways:
  from the input (``is_result=False``, what autograd runs for ``F.elu``: the "from x" ratio) and from the output
  (``is_result=True``, what the fused kernels read: the "from y" ratio);
* **composite reference**: the torch-ops formula, forward and autograd backward (it allocates; it has no other way);
* **user view**: forward + backward through autograd, out of place, as a model runs it: the actlab module against
  the native functional called as a module (ISRLU against ``F.elu``, ISRU against ``torch.tanh``: the functions
  they stand in for, each behind ``nn.Module.__call__`` as ``nn.ELU`` and ``nn.Tanh`` run them).

Each figure is the median of ``repeats`` runs after a warm-up; the variants of one row run round-robin in the same
loop, so that the machine's load drifts equally over them (the kernel-time variants in one loop, the two user-view
calls in another).
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch

__all__ = ["SpeedRecord", "AsModule", "median_ms", "run", "to_markdown", "rich_table", "write_json",
           "DEFAULT_SIZES"]

# Small tensors (1K, 4K: a child network's activations, where the per-call cost dominates), the middle (where
# aten and actlab split work over threads, and glibc's mmap range), and 16M.
DEFAULT_SIZES = (1 << 10, 1 << 12, 1 << 16, 1 << 18, 1 << 20, 1 << 21, 1 << 22, 1 << 23, 1 << 24)
Thunk = Callable[[], Any]


@dataclass
class SpeedRecord:
    """One activation at one size; times in milliseconds (None where a variant does not exist)."""

    name: str
    size: int
    dtype: str
    threads: int
    native_op: str | None  # which native op the native columns measure (ISRLU: elu)
    copy: float
    fused_fwd: float
    fused_bwd: float
    fused_bwd_param: float | None  # backward including the parameter-gradient reduction (trainable α/β)
    native_fwd: float | None
    native_bwd: float | None  # aten's backward as autograd runs it (ELU family: from the input, is_result=False)
    native_bwd_from_output: float | None  # the same derivative read from the output, where aten has it (ELU)
    reference_fwd: float
    reference_bwd: float
    user_fused: float  # autograd forward + backward through the actlab module, out of place
    user_native: float | None  # the same through the native functional, called as a module
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fused_total(self) -> float:
        return self.fused_fwd + self.fused_bwd

    @property
    def native_total(self) -> float | None:
        return None if self.native_fwd is None or self.native_bwd is None else self.native_fwd + self.native_bwd

    @property
    def native_total_from_output(self) -> float | None:
        if self.native_fwd is None or self.native_bwd_from_output is None:
            return None
        return self.native_fwd + self.native_bwd_from_output


def median_ms(thunks: dict[str, Thunk], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median wall time in ms of each thunk, the thunks interleaved round by round so that load hits them alike, and
    their order rotated each round so that none always runs first (the first of a round met other allocator and
    cache states: ReLU against itself read 0.96 in first place)."""
    for _ in range(warmup):
        for t in thunks.values():
            t()
    items = list(thunks.items())
    times: dict[str, list[float]] = {k: [] for k in thunks}
    for r in range(repeats):
        for k, t in items[r % len(items):] + items[:r % len(items)]:
            t0 = time.perf_counter()
            t()
            times[k].append(time.perf_counter() - t0)
    return {k: 1e3 * statistics.median(v) for k, v in times.items()}


class AsModule(torch.nn.Module):
    # The native functional behind nn.Module's call, as nn.ELU runs F.elu: both sides of the user view then pay
    # the module call (about 1.5 µs here, a few percent of a 1K forward+backward).
    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def _rows(names: Sequence[str] | None, newton: Iterable[int]) -> list[tuple[str, str, dict[str, Any]]]:
    """(row label, registry name, static options) for every activation with a fused kernel."""
    import actlab.activations as A

    rows: list[tuple[str, str, dict[str, Any]]] = []
    for n in A.names() if names is None else [A.spec(m).name for m in names]:
        s = A.spec(n)
        if s.gated:
            rows.append((n, n, {}))
            continue
        if s.kernel is None:
            continue
        rows.append((n, n, {}))
        if "newton" in s.cls.static_options:
            rows += [(f"{n}[newton={k}]", n, {"newton": k}) for k in newton if n == "isrlu"]
    return rows


GATED_H = 256  # the gated rows' half width: rows of 2 × 256 elements


def _measure_gated(name: str, size: int, repeats: int) -> SpeedRecord:
    import actlab
    import actlab.activations as A
    from actlab import kernels as K

    s, kernel = A.spec(name), K.get_gated(name)
    assert kernel is not None, f"{name} has no gated kernel"
    params = [float(v) for v in s.defaults.values()]
    rows = max(1, size // (2 * GATED_H))
    K.sync_threads()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 2 * GATED_H, generator=g)
    gy = torch.randn(rows, GATED_H, generator=g)
    out, gx, xc = torch.empty_like(gy), torch.empty_like(x), torch.empty_like(x)
    xn, gyn, outn, gxn = x.numpy().reshape(-1), gy.numpy().reshape(-1), out.numpy().reshape(-1), gx.numpy().reshape(-1)
    thunks: dict[str, Thunk] = {
        "copy": lambda: xc.copy_(x),
        "fused_fwd": lambda: kernel.forward(xn, outn, GATED_H, False, *params),
        "fused_bwd": lambda: kernel.backward(xn, gyn, gxn, GATED_H, False, *params),
    }
    ref = s.reference
    xr = x.detach().requires_grad_(True)
    yr = ref(xr, *params)
    thunks["reference_fwd"] = lambda: ref(x, *params)
    thunks["reference_bwd"] = lambda: torch.autograd.grad(yr, xr, gy, retain_graph=True)
    xu = x.detach().requires_grad_(True)

    def user(fn: Callable[[torch.Tensor], torch.Tensor]) -> Thunk:
        def step() -> None:
            xu.grad = None
            fn(xu).backward(gy)
        return step

    op = kernel.native_op
    users = {"user_fused": user(actlab.get(name))}
    if op is not None:
        gate = op.functional

        def native(t: torch.Tensor) -> torch.Tensor:
            a, b = t.chunk(2, dim=-1)
            return a * gate(b)

        users["user_native"] = user(AsModule(native))
    ms = {**median_ms(thunks, repeats), **median_ms(users, repeats)}
    return SpeedRecord(name=name, size=x.numel(), dtype="float32", threads=torch.get_num_threads(),
                       native_op=None if op is None else f"a·{op.name}(g)", copy=ms["copy"],
                       fused_fwd=ms["fused_fwd"], fused_bwd=ms["fused_bwd"], fused_bwd_param=None, native_fwd=None,
                       native_bwd=None, native_bwd_from_output=None, reference_fwd=ms["reference_fwd"],
                       reference_bwd=ms["reference_bwd"], user_fused=ms["user_fused"],
                       user_native=ms.get("user_native"))


def _measure(label: str, name: str, static: dict[str, Any], size: int, repeats: int) -> SpeedRecord:
    import actlab
    import actlab.activations as A
    from actlab import kernels as K

    s = A.spec(name)
    if s.gated:
        return _measure_gated(name, size, repeats)
    kernel = K.get_kernel(s.kernel, **static) if s.kernel is not None else None
    assert kernel is not None, f"{name} has no fused kernel"
    params = [float(v) for v in s.defaults.values()]
    K.sync_threads()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(size, generator=g)
    gy = torch.randn(size, generator=g)
    out, gx = torch.empty_like(x), torch.empty_like(x)
    xn, gyn, outn, gxn = x.numpy(), gy.numpy(), out.numpy(), gx.numpy()
    st = kernel.static
    bwd_in = kernel.backward_input or kernel.backward
    # What autograd hands the backward kernel: the saved output for output-saving kernels, else the input.
    saved = torch.empty_like(x)
    kernel.forward(xn, saved.numpy(), *params, *st)
    sn = saved.numpy() if kernel.saves_output else xn
    thunks: dict[str, Thunk] = {
        "copy": lambda: out.copy_(x),
        "fused_fwd": lambda: kernel.forward(xn, outn, *params, *st),
        "fused_bwd": lambda: bwd_in(sn, gyn, gxn, *params, *st),
    }
    if params:
        thunks["fused_bwd_param"] = lambda: kernel.backward(sn, gyn, gxn, *params, *st)
    op = kernel.native_op  # the PyTorch op this kernel stands in for, from its description
    if op is not None:
        y_native = torch.empty_like(x)
        op.forward(x, y_native)
        thunks["native_fwd"] = lambda: op.forward(x, out)
        thunks["native_bwd"] = lambda: op.backward(x, y_native, gy, gx)
        if op.backward_from_output is not None:
            thunks["native_bwd_from_output"] = lambda: op.backward_from_output(x, y_native, gy, gx)
    ref = s.reference
    xr = x.detach().requires_grad_(True)
    yr = ref(xr, *params)
    thunks["reference_fwd"] = lambda: ref(x, *params)
    thunks["reference_bwd"] = lambda: torch.autograd.grad(yr, xr, gy, retain_graph=True)
    module = actlab.get(name, **static)
    xu = x.detach().requires_grad_(True)

    def user(fn: Callable[[torch.Tensor], torch.Tensor]) -> Thunk:
        def step() -> None:
            xu.grad = None
            fn(xu).backward(gy)
        return step

    # The user view runs in its own round-robin: after the composite reference (dozens of allocations per call),
    # whichever call comes next paid 15–20 µs more at 4K, which made the order, not the code, decide that ratio.
    users = {"user_fused": user(module)}
    if op is not None:
        users["user_native"] = user(AsModule(op.functional))
    ms = {**median_ms(thunks, repeats), **median_ms(users, repeats)}
    return SpeedRecord(name=label, size=size, dtype="float32", threads=torch.get_num_threads(),
                       native_op=None if op is None else op.name, copy=ms["copy"], fused_fwd=ms["fused_fwd"],
                       fused_bwd=ms["fused_bwd"], fused_bwd_param=ms.get("fused_bwd_param"),
                       native_fwd=ms.get("native_fwd"), native_bwd=ms.get("native_bwd"),
                       native_bwd_from_output=ms.get("native_bwd_from_output"),
                       reference_fwd=ms["reference_fwd"], reference_bwd=ms["reference_bwd"],
                       user_fused=ms["user_fused"], user_native=ms.get("user_native"))


def run(names: Sequence[str] | None = None, sizes: Sequence[int] = DEFAULT_SIZES, repeats: int = 20,
        newton: Iterable[int] = (1, 2), progress: Callable[[SpeedRecord], None] | None = None) -> list[SpeedRecord]:
    """Measure every activation with a fused kernel (or only ``names``) at each size; see the module docstring."""
    if repeats < 1:
        raise ValueError(f"repeats must be ≥ 1, got {repeats}")
    if any(int(n) < 1 for n in sizes):
        raise ValueError(f"sizes must be ≥ 1 element, got {list(sizes)}")
    records = []
    for size in sizes:
        for label, name, static in _rows(names, tuple(newton)):
            rec = _measure(label, name, static, int(size), repeats)
            records.append(rec)
            if progress is not None:
                progress(rec)
    return records


def _fmt(v: float | None) -> str:
    # Three significant digits: the 1K rows are a few µs (0.00 ms at two decimals).
    return "—" if v is None else f"{v:.2f}" if v >= 10 else f"{v:.3g}"


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}×"


COLUMNS: list[tuple[str, str, Callable[[SpeedRecord], str]]] = [
    ("name", "activation", lambda r: r.name),
    ("size", "size", lambda r: f"{r.size:,}"),
    ("copy", "copy", lambda r: _fmt(r.copy)),
    ("fused_fwd", "fused fwd", lambda r: f"{_fmt(r.fused_fwd)} ({_ratio(r.fused_fwd, r.copy)})"),
    ("fused_bwd", "fused bwd", lambda r: f"{_fmt(r.fused_bwd)} ({_ratio(r.fused_bwd, r.copy)})"),
    ("native", "native fwd / bwd", lambda r: "—" if r.native_fwd is None else
     f"{_fmt(r.native_fwd)} / {_fmt(r.native_bwd)} ({r.native_op})"),
    ("native_bwd_y", "native bwd from y", lambda r: _fmt(r.native_bwd_from_output)),
    # Which backward each ratio uses: "(bwd from x)" is aten's backward as autograd runs F.elu (is_result=False);
    # "(bwd from y)" is aten's output-based ELU backward (is_result=True), which reads what the fused kernels read.
    ("speedup", "native÷fused (fwd+bwd from x)", lambda r: _ratio(r.native_total, r.fused_total)),
    ("speedup_y", "native÷fused (fwd+bwd from y)", lambda r: _ratio(r.native_total_from_output, r.fused_total)),
    ("reference", "reference fwd / bwd", lambda r: f"{_fmt(r.reference_fwd)} / {_fmt(r.reference_bwd)}"),
    ("user", "autograd: actlab / native", lambda r: f"{_fmt(r.user_fused)} / {_fmt(r.user_native)} "
     f"({_ratio(r.user_native, r.user_fused)})"),
]


def to_markdown(records: Sequence[SpeedRecord]) -> str:
    """The records as a Markdown table (ms; ratios in parentheses)."""
    lines = ["| " + " | ".join(h for _, h, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(f(r) for _, _, f in COLUMNS) + " |" for r in records]
    return "\n".join(lines)


def rich_table(records: Sequence[SpeedRecord]) -> Any:
    """The records as a ``rich.table.Table``."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(title="actlab bench speed (float32, ms, median)")
    for _, h, _ in COLUMNS:
        t.add_column(h, justify="left" if h == "activation" else "right")
    for r in records:  # escaped: a variant label such as isrlu[newton=1] is text, not rich markup
        t.add_row(*(escape(f(r)) for _, _, f in COLUMNS))
    return t


def write_json(records: Sequence[SpeedRecord], path: str | Path) -> None:
    """One JSON object per (activation, size), times in ms."""
    Path(path).write_text(json.dumps([asdict(r) for r in records], indent=1) + "\n")
