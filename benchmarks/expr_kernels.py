"""Generated expression kernels against the zoo's hand-written ones, side by side in one process.

    PYTHONPATH=. .venv/bin/python benchmarks/expr_kernels.py [--n 16777216] [--repeats 15] [--only-compile|--only-trig]

Prints, for float32 on n elements: forward and backward (input + β gradient) medians of the generated Swish kernel
and of ``actlab.kernels.get_kernel("swish")``, interleaved so that machine load hits both alike, and their ratios;
then generated modules with trigonometric units (``ExprActivation``) against their composite (``fused=False``),
forward + backward at 1M elements, 1 thread; then cold-cache compile times (generation + numba, float32 forward +
backward, serial and parallel variants) for a few 1-unit expressions, and the 1-unit space counts (raw, distinct,
prefilter survivors by reason).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from actlab.bench.speed import median_ms


def speed(n: int, repeats: int) -> None:
    import torch

    import actlab.expr as E
    from actlab.kernels import get_kernel, sync_threads

    gen = E.compile_kernel("x * sigmoid(beta * x)")
    zoo = get_kernel("swish")
    if zoo is None:
        print("zoo swish kernel not available; skipping the speed comparison")
        return
    x = torch.randn(n).numpy()
    out, gy, gx = np.empty_like(x), np.ones_like(x), np.empty_like(x)
    sync_threads()
    for k in (gen, zoo):  # compile outside the timing
        k.forward(x, out, 1.0)
        k.backward(x, gy, gx, 1.0)
    xt = torch.from_numpy(x)
    res = median_ms({
        "copy": lambda: xt.clone(),
        "gen fwd": lambda: gen.forward(x, out, 1.0), "zoo fwd": lambda: zoo.forward(x, out, 1.0),
        "gen bwd": lambda: gen.backward(x, gy, gx, 1.0), "zoo bwd": lambda: zoo.backward(x, gy, gx, 1.0),
    }, repeats)
    print(f"float32, n = {n}, median of {repeats} (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in res.items()))
    print(f"generated/zoo swish: forward {res['gen fwd'] / res['zoo fwd']:.2f}x, "
          f"backward {res['gen bwd'] / res['zoo bwd']:.2f}x")


def trig_modules(repeats: int, n: int = 1 << 20) -> None:
    """Generated modules whose units are sin, cos, sinc, atan or asinh (the vectorised kernels.vsin/vcos/vatan and
    vasinh_wide in the generated numba code) against the composite torch form of the same expression."""
    import torch

    from actlab.expr import ExprActivation

    torch.set_num_threads(1)
    x = torch.randn(n, requires_grad=True)
    g = torch.randn(n)
    for text in ("sinc(x) - cos(x)", "cos(x) - x", "atan(x)^2 - x", "sin(x) * sin(x)"):
        fused, composite = ExprActivation(text), ExprActivation(text, fused=False)
        res = median_ms({"fused": lambda m=fused: m(x).backward(g), "composite": lambda m=composite: m(x).backward(g)},
                        repeats, warmup=3)
        print(f"{text:>18}: composite / generated kernel {res['composite'] / res['fused']:.2f}x "
              f"({res['fused']:.2f} / {res['composite']:.2f} ms, 1 thread, n = {n})", flush=True)


_COMPILE = r'''
import time, warnings, numpy as np
warnings.simplefilter("ignore")
t0 = time.perf_counter()
import actlab.expr as E
from actlab.kernels import sync_threads
for n in (4, 1 << 16):  # one-time numba/_math warm-up, serial and parallel, on an expression not timed below
    w = np.ones(n, np.float32)
    E.compile_kernel("exp(-x^2) + x").forward(w, np.empty_like(w))
    E.compile_kernel("exp(-x^2) + x").backward(w, w, np.empty_like(w))
t1 = time.perf_counter()
for s in {exprs!r}:
    t = time.perf_counter(); c = time.process_time()
    k = E.compile_kernel(s)
    nb = E.parse(s).betas
    x = np.random.randn(64).astype(np.float32); o = np.empty_like(x)
    k.forward(x, o, *([1.0] * nb)); k.backward(x, np.ones_like(x), o, *([1.0] * nb))
    t_serial = time.perf_counter() - t; c_serial = time.process_time() - c
    x = np.random.randn(1 << 16).astype(np.float32); o = np.empty_like(x)
    k.forward(x, o, *([1.0] * nb)); k.backward(x, np.ones_like(x), o, *([1.0] * nb))
    print(f"{{s:24s}} serial fwd+bwd {{t_serial:5.2f}} s wall / {{c_serial:5.2f}} s CPU; + parallel variants "
          f"{{time.perf_counter() - t - t_serial:5.2f}} s wall / {{time.process_time() - c - c_serial:5.2f}} s CPU")
'''


def compile_times(cold: bool) -> None:
    exprs = ["x * sigmoid(beta * x)", "max(x, tanh(x))", "cos(x) - x", "x * asinh(x)^2", "sinc(x) + x"]
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as d:
        if cold:
            env["ACTLAB_CACHE_DIR"] = d
        for label in ("cold cache", "warm cache (second process)"):
            print(label + ":")
            subprocess.run([sys.executable, "-c", _COMPILE.format(exprs=exprs)], env=env, check=True)


def space_counts() -> None:
    import actlab.expr as E

    t = time.perf_counter()
    s = E.space(units=1)
    groups = E.dedupe(s.enumerate())
    res = E.prefilter(g.representative for g in groups)
    print(f"1-unit space: raw {s.size()}, distinct {len(groups)}, survivors {len(res.survivors)} "
          f"({1 - len(res.survivors) / s.size():.1%} removed), rejected by reason {res.counts} "
          f"[{time.perf_counter() - t:.1f} s]")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1 << 24)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--skip-compile", action="store_true")
    ap.add_argument("--only-compile", action="store_true")
    ap.add_argument("--only-trig", action="store_true", help="only the trigonometric modules")
    a = ap.parse_args()
    if a.only_compile:
        compile_times(cold=True)
        return
    if a.only_trig:
        trig_modules(a.repeats)
        return
    speed(a.n, a.repeats)
    trig_modules(a.repeats)
    if not a.skip_compile:
        compile_times(cold=True)
    space_counts()


if __name__ == "__main__":
    main()
