"""Kernel speed benchmark: a thin wrapper over ``actlab bench speed`` (see actlab/bench/speed.py).

    python benchmarks/speed.py                      # = actlab bench speed --json benchmarks/speed.json --markdown
    python benchmarks/speed.py --sizes 65536 --repeats 5

Also measures the page-fault hazard (``--alloc``): a training step on 16M float32 elements, out of place, with the
defaults (huge-page outputs), with 4 KB-page outputs (``use_hugepage_outputs(False)``) and after
``actlab.kernels.tune_allocator()``, each in a fresh process; and the
fast-inverse-square-root error table (``--rsqrt``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_STEP = r'''
import statistics, sys, time
import torch
import actlab
from actlab import kernels
if sys.argv[1] == "tuned":
    assert kernels.tune_allocator()
if sys.argv[1] == "4k-pages":
    kernels.use_hugepage_outputs(False)
n = 1 << 24
x = torch.randn(n, requires_grad=True); gy = torch.randn(n); out = torch.empty(n)
m = actlab.get("isrlu")
def isrlu(): x.grad = None; m(x).backward(gy)
def elu(): x.grad = None; torch.nn.functional.elu(x).backward(gy)
fs = {"copy": lambda: out.copy_(x.detach()), "clone": lambda: x.detach().clone(), "isrlu step": isrlu, "elu step": elu}
for f in fs.values(): f(); f()
t = {k: [] for k in fs}
for _ in range(15):
    for k, f in fs.items():
        t0 = time.perf_counter(); f(); t[k].append(time.perf_counter() - t0)
print(sys.argv[1], "  ".join(f"{k} {statistics.median(v) * 1e3:.1f} ms" for k, v in t.items()))
'''


def rsqrt_table(steps: int = 5) -> None:
    """Max relative error of the fast inverse square root per Newton step count (the table in _math.fast_rsqrt)."""
    import numpy as np
    from numba import njit, prange

    from actlab.kernels import fast_rsqrt

    @njit(parallel=True)
    def run(x, out, k):
        for i in prange(x.size):
            out[i] = fast_rsqrt(x[i], k)

    # The error is periodic with period 4 in x: every float32 in [1, 4), and 2e7 evenly spaced float64 points.
    x32 = np.arange(np.float32(1).view(np.int32), np.float32(4).view(np.int32), dtype=np.int32).view(np.float32)
    x64 = np.linspace(1.0, 4.0, 20_000_001)[:-1]
    print("| k | float32 | float64 |\n|---|---|---|")
    for k in range(steps):
        row = []
        for x in (x32, x64):
            out = np.empty_like(x)
            run(x, out, k)
            ref = 1.0 / np.sqrt(x.astype(np.longdouble))
            row.append(float(np.max(np.abs((out - ref) / ref))))
        print(f"| {k} | {row[0]:.3g} | {row[1]:.3g} |")


def alloc() -> None:
    for mode in ("default", "4k-pages", "tuned"):
        subprocess.run([sys.executable, "-c", _STEP, mode], check=True,
                       cwd=Path(__file__).resolve().parents[1])


if __name__ == "__main__":
    if "--alloc" in sys.argv:
        alloc()
    elif "--rsqrt" in sys.argv:
        rsqrt_table()
    else:
        from actlab.cli import app

        args = sys.argv[1:] or ["--json", "benchmarks/speed.json", "--markdown"]
        app(["bench", "speed", *args])
