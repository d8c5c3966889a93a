"""Fused gated kernels (SwiGLU, GEGLU, …) against the composite ``act(g) * a``: time and memory held for backward.

At LLaMA-like FFN shapes scaled to this machine (LLaMA-7B: model width 4096, FFN hidden 11008; here the hidden width
over 4 and a few thousand tokens), for every gated zoo activation:

* time of one forward+backward, fused (``actlab.get(name)``) against the composite under autograd (the registry's
  reference, ``a * gate(g)``) and, where PyTorch has the gate as one op, against ``F.silu``/``F.gelu``/… times ``a``
  (what a user writes), interleaved round by round, median of ``ROUNDS``;
* memory the activation keeps alive between forward and backward: the bytes of every tensor autograd saves (hooks
  on ``saved_tensors_hooks``; storage counted once) plus the output, the part of peak memory the activation adds.

    PYTHONPATH=. .venv/bin/python benchmarks/gated_kernels.py [--threads 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F

import actlab

# (tokens, hidden): the FFN hidden width of LLaMA-7B (11008) and -13B (13824) over 4, and a short sequence
SHAPES = ((512, 2752), (2048, 2752), (2048, 3456))
ROUNDS = 7
NATIVE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "glu": torch.sigmoid, "swiglu": F.silu, "geglu": F.gelu, "reglu": F.relu, "bilinear": lambda t: t}


@dataclass
class Row:
    act: str
    tokens: int
    hidden: int
    fused_ms: float
    composite_ms: float
    native_ms: float | None
    fused_saved_mb: float
    composite_saved_mb: float
    native_saved_mb: float | None


def _saved_mb(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> float:
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    xg = x.detach().requires_grad_(True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = fn(xg)
    seen.pop(xg.untyped_storage().data_ptr(), None)  # the input is the previous layer's output: not the act's
    total = sum(seen.values()) + (0 if y.untyped_storage().data_ptr() in seen else y.untyped_storage().nbytes())
    return total / 2**20


def _time(fns: list[Callable[[torch.Tensor], torch.Tensor]], x: torch.Tensor) -> list[float]:
    xg = x.detach().requires_grad_(True)
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(ROUNDS + 1):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            y = fn(xg)
            y.backward(torch.ones_like(y))
            out[i].append(time.perf_counter() - t)
            xg.grad = None
    return [statistics.median(ts[1:]) * 1e3 for ts in out]  # the first round warms caches and compiles


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), {platform.processor() or platform.machine()}; "
          f"float32 forward+backward, median of {ROUNDS} interleaved rounds; MB kept for backward (saved + output)")
    print(f"{'act':>9} {'tokens x 2H':>13} {'fused ms':>9} {'comp ms':>8} {'native ms':>9} {'f/c':>5} "
          f"{'fused MB':>9} {'comp MB':>8} {'native MB':>9}")
    rows = []
    for name in actlab.names("gated"):
        m = actlab.get(name)

        def composite(t: torch.Tensor, m=m) -> torch.Tensor:
            return m.spec.reference(t, *m.params())

        fns: list[Callable[[torch.Tensor], torch.Tensor]] = [m, composite]
        nat = NATIVE.get(name)
        if nat is not None:
            def native(t: torch.Tensor, nat=nat) -> torch.Tensor:
                a, g = t.chunk(2, dim=-1)
                return a * nat(g)
            fns.append(native)
        for tokens, hidden in SHAPES:
            x = torch.randn(tokens, 2 * hidden)
            ts = _time(fns, x)
            mem = [_saved_mb(f, x) for f in fns]
            r = Row(name, tokens, hidden, ts[0], ts[1], ts[2] if nat else None, mem[0], mem[1],
                    mem[2] if nat else None)
            rows.append(r)
            nat_ms = f"{r.native_ms:9.2f}" if r.native_ms is not None else f"{'—':>9}"
            nat_mb = f"{r.native_saved_mb:9.1f}" if r.native_saved_mb is not None else f"{'—':>9}"
            print(f"{name:>9} {f'{tokens}x{2 * hidden}':>13} {r.fused_ms:9.2f} {r.composite_ms:8.2f} {nat_ms} "
                  f"{r.fused_ms / r.composite_ms:5.2f} {r.fused_saved_mb:9.1f} {r.composite_saved_mb:8.1f} {nat_mb}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"threads": args.threads, "torch": torch.__version__, "rows": [asdict(r) for r in rows]}, fh,
                      indent=1)


if __name__ == "__main__":
    main()
