"""The user view at mid sizes: module forward+backward against the native op, with the huge-page threshold at its
old value (8 MB) and its new one (32 MB, glibc's ceiling for the dynamic mmap threshold), side by side in one run.

For Swish, GELU, ISRLU and σ against nn.SiLU, nn.GELU, nn.ELU and nn.Sigmoid, float32, 2 threads, at 256K to 8M
elements: the three variants are called in turn, ``ROUNDS`` times, and the table gives native time / actlab time (above
1: actlab faster) from the medians, with actlab's median and minimum in ms (a median far above the minimum is the
bimodality the issue saw).

    PYTHONPATH=. .venv/bin/python benchmarks/mid_sizes.py
"""

from __future__ import annotations

import statistics
import time

import torch

import actlab
from actlab.kernels import _fused

PAIRS = {"swish": torch.nn.SiLU(), "gelu": torch.nn.GELU(), "isrlu": torch.nn.ELU(), "sigmoid": torch.nn.Sigmoid()}
SIZES = (1 << 18, 1 << 20, 1 << 21, 1 << 22, 1 << 23)
THRESHOLDS_MB = (8, 32)
ROUNDS = 15


def _ms(fn, x: torch.Tensor, g: torch.Tensor) -> float:
    t = time.perf_counter()
    fn(x).backward(g)
    return (time.perf_counter() - t) * 1e3


def main() -> None:
    torch.set_num_threads(2)
    default = _fused.HUGEPAGE_MIN_BYTES
    print(f"torch {torch.__version__}, 2 threads, float32; native/actlab (median ms, min ms) per huge-page threshold")
    print(f"{'elements':>9} {'act':>8} " + " ".join(f"{f'{t} MB':>24}" for t in THRESHOLDS_MB))
    try:
        for n in SIZES:
            x = torch.randn(n, requires_grad=True)
            g = torch.randn(n)
            for name, native in PAIRS.items():
                module = actlab.get(name)
                times: dict[str, list[float]] = {"native": [], **{str(t): [] for t in THRESHOLDS_MB}}
                for _ in range(ROUNDS):
                    times["native"].append(_ms(native, x, g))
                    for t in THRESHOLDS_MB:
                        _fused.HUGEPAGE_MIN_BYTES = t << 20
                        times[str(t)].append(_ms(module, x, g))
                nat = statistics.median(times["native"])
                cells = [f"{nat / statistics.median(times[str(t)]):5.2f}x "
                         f"({statistics.median(times[str(t)]):5.1f}, {min(times[str(t)]):5.1f})" for t in THRESHOLDS_MB]
                print(f"{n:>9} {name:>8} " + " ".join(f"{c:>24}" for c in cells), flush=True)
    finally:
        _fused.HUGEPAGE_MIN_BYTES = default


if __name__ == "__main__":
    main()
