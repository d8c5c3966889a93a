"""The same work under ``torch.compile`` (inductor) three ways: actlab ISRLU (the registered operator, numba inside),
the composite ISRLU formula (inductor generates the kernel), and ``F.elu``.

* an MNIST-1D CNN training step (batch 100, 1 thread; forward, loss and backward compiled, Adam outside);
* a compiled forward+backward of the activation alone at 16M float32 elements (all threads).

Interleaved round by round; the median of per-round ratios against actlab is printed, so load that changes
between rounds cancels.

    PYTHONPATH=. .venv/bin/python benchmarks/compiled.py [cnn|big] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

import actlab
from actlab.models import CNN1D

ROUNDS = 9


class _Composite(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return actlab.ISRLU.reference(x, 1.0)


VARIANTS: dict[str, Callable[[], nn.Module]] = {
    "actlab": lambda: actlab.ISRLU(), "composite": _Composite, "F.elu": lambda: nn.ELU()}


def _race(name: str, fns: dict[str, Callable[[], None]], reps: int) -> None:
    for fn in fns.values():  # compile and warm up
        for _ in range(3):
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(ROUNDS):
        for k, fn in fns.items():
            t = time.perf_counter()
            for _ in range(reps):
                fn()
            times[k].append((time.perf_counter() - t) / reps * 1e3)
    print(f"\n{name}: ms per call, median of {ROUNDS} rounds; ratio = variant / actlab (median of per-round ratios)")
    for k, v in times.items():
        r = statistics.median(a / b for a, b in zip(v, times["actlab"]))
        print(f"  {k:>10} {statistics.median(v):9.3f} ms   {r:5.2f}×")


def cnn_step() -> None:
    torch.set_num_threads(1)
    x, y = torch.randn(100, 40), torch.randint(0, 10, (100,))
    fns = {}
    for name, make in VARIANTS.items():
        torch.manual_seed(0)
        model = CNN1D(act=make)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.compile(lambda m=model: F.cross_entropy(m(x), y), fullgraph=True)

        def step(loss_fn: Callable[[], torch.Tensor] = loss_fn, opt: torch.optim.Optimizer = opt) -> None:
            opt.zero_grad(set_to_none=True)
            loss_fn().backward()
            opt.step()

        fns[name] = step
    _race("MNIST-1D CNN training step (compiled, batch 100, 1 thread)", fns, reps=40)


def big() -> None:
    torch.set_num_threads(torch.get_num_threads())
    x = torch.randn(1 << 24).requires_grad_(True)
    g = torch.randn(1 << 24)
    fns = {}
    for name, make in VARIANTS.items():
        f = torch.compile(make(), fullgraph=True)

        def run(f: Callable[[torch.Tensor], torch.Tensor] = f) -> None:
            f(x).backward(g)
            x.grad = None

        fns[name] = run
    _race(f"forward+backward at 16M float32 (compiled, {torch.get_num_threads()} threads)", fns, reps=3)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parts", nargs="*", choices=["cnn", "big"], default=["cnn", "big"])
    ap.add_argument("--rounds", type=int, default=ROUNDS)
    args = ap.parse_args()
    ROUNDS = args.rounds
    print(f"torch {torch.__version__}")
    if "cnn" in args.parts:
        cnn_step()
    if "big" in args.parts:
        big()
