"""bf16 and fp16 on the CPU: top-level aten ops and time per forward+backward, fused against the composite path.

For every unary zoo activation (all have a fused kernel), in bfloat16 and float16:

* the top-level aten ops of one module forward+backward that touch data (``actlab.bench.ops``; an explicit
  gradient, so no ``sum`` of the benchmark's own is counted);
* the time of the module (the numba loops reading and writing 16 bits, computing in float32, on the C++ node below
  32 MB; ReLU and leaky ReLU modules are PyTorch's op, ``KernelDef.module_native``) against the composite
  recompute route (``kernels.recompute``: the reference formula in the low dtype, recomputed in backward),
  interleaved round by round, median of ``ROUNDS``, 1 thread;
* every module that stands in for a PyTorch op against that op (as ``benchmarks/user_view.py`` does in float32), in
  bf16 and fp16 from 1K to 4M elements.

    PYTHONPATH=. .venv/bin/python benchmarks/lowp_cpu.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

import actlab
from actlab import kernels
from actlab.bench.ops import top_level_aten_ops
from actlab.bench.speed import AsModule

SIZES = (1 << 12, 1 << 16, 1 << 20)
ROUTE_SIZES = (1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22)
ROUNDS, CALLS = 9, 5
Fn = Callable[[torch.Tensor], torch.Tensor]


def _ratio(a: Fn, b: Fn, x: torch.Tensor, g: torch.Tensor) -> float:
    """Median over ROUNDS of time(a) / time(b), forward + backward, interleaved."""
    per: list[float] = []
    for _ in range(ROUNDS):
        t = []
        for fn in (a, b):
            start = time.perf_counter()
            for _ in range(CALLS):
                fn(x).backward(g)
            t.append(time.perf_counter() - start)
        per.append(t[0] / t[1])
    return statistics.median(per)


def against_native() -> None:
    """The 16-bit user view: each module with a native op against that op (``AsModule``), 1K to 4M elements."""
    print("\nmodule time / native op time in bf16 and fp16, 1 thread (below 1: the module is faster)")
    print(f"{'activation':>13} {'dtype':>9} " + " ".join(f"{n:>9}" for n in ROUTE_SIZES))
    for name in actlab.names("unary"):
        s = actlab.spec(name)
        k = kernels.get_kernel(s.kernel) if s.kernel is not None else None
        if k is None or k.native_op is None:
            continue
        module, native = s.cls(), AsModule(k.native_op.functional)
        for dtype in (torch.bfloat16, torch.float16):
            cells = []
            for n in ROUTE_SIZES:
                x = torch.randn(n, dtype=dtype).requires_grad_(True)
                cells.append(_ratio(module, native, x, torch.randn_like(x)))
            print(f"{name:>13} {str(dtype)[6:]:>9} " + " ".join(f"{r:>8.2f}x" for r in cells), flush=True)


def main() -> None:
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; top-level aten ops per forward+backward (fused / composite), and "
          f"fused time / composite time per size (median of {ROUNDS} interleaved rounds of {CALLS} calls)")
    print(f"{'activation':>13} {'dtype':>9} {'route':>9} {'ops':>7} " + " ".join(f"{n:>9}" for n in SIZES))
    for name in actlab.names():
        s = actlab.spec(name)
        if s.kernel is None:
            continue
        k = kernels.get_kernel(s.kernel)
        params = tuple(s.cls.defaults.values())
        module = s.cls()

        def composite(t: torch.Tensor, k=k, s=s, params=params) -> torch.Tensor:
            return kernels.recompute(s.reference, t, *params, output_grad=k.output_grad)

        for dtype in (torch.bfloat16, torch.float16):
            x0 = torch.randn(4096, dtype=dtype).requires_grad_(True)
            g0 = torch.randn_like(x0)
            ops = f"{len(top_level_aten_ops(module, x0, g0))}/{len(top_level_aten_ops(composite, x0, g0))}"
            ratios = []
            for n in SIZES:
                x = torch.randn(n, dtype=dtype).requires_grad_(True)
                g = torch.randn_like(x)
                ratios.append(_ratio(module, composite, x, g))
            route = "torch op" if s.native_module else (kernels.backend(k, x0, *params) or "torch op")
            print(f"{name:>13} {str(dtype)[6:]:>9} {route:>9} {ops:>7} " + " ".join(f"{r:>8.2f}x" for r in ratios),
                  flush=True)


if __name__ == "__main__":
    main()
    against_native()
