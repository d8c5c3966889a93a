"""How repeatable is the speed cost? Each zoo kernel measured 4 times while another process keeps one core busy.

    PYTHONPATH=. .venv/bin/python benchmarks/cost_spread.py --json benchmarks/cost_spread.json

Prints, per kernel, the 4 values and their max/min ratio for the cost the search uses
(:func:`actlab.expr.kernel_ns_per_element`: one thread, min over repeats of a 256K-element fwd+bwd) and, side by side
in the same run, the old protocol (median of 5 calls at 1M elements on every thread). Target: ratio <= 1.5.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np
import torch


def _spin(stop: float) -> None:
    x = 0
    while time.time() < stop:
        x += 1


def _old_protocol(k, n: int = 1 << 20, repeats: int = 5) -> float:
    x = torch.randn(n).numpy()
    out, gy, gx = np.empty_like(x), np.ones_like(x), np.empty_like(x)
    p = (1.0,) * len(k.param_names)
    k.forward(x, out, *p, *k.static)
    k.backward(x, gy, gx, *p, *k.static)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        k.forward(x, out, *p, *k.static)
        k.backward(x, gy, gx, *p, *k.static)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) / n * 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--calls", type=int, default=4)
    args = ap.parse_args()
    from actlab.expr import kernel_ns_per_element
    from actlab.kernels import KERNELS, get_kernel

    names = sorted(KERNELS) + ["relu=max(x, 0)"]
    busy = mp.get_context("fork").Process(target=_spin, args=(time.time() + 3600,), daemon=True)
    busy.start()  # one core busy for the whole measurement
    rows = {}
    try:
        for name in names:
            label, _, alias = name.partition("=")
            k = get_kernel(label) if not alias else None
            target = alias or k
            new = [kernel_ns_per_element(target) for _ in range(args.calls)]
            old = [_old_protocol(k) for _ in range(args.calls)] if k is not None else []
            rows[label] = {"cost": new, "ratio": max(new) / min(new),
                           "old": old, "old_ratio": (max(old) / min(old)) if old else None}
            print(f"{label:<12} cost {' '.join(f'{v:6.2f}' for v in new)}  ratio {rows[label]['ratio']:.2f}"
                  + (f"   old {' '.join(f'{v:6.2f}' for v in old)}  ratio {rows[label]['old_ratio']:.2f}"
                     if old else ""), flush=True)
    finally:
        busy.kill()
    worst = max(r["ratio"] for r in rows.values())
    summary = {"load_1min": os.getloadavg()[0], "cpus": os.cpu_count(), "worst_ratio": worst, "kernels": rows}
    print(f"worst max/min ratio over {args.calls} calls: {worst:.2f} (target <= 1.5); load {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
