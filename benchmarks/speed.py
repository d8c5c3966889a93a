"""Kernel speed benchmark: a thin wrapper over ``actlab bench speed`` (see actlab/bench/speed.py).

    python benchmarks/speed.py                      # = actlab bench speed --json benchmarks/speed.json --markdown
    python benchmarks/speed.py --sizes 65536 --repeats 5

Also measures the page-fault hazard (``--alloc``): a training step on 16M float32 elements, out of place, with
glibc's default allocator settings and after ``actlab.kernels.tune_allocator()``, each in a fresh process.
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


def alloc() -> None:
    for mode in ("default", "tuned"):
        subprocess.run([sys.executable, "-c", _STEP, mode], check=True,
                       cwd=Path(__file__).resolve().parents[1])


if __name__ == "__main__":
    if "--alloc" in sys.argv:
        alloc()
    else:
        from actlab.cli import app

        args = sys.argv[1:] or ["--json", "benchmarks/speed.json", "--markdown"]
        app(["bench", "speed", *args])
