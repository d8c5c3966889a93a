"""How should a population's members run their layers? Three ways, timed side by side on the CPU for one training
step (forward, backward, optimizer) of K MLPs with K different activations:

- **loop** (what ``train_population`` does): each member's own ``nn.Linear`` layers, one after another;
- **stacked**: the K members' weights in one ``(K, out, in)`` tensor, each layer one ``torch.baddbmm`` for all
  members, and the K activations applied to their slices of the ``(K, batch, width)`` tensor;
- **vmap**: ``torch.func.stack_module_state`` + ``functional_call`` under ``torch.vmap``; vmap maps one function, so
  the members must share their activation (here ReLU for all), the best case for it.

    PYTHONPATH=. python benchmarks/population_layers.py --json benchmarks/population_layers.json

Layers of the digits MLP (64 → 64 → 10, batch 64) and of the MNIST-1D MLP (40 → 100 → 100 → 10, batch 100); one
thread; each figure the median of interleaved rounds. The stacked step's outputs are checked against the loop's
(they agree to float32 rounding: a batched matmul sums in another order).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ACTS = [torch.relu, torch.tanh, F.silu, F.gelu, F.elu, torch.sigmoid, F.softplus, torch.sin]


def _mlp(widths: list[int], gen: torch.Generator) -> list[nn.Linear]:
    layers = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        lin = nn.Linear(a, b)
        bound = 1 / a ** 0.5
        with torch.no_grad():
            lin.weight.uniform_(-bound, bound, generator=gen)
            lin.bias.uniform_(-bound, bound, generator=gen)
        layers.append(lin)
    return layers


def _loop_forward(members: list[list[nn.Linear]], acts: list, x: torch.Tensor) -> torch.Tensor:
    outs = []
    for layers, act in zip(members, acts, strict=True):
        h = x
        for i, lin in enumerate(layers):
            h = lin(h)
            if i < len(layers) - 1:
                h = act(h)
        outs.append(h)
    return torch.stack(outs)


def _stacked_forward(ws: list[torch.Tensor], bs: list[torch.Tensor], acts: list, x: torch.Tensor) -> torch.Tensor:
    h = x.expand(len(acts), *x.shape)
    for i, (w, b) in enumerate(zip(ws, bs, strict=True)):
        h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        if i < len(ws) - 1:
            h = torch.stack([act(h[k]) for k, act in enumerate(acts)])
    return h


def measure(widths: list[int], batch: int, k: int, rounds: int) -> dict:
    gen = torch.Generator().manual_seed(0)
    members = [_mlp(widths, torch.Generator().manual_seed(m)) for m in range(k)]
    acts = [ACTS[m % len(ACTS)] for m in range(k)]
    x = torch.randn(batch, widths[0], generator=gen)
    y = torch.randint(0, widths[-1], (batch,), generator=gen)
    loop_params = [p for layers in members for lin in layers for p in lin.parameters()]
    depth = range(len(widths) - 1)
    ws = [torch.stack([layers[i].weight.detach() for layers in members]).requires_grad_() for i in depth]
    bs = [torch.stack([layers[i].bias.detach() for layers in members]).requires_grad_() for i in depth]
    opt_loop = torch.optim.SGD(loop_params, lr=0.01, momentum=0.9, fused=True)
    opt_stack = torch.optim.SGD(ws + bs, lr=0.01, momentum=0.9, fused=True)

    relu_models = [nn.Sequential(*[m for i, lin in enumerate(_mlp(widths, torch.Generator().manual_seed(s)))
                                   for m in ((lin, nn.ReLU()) if i < len(widths) - 2 else (lin,))]) for s in range(k)]
    params, buffers = torch.func.stack_module_state(relu_models)
    for p in params.values():
        p.requires_grad_()
    opt_vmap = torch.optim.SGD(list(params.values()), lr=0.01, momentum=0.9, fused=True)
    base = relu_models[0].to("meta")

    def call(p: dict, b: dict, xx: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(base, (p, b), (xx,))

    def loss_of(out: torch.Tensor) -> torch.Tensor:
        return sum(F.cross_entropy(out[m], y) for m in range(k))

    def step_loop() -> torch.Tensor:
        opt_loop.zero_grad(set_to_none=True)
        out = _loop_forward(members, acts, x)
        loss_of(out).backward()
        opt_loop.step()
        return out

    def step_stacked() -> torch.Tensor:
        opt_stack.zero_grad(set_to_none=True)
        out = _stacked_forward(ws, bs, acts, x)
        loss_of(out).backward()
        opt_stack.step()
        return out

    def step_vmap() -> torch.Tensor:
        opt_vmap.zero_grad(set_to_none=True)
        out = torch.vmap(call, in_dims=(0, 0, None))(params, buffers, x)
        loss_of(out).backward()
        opt_vmap.step()
        return out

    with torch.no_grad():
        same = torch.allclose(_loop_forward(members, acts, x), _stacked_forward(ws, bs, acts, x), atol=1e-5,
                              rtol=1e-5)
    times: dict[str, list[float]] = {"loop": [], "stacked": [], "vmap": []}
    fns = {"loop": step_loop, "stacked": step_stacked, "vmap": step_vmap}
    for f in fns.values():
        f()
    reps = max(5, 400 // k)
    for _ in range(rounds):
        for name, f in fns.items():
            t = time.perf_counter()
            for _ in range(reps):
                f()
            times[name].append((time.perf_counter() - t) / reps)
    med = {n: statistics.median(v) for n, v in times.items()}
    return {"widths": widths, "batch": batch, "k": k, "ms_per_step": {n: 1e3 * v for n, v in med.items()},
            "stacked_speedup": med["loop"] / med["stacked"], "vmap_speedup": med["loop"] / med["vmap"],
            "stacked_matches_loop": bool(same)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 4, 16, 64])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name, widths, batch in (("digits-mlp", [64, 64, 10], 64), ("mnist1d-mlp", [40, 100, 100, 10], 100)):
        for k in args.ks:
            r = dict(measure(widths, batch, k, args.rounds), model=name)
            rows.append(r)
            ms = r["ms_per_step"]
            print(f"{name:12} K={k:<3} loop {ms['loop']:.3f} ms  stacked {ms['stacked']:.3f} ms "
                  f"({r['stacked_speedup']:.2f}×)  vmap {ms['vmap']:.3f} ms ({r['vmap_speedup']:.2f}×)  "
                  f"stacked = loop: {r['stacked_matches_loop']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "date": time.strftime("%Y-%m-%d"), "threads": 1},
                                        indent=1) + "\n")


if __name__ == "__main__":
    main()
