"""Speed and peak memory on CUDA: actlab's one-tensor path against the native torch ops (for a machine with a GPU).

On CUDA there is no numba kernel: every actlab activation takes the generic path (``actlab.kernels.recompute``),
which saves one tensor and recomputes f′ with torch ops in backward. For each activation with a native torch op, at
16M elements in float32 and bfloat16, it prints forward+backward time (CUDA events, median of 20) and the peak
memory above the input, for actlab, the composite reference under plain autograd (``fused=False``) and the native op.

    PYTHONPATH=. .venv/bin/python benchmarks/cuda_activations.py

Exits with a message (status 0) where no GPU is available.
"""

from __future__ import annotations

import statistics
import sys
from typing import Callable

import torch

import actlab

N = 1 << 24
REPS = 20


def _measure(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> tuple[float, float]:
    g = torch.randn_like(x)
    for _ in range(3):
        fn(x).backward(g)
    torch.cuda.synchronize()
    times = []
    for _ in range(REPS):
        x.grad = None
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(x).backward(g)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    x.grad = None
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    y = fn(x)  # what stays alive between forward and backward is what the graph saved
    peak = torch.cuda.max_memory_allocated() - base
    y.backward(g)
    return statistics.median(times), peak / x.numel() / x.element_size()


def main() -> int:
    if not torch.cuda.is_available():
        print("cuda_activations: no CUDA device here (torch.cuda.is_available() is False); nothing to measure")
        return 0
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {N} elements; ms per forward+backward and "
          "peak memory held for backward, in input-sized tensors")
    print(f"{'activation':>14} {'dtype':>9} | {'actlab':>15} | {'composite':>15} | {'native':>15}")
    for name in actlab.names():
        s = actlab.spec(name)
        if s.native is None:
            continue
        for dtype in (torch.float32, torch.bfloat16):
            x = torch.randn(N, device="cuda", dtype=dtype).requires_grad_(True)
            act, comp = s.cls().cuda(), s.cls(fused=False).cuda()
            cells = [_measure(f, x) for f in (act, comp, s.native)]
            print(f"{name:>14} {str(dtype)[6:]:>9} | " + " | ".join(f"{t:6.2f} ms {m:4.1f}×" for t, m in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
