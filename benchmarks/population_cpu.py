"""Trainings per hour on the CPU: K members trained together (``train_population``) against the same K trained one
after another (``train_one``), side by side in one process, with every member checked equal to its solo run.

    PYTHONPATH=. python benchmarks/population_cpu.py --json benchmarks/population_cpu.json

One thread, as the protocol's workers use. Rounds alternate the two sides; each ratio is the median of per-round
ratios (this machine's speed drifts over seconds).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

import torch

from actlab.train import RunResult, train_one, train_population

ACTS = ["relu", "isrlu", "gelu", "swish", "elu", "tanh", "mish", "softplus", "x * erf(x)", "sin(x) * max(x, 0)",
        "x - abs(x)", "-x * atan(x)", "x^2 - x", "sinc(x) - cos(x)", "abs(x) * tanh(x)", "x * cos(x)"]
SKIP = ("wall_time", "steps_per_s")


def _equal(a: RunResult, b: RunResult) -> bool:
    return all(getattr(a, f.name) == getattr(b, f.name) for f in dataclasses.fields(RunResult) if f.name not in SKIP)


def measure(task: str, k: int, steps: int, rounds: int) -> dict:
    acts = ACTS[:k]
    train_population(acts, task, seed=0, steps=5)  # first use: kernels, data, compiled expressions
    ratios, pops, solos = [], [], []
    exact = True
    for r in range(rounds):
        t = time.perf_counter()
        pop = train_population(acts, task, seed=r, steps=steps)
        tp = time.perf_counter() - t
        t = time.perf_counter()
        solo = [train_one(a, task, seed=r, steps=steps) for a in acts]
        ts = time.perf_counter() - t
        exact &= all(_equal(p, s) for p, s in zip(pop, solo, strict=True))
        pops.append(tp)
        solos.append(ts)
        ratios.append(ts / tp)
    per_hour = 3600 * k / statistics.median(pops)
    return {"task": task, "k": k, "steps": steps, "population_s": statistics.median(pops),
            "solo_s": statistics.median(solos), "population_trainings_per_hour": per_hour,
            "solo_trainings_per_hour": 3600 * k / statistics.median(solos),
            "speedup_median_of_rounds": statistics.median(ratios), "speedup_rounds": ratios,
            "every_member_equal_to_solo": exact}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="mnist1d-cnn,digits-mlp")
    ap.add_argument("--k", default="1,4,8,16")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for task in args.tasks.split(","):
        for k in map(int, args.k.split(",")):
            row = measure(task, k, args.steps, args.rounds)
            rows.append(row)
            print(f"{task:12s} K={k:2d}: population {row['population_trainings_per_hour']:7.0f}/h, solo "
                  f"{row['solo_trainings_per_hour']:7.0f}/h, ×{row['speedup_median_of_rounds']:.2f}, "
                  f"equal: {row['every_member_equal_to_solo']}", flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({"threads": 1, "torch": torch.__version__, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
