"""The user view at every size: each zoo module's forward+backward against its native op, float32, 1 and 2 threads.

For every zoo activation whose kernel stands in for a PyTorch op (``KernelDef.native``: ISRLU for ELU, ISRU for tanh,
Swish for SiLU, ...), at 1K to 16M elements: the actlab module and the native functional (called as a module, as
``nn.SiLU`` runs ``F.silu``) run forward + backward through autograd, out of place, interleaved round by round
(``actlab.bench.speed.median_ms``), and the record keeps both medians. The ratio is native ÷ actlab: above 1, actlab is
faster. The issue's target is ≥ 1 at every size on 1 and 2 threads; rows below it are listed at the end. A second,
identical native module runs in the same rounds (``native_again_ms``): native ÷ native again is what noise alone
gives, the yardstick for a ratio near 1.

    PYTHONPATH=. .venv/bin/python benchmarks/user_view.py --json benchmarks/user_view.json

Run it alone: a second process on the two cores moves these medians by more than the differences they measure.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

import actlab
from actlab import kernels
from actlab.bench.speed import AsModule, median_ms

SIZES = (1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 21, 1 << 22, 1 << 23, 1 << 24)


@dataclass(frozen=True)
class UserViewRecord:
    """One module at one size and thread count; medians in ms."""

    name: str
    native_op: str
    size: int
    threads: int
    actlab_ms: float
    native_ms: float
    native_again_ms: float  # the same native module again: the A/A ratio shows the noise

    @property
    def ratio(self) -> float:
        return self.native_ms / self.actlab_ms

    @property
    def noise(self) -> float:
        return self.native_ms / self.native_again_ms


def _repeats(n: int) -> int:
    # Enough calls for a stable median at every size, within about a minute per size over the zoo. Small sizes get
    # the most: a 1K call is 14 µs, and 200 calls left the median's noise near the 1-2 % a cell is judged on.
    return 1000 if n <= 1 << 14 else 200 if n <= 1 << 20 else 25


def measure(names: list[str], sizes: tuple[int, ...], threads: tuple[int, ...]) -> list[UserViewRecord]:
    out = []
    for t in threads:
        torch.set_num_threads(t)
        for n in sizes:
            x = torch.randn(n, requires_grad=True)
            g = torch.randn(n)
            for name in names:
                op = kernels.get_kernel(name).native_op
                module, native, again = actlab.get(name), AsModule(op.functional), AsModule(op.functional)

                def step(m: torch.nn.Module, x: torch.Tensor = x, g: torch.Tensor = g) -> None:
                    m(x).backward(g)

                ms = median_ms({"actlab": lambda m=module: step(m), "native": lambda m=native: step(m),
                                "again": lambda m=again: step(m)}, _repeats(n), warmup=3)
                r = UserViewRecord(name, op.name, n, t, ms["actlab"], ms["native"], ms["again"])
                out.append(r)
                print(f"{t} thr {n:>9} {name:>13} ({op.name:>10}): {r.ratio:.2f}x, A/A {r.noise:.2f}x "
                      f"({ms['actlab']:.4f} / {ms['native']:.4f} ms)", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--act", action="append", default=None, help="only these activations")
    ap.add_argument("--threads", type=int, action="append", default=None, help="thread counts (default 1 and 2)")
    ap.add_argument("--sizes", type=int, action="append", default=None)
    args = ap.parse_args()
    names = args.act or [n for n in actlab.names("unary") if (k := kernels.get_kernel(n)) is not None
                         and k.native_op is not None]
    records = measure(names, tuple(args.sizes or SIZES), tuple(args.threads or (1, 2)))
    slow = [r for r in records if r.ratio < 1.0]
    print(f"{len(slow)} of {len(records)} below 1.00x: " + ", ".join(
        f"{r.name}@{r.size}/{r.threads}t {r.ratio:.2f}x" for r in slow))
    if args.json is not None:
        meta = {"date": time.strftime("%Y-%m-%d"), "machine": platform.processor() or platform.machine(),
                "torch": torch.__version__, "cpus": torch.get_num_threads()}
        args.json.write_text(json.dumps({"meta": meta, "records": [asdict(r) for r in records]}, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
