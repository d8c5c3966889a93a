"""The floor under a fused activation's step time (issue 4).

MNIST-1D CNN training steps (batch 100, fused Adam as in the harness, 1 thread), interleaved round by round; median
of 15 rounds of 40 steps:

* ReLU, ReLU wrapped in a minimal Python ``autograd.Function`` (the fixed cost any Python Function pays), and ReLU
  as a generated fused kernel through the C++ node (the fixed cost of a fused call, without ISRLU's arithmetic);
* fused ISRLU through the C++ autograd node (the default for small tensors, actlab/kernels/_native.py) and through
  the Python ``autograd.Function`` (``use_native(False)``), which runs the same numba loops.

    PYTHONPATH=. .venv/bin/python benchmarks/step_floor.py
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from actlab.data import load
from actlab.kernels import build_native, use_native
from actlab.models import CNN1D


class _PyReLUFn(torch.autograd.Function):
    """ReLU through the same Python autograd.Function machinery a fused kernel goes through."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out = torch.relu(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (out,) = ctx.saved_tensors
        return g * (out > 0)


class PyReLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _PyReLUFn.apply(x)


# name: (activation, through the C++ node?)
ACTS = {"relu": ("relu", True), "relu via Python Function": (PyReLU, True),
        "relu as a fused kernel (max(x, 0), C++ node)": ("max(x, 0)", True),
        "isrlu (fused, C++ node)": ("isrlu", True), "isrlu (fused, Python Function)": ("isrlu", False),
        "isrlu[newton=1] (fused, C++ node)": ("isrlu:newton=1", True)}


def main(rounds: int = 25, per_round: int = 40) -> None:
    torch.set_num_threads(1)
    build_native()
    ds = load("mnist1d")
    x, y = ds.x_train[:100], ds.y_train[:100]
    steps: dict[str, Callable[[], None]] = {}
    for name, (act, native) in ACTS.items():
        torch.manual_seed(0)
        model = CNN1D(act=act)
        opt = torch.optim.Adam(model.parameters(), 1e-2, fused=True)

        def step(model: nn.Module = model, opt: torch.optim.Optimizer = opt, native: bool = native) -> None:
            use_native(native)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            use_native(True)

        for _ in range(30):  # warm-up: kernels, allocator
            step()
        steps[name] = step
    times: dict[str, list[float]] = {n: [] for n in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # rotated: no activation always runs first
            step = steps[name]
            t = time.perf_counter()
            for _ in range(per_round):
                step()
            times[name].append((time.perf_counter() - t) / per_round * 1e3)
    # Ratios per round (each round runs every activation back to back), then the median and quartiles: the VM's
    # speed drifts by ±20% over seconds, which a ratio of medians taken far apart would carry.
    print("| activation | step (ms, median) | × ReLU, median of per-round ratios | quartiles |\n| --- | --- | --- | --- |")
    for name, v in times.items():
        q = statistics.quantiles([t / b for t, b in zip(v, times["relu"])], n=4)
        print(f"| {name} | {statistics.median(v):.3f} | {q[1]:.3f} | {q[0]:.3f}–{q[2]:.3f} |")


if __name__ == "__main__":
    main()
