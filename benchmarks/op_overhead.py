"""Per-call cost of the routes a fused activation can take, and eager small-tensor speed against native ELU.

For ISRLU forward+backward on CPU float32 at 1K, 4K and 64K elements (1 thread), interleaved round by round, median
of 15 rounds:

* ``module``: ``actlab.ISRLU()`` as a model calls it: its C++ fast entry and the C++ autograd node
  (``_native.cpp``), what eager calls use up to ``SERIAL_MAX`` elements (the node alone up to 8 MB);
* ``apply``: ``kernels.apply``, the functional route (the Python checks, then the same node);
* ``python``: the Python ``autograd.Function`` (``use_native(False)``), the same numba loops;
* ``custom_op``: the registered ``torch.library.custom_op`` operator called eagerly (what graphs record);
* ``nn.ELU`` and ``F.elu``: native ELU as a module and as a function (its backward reads the output, as ISRLU's).

The ratios are per round (module / nn.ELU: both behind ``nn.Module.__call__``; module / F.elu), then the median.

    PYTHONPATH=. .venv/bin/python benchmarks/op_overhead.py
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F

import actlab
from actlab import kernels

SIZES = (1 << 10, 1 << 12, 1 << 16)
ROUNDS, CALLS = 15, 200


def _step(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, g: torch.Tensor) -> None:
    y = fn(x)
    y.backward(g)


def main() -> None:
    torch.set_num_threads(1)
    kernels.build_native()
    isrlu = actlab.ISRLU()
    k = kernels.get_kernel("isrlu")
    op = kernels.operator(k, isrlu.spec.reference)
    alpha = [torch.scalar_tensor(1.0, dtype=torch.float64)]

    def python(x: torch.Tensor) -> torch.Tensor:
        kernels.use_native(False)
        try:
            return isrlu(x)
        finally:
            kernels.use_native(True)

    routes: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "module": isrlu, "apply": lambda x: kernels.apply(k, x, 1.0, reference=isrlu.spec.reference),
        "python": python, "custom_op": lambda x: op.overload(x, alpha), "nn.ELU": torch.nn.ELU(), "F.elu": F.elu}
    print(f"torch {torch.__version__}, 1 thread; µs per forward+backward call, median of {ROUNDS} rounds")
    print(f"{'elements':>9} " + " ".join(f"{r:>10}" for r in routes) + "   module/nn.ELU  module/F.elu")
    for n in SIZES:
        x = torch.randn(n).requires_grad_(True)
        g = torch.randn(n)
        times: dict[str, list[float]] = {r: [] for r in routes}
        for fn in routes.values():
            for _ in range(20):
                _step(fn, x, g)
        for _ in range(ROUNDS):
            for r, fn in routes.items():
                t = time.perf_counter()
                for _ in range(CALLS):
                    _step(fn, x, g)
                times[r].append((time.perf_counter() - t) / CALLS * 1e6)
        med = {r: statistics.median(v) for r, v in times.items()}
        # The ratio of each round's pair, then the median: robust to load that changes between rounds.
        r_mod = statistics.median(a / b for a, b in zip(times["module"], times["nn.ELU"]))
        r_fn = statistics.median(a / b for a, b in zip(times["module"], times["F.elu"]))
        print(f"{n:>9} " + " ".join(f"{med[r]:>10.1f}" for r in routes) + f"   {r_mod:13.2f}  {r_fn:12.2f}")


if __name__ == "__main__":
    main()
