"""Harness performance (issue 4): run time of the MNIST-1D proxy, and training-step time and peak memory of fused
ISRLU against ReLU, measured side by side in one process on one thread.

    PYTHONPATH=. .venv/bin/python benchmarks/harness.py [--quick] [--json out.json]

Step times interleave the activations round by round and report the median over rounds, so machine load (other
processes on the 2 cores) hits every activation alike; read the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from actlab.data import load
from actlab.models import CNN1D, CNN2D
from actlab.train import train_one

# Activation specs compared; "isrlu:fused=false" is the composite torch-ops ISRLU (the slow eager form).
ACTS = ["relu", "isrlu", "isrlu:fused=false", "elu"]
SETUPS: dict[str, tuple[Callable[[str], nn.Module], str, int]] = {
    "mnist1d-cnn (CNN1D, batch 100)": (lambda a: CNN1D(act=a), "mnist1d", 100),
    "fashion-cnn (CNN2D 8/16, batch 64)": (lambda a: CNN2D(channels=(8, 16), hidden=64, act=a), "fashion-mnist", 64),
}


def _stepper(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    opt = torch.optim.Adam(model.parameters(), 1e-3, fused=True)  # as the harness's trainer

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def step_times(rounds: int, steps: int) -> dict[str, dict[str, float]]:
    """Median ms per training step for each activation, interleaved over rounds."""
    out: dict[str, dict[str, float]] = {}
    for setup, (build, dataset, batch) in SETUPS.items():
        ds = load(dataset)
        x, y = ds.x_train[:batch], ds.y_train[:batch]
        steppers = {}
        for a in ACTS:
            torch.manual_seed(0)
            steppers[a] = _stepper(build(a), x, y)
            for _ in range(10):  # warm-up: numba compilation, allocator
                steppers[a]()
        samples: dict[str, list[float]] = {a: [] for a in ACTS}
        for r in range(rounds):
            for a in ACTS[r % len(ACTS):] + ACTS[:r % len(ACTS)]:  # rotated: no activation always runs first
                t = time.perf_counter()
                for _ in range(steps):
                    steppers[a]()
                samples[a].append((time.perf_counter() - t) / steps * 1e3)
        # ms: median step time; ratio: median of the per-round ratios to ReLU (robust to the VM's drift).
        out[setup] = {a: dict(ms=statistics.median(v), ratio=statistics.median(
            [t / b for t, b in zip(v, samples["relu"])])) for a, v in samples.items()}
    return out


def _peak_step_bytes(step: Callable[[], None]) -> int:
    """Peak of the bytes allocated (net of frees) during one step, from the profiler's allocation records."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage != 0), key=lambda e: e.time_range.start)
    cur = peak = 0
    for e in events:
        cur += e.self_cpu_memory_usage
        peak = max(peak, cur)
    return peak


def _saved_bytes(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """Bytes of the distinct storages autograd keeps for backward (what a memory-efficient kernel shrinks)."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = F.cross_entropy(model(x), y)
    loss.backward()
    return sum(seen.values())


def memory() -> dict[str, dict[str, dict[str, int]]]:
    out: dict[str, dict[str, dict[str, int]]] = {}
    for setup, (build, dataset, batch) in SETUPS.items():
        ds = load(dataset)
        x, y = ds.x_train[:batch], ds.y_train[:batch]
        out[setup] = {}
        for a in ACTS:
            torch.manual_seed(0)
            m = build(a)
            step = _stepper(m, x, y)
            for _ in range(3):
                step()
            out[setup][a] = dict(peak=_peak_step_bytes(step), saved=_saved_bytes(m, x, y))
    return out


def proxy_runs(reps: int) -> dict[str, list[float]]:
    """Wall time of full mnist1d-cnn runs (2000 steps, batch 100, 1 thread), interleaved over activations."""
    times: dict[str, list[float]] = {a: [] for a in ("relu", "isrlu")}
    for r in range(reps):
        for a in times:
            times[a].append(train_one(a, "mnist1d-cnn", seed=r, threads=1).wall_time)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer rounds (smoke run)")
    ap.add_argument("--proxy-reps", type=int, default=None, help="full mnist1d-cnn runs per activation (0: skip)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved timing rounds (default 15, quick 3)")
    ap.add_argument("--json", help="also write the raw figures here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from actlab import kernels

    fused = sorted(kernels.KERNELS)
    print(f"fused kernels available: {fused or 'none (isrlu runs its composite reference)'}")
    try:
        kernels.build_native()
    except Exception as e:  # noqa: BLE001 - measure the Python Function path then, and say so
        print(f"native autograd node not built: {e}")
    print(f"native autograd node: {kernels.native_status()}")
    res: dict[str, Any] = {"kernels": fused, "threads": torch.get_num_threads()}
    reps = args.proxy_reps if args.proxy_reps is not None else (1 if args.quick else 3)
    if reps > 0:
        res["proxy"] = proxy_runs(reps)
        print("\n| activation | mnist1d-cnn run, 2000 steps (s, median) | runs |\n| --- | --- | --- |")
        for a, v in res["proxy"].items():
            print(f"| {a} | {statistics.median(v):.2f} | {', '.join(f'{t:.2f}' for t in v)} |", flush=True)
    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 15)
    res["step_ms"] = step_times(rounds, 20 if args.quick else 50)
    res["memory"] = memory()
    print("\n| setup | activation | step (ms, median) | × ReLU (median per-round ratio) | peak step alloc (KiB) "
          "| × ReLU | saved for backward (KiB) | × ReLU |\n| --- | --- | --- | --- | --- | --- | --- | --- |")
    for setup, times in res["step_ms"].items():
        mem = res["memory"][setup]
        for a, t in times.items():
            m, base = mem[a], mem["relu"]
            print(f"| {setup} | {a} | {t['ms']:.2f} | {t['ratio']:.3f} | {m['peak'] / 1024:.0f} | "
                  f"{m['peak'] / base['peak']:.2f} | {m['saved'] / 1024:.0f} | {m['saved'] / base['saved']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
