"""Activation speed, bandwidth and peak memory on a GPU: actlab's Triton kernels against the native ops and the
inductor-compiled composite.

For every zoo activation with a fused kernel and two generated expressions, in float32 and bfloat16, at 2^16, 2^20,
2^24 and 2^28 elements, it measures (CUDA events, median of ``--reps``):

* forward, backward and forward+backward time of ``actlab`` (the module: Triton kernels through
  ``torch.ops.actlab.*``), ``actlab-compiled`` (the same module inside ``torch.compile``: what a compiled model runs,
  the kernels behind the opaque operator), ``actlab-compiled-triton-op`` (the same with ``kernels.use_triton_op()``:
  inductor sees the Triton kernels themselves; which of the two to keep is this row's question), ``native`` (the
  PyTorch op it stands in for, where there is one) and ``composite-compiled`` (the reference formula
  under ``torch.compile``, inductor's own fusion);
* achieved bandwidth: 5 passes over memory (read x, write y; read the saved tensor and dy, write dx) over the
  forward+backward time, against a measured device-to-device copy (2 passes) of the same size;
* peak memory of a forward+backward and the memory held between them (what autograd saved), in input-sized tensors.

Rows go to a JSON file as they are measured (so a timeout keeps what was done), and a Markdown table is printed at
the end, naming the GPU, the driver and the versions. Where there is no GPU it says so and exits 0; ``--device cpu``
runs the same code on the CPU at small sizes, to check the script itself.

    PYTHONPATH=. python benchmarks/gpu_activations.py [--only isrlu,swish] [--sizes 16,20,24,28] [--json PATH]

On a lent GPU machine whose image lacks some of actlab's core dependencies (sympy for the expression kernels,
filelock, ninja), bring their wheels: ``pip download -d wheels/ sympy mpmath filelock ninja`` here, then
``pip install --no-index --find-links wheels/ sympy filelock ninja`` there. The whole run is about 15 activations x
2 dtypes x 4 sizes x 4 implementations; ``--only`` and ``--sizes`` cut it to a device time budget, and the JSON keeps
every row measured before a timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from copy import deepcopy
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch

import actlab
from actlab import kernels
from actlab.expr import parse

EXPRESSIONS = ("x * sigmoid(beta * x)", "max(x, 0) + beta * sin(x)")
PASSES = 5  # read x, write y, read the saved tensor, read dy, write dx


@dataclass
class Row:
    activation: str
    dtype: str
    elements: int
    impl: str
    forward_ms: float
    backward_ms: float
    fwdbwd_ms: float
    gbps: float  # PASSES · bytes / forward+backward time
    copy_gbps: float  # a device-to-device copy of the same tensor, 2 passes
    frac_of_copy: float
    peak_tensors: float  # peak memory of forward+backward above the input, in input-sized tensors
    saved_tensors: float  # memory held between forward and backward, in input-sized tensors


class Timer:
    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def median_ms(self, fn: Callable[[Any], Any], reps: int, setup: Callable[[], Any] = lambda: None) -> float:
        """Median time of ``fn(setup())``; ``setup`` runs untimed before each call (once more to warm up)."""
        fn(setup())
        self.sync()
        times = []
        for _ in range(reps):
            state = setup()
            self.sync()
            if self.cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn(state)
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t = time.perf_counter()
                fn(state)
                times.append((time.perf_counter() - t) * 1e3)
        return statistics.median(times)


def _memory(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, g: torch.Tensor) -> tuple[float, float]:
    if not x.is_cuda:
        return float("nan"), float("nan")
    x.grad = None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    y = fn(x)
    saved = torch.cuda.memory_allocated() - base - y.numel() * y.element_size()
    y.backward(g)
    torch.cuda.synchronize()
    unit = x.numel() * x.element_size()
    return (torch.cuda.max_memory_allocated() - base) / unit, saved / unit


def measure(name: str, impl: str, fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, timer: Timer,
            reps: int, copy_gbps: float) -> Row:
    g = torch.randn_like(x)

    def fwd(_: None) -> None:
        with torch.no_grad():
            fn(x)

    def fwdbwd(_: None) -> None:
        x.grad = None
        fn(x).backward(g)

    def forward_graph() -> torch.Tensor:
        x.grad = None
        return fn(x)

    t_f, t_fb = timer.median_ms(fwd, reps), timer.median_ms(fwdbwd, reps)
    # backward alone: a fresh forward before each (untimed), since compiled graphs refuse retain_graph=True
    t_b = timer.median_ms(lambda y: y.backward(g), reps, setup=forward_graph)
    peak, saved = _memory(fn, x, g)
    gbps = PASSES * x.numel() * x.element_size() / (t_fb * 1e-3) / 1e9
    return Row(name, str(x.dtype).removeprefix("torch."), x.numel(), impl, t_f, t_b, t_fb, gbps, copy_gbps,
               gbps / copy_gbps, peak, saved)


def _triton_op_form(compiled: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    # The switch is read while dynamo captures the graph (the first call); the module is a copy, so that its
    # compiled graph is its own.
    def run(t: torch.Tensor) -> torch.Tensor:
        kernels.use_triton_op(True)
        try:
            return compiled(t)
        finally:
            kernels.use_triton_op(False)
    return run


def candidates(only: set[str] | None) -> list[tuple[str, torch.nn.Module, Callable[..., Any], Callable | None]]:
    """(name, actlab module, composite formula, native op) for every kernel activation and the expressions."""
    out: list[tuple[str, torch.nn.Module, Callable[..., Any], Callable | None]] = []
    for name in actlab.names():
        s = actlab.spec(name)
        if s.kernel is None or (only and name not in only):
            continue
        params = tuple(s.cls.defaults.values())
        out.append((name, s.cls(), lambda t, r=s.reference, p=params: r(t, *p), s.native))
    for text in EXPRESSIONS:
        if only and text not in only:
            continue
        e = parse(text)
        fn = e.torch_fn()
        out.append((text, e.to_module(), lambda t, f=fn, n=e.betas: f(t, *[1.0] * n), None))
    return out


def environment(device: str) -> dict[str, Any]:
    env: dict[str, Any] = {"torch": torch.__version__, "python": platform.python_version(), "device": device,
                           "date": time.strftime("%Y-%m-%d")}
    try:
        import triton

        env["triton"] = triton.__version__
    except ImportError:
        env["triton"] = None
    if device.startswith("cuda"):
        env["gpu"] = torch.cuda.get_device_name()
        env["cuda"] = torch.version.cuda
        try:
            env["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                           capture_output=True, text=True, timeout=20).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            env["driver"] = None
    else:
        env["gpu"] = None
    return env


def markdown(env: dict[str, Any], rows: list[Row]) -> str:
    lines = [f"GPU {env.get('gpu')}, driver {env.get('driver')}, CUDA {env.get('cuda')}, torch {env['torch']}, "
             f"triton {env['triton']}, {env['date']}. Forward+backward ms (median), achieved bandwidth as a "
             "fraction of a measured copy, peak memory in input-sized tensors.", "",
             "| activation | dtype | elements | impl | fwd ms | bwd ms | fwd+bwd ms | of copy bw | peak | saved |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.activation} | {r.dtype} | 2^{r.elements.bit_length() - 1} | {r.impl} | "
                     f"{r.forward_ms:.3f} | {r.backward_ms:.3f} | {r.fwdbwd_ms:.3f} | {r.frac_of_copy:.0%} | "
                     f"{r.peak_tensors:.1f} | {r.saved_tensors:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--sizes", default="16,20,24,28", help="log2 of the element counts")
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--only", default="", help="comma-separated activation names or expressions")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--no-compile", action="store_true", help="skip the two torch.compile rows (slow to build)")
    ap.add_argument("--json", default=str(Path(os.environ.get("OUT", "benchmarks")) / "gpu_activations.json"))
    a = ap.parse_args(argv)
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_activations: no CUDA device here (torch.cuda.is_available() is False); nothing to measure")
        return 0
    timer = Timer(a.device)
    env = environment(a.device)
    print(json.dumps(env))
    only = {s.strip() for s in a.only.split(",") if s.strip()} or None
    rows: list[Row] = []
    out = Path(a.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, module, composite, native in candidates(only):
        module = module.to(a.device)
        impls: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"actlab": module}
        if native is not None:
            impls["native"] = native
        if not a.no_compile:
            impls["actlab-compiled"] = torch.compile(module, dynamic=True)
            impls["actlab-compiled-triton-op"] = _triton_op_form(torch.compile(deepcopy(module), dynamic=True))
            impls["composite-compiled"] = torch.compile(composite, dynamic=True)
        for dtype in (getattr(torch, d) for d in a.dtypes.split(",")):
            for log2 in (int(s) for s in a.sizes.split(",")):
                x = torch.randn(1 << log2, device=a.device, dtype=dtype).requires_grad_(True)
                copy = timer.median_ms(lambda _, x=x: x.detach().clone(), a.reps)
                copy_gbps = 2 * x.numel() * x.element_size() / (copy * 1e-3) / 1e9
                for impl, fn in impls.items():
                    try:
                        rows.append(measure(name, impl, fn, x, timer, a.reps, copy_gbps))
                    except Exception as e:  # one failing cell (e.g. out of memory at 2^28) must not lose the rest
                        print(f"gpu_activations: {name} {impl} {dtype} 2^{log2}: {type(e).__name__}: "
                              f"{str(e).splitlines()[0][:200]}", file=sys.stderr)
                    if a.device.startswith("cuda"):
                        torch.cuda.empty_cache()
                out.write_text(json.dumps({"environment": env, "rows": [asdict(r) for r in rows]}, indent=1))
                print(f"{name} {dtype} 2^{log2}: " + ", ".join(f"{r.impl} {r.fwdbwd_ms:.3f} ms"
                                                               for r in rows[-len(impls):]), flush=True)
    print(markdown(env, rows))
    print(f"gpu_activations: {len(rows)} rows in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
