"""Trainings per hour of a whole search on the CPU with ``--population K`` against one candidate at a time, side by
side, with every trial's value checked equal across K.

    PYTHONPATH=. python benchmarks/population_search.py --json benchmarks/population_search.json

Each round runs the same exhaustive search (the simplest N functions of the 1-unit space, one seed, no pruning or
racing, no final stage) once per K, in rotating order, in fresh in-memory studies; the figure is trainings per hour
of wall time from the driver's start to its last result, which includes dedupe, proposals and the workers' start.
The speed-up is the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import optuna


def search(task: str, budget: int, steps: int, population: int, workers: int) -> tuple[float, dict[str, float]]:
    from actlab.search import MEMORY, Driver, SearchConfig, make_space

    cfg = SearchConfig(task=task, strategy="exhaustive", budget=budget, steps=steps, workers=workers,
                       population=population, storage=MEMORY, study=f"p{population}", pruner="none", race_seeds=0,
                       analyse=False, top_k=0, check_task=None)
    driver = Driver(cfg, make_space(cfg))
    t = time.perf_counter()
    driver.run()
    wall = time.perf_counter() - t
    values = {tr.user_attrs["expression"]: tr.values[0] for tr in driver.study.trials if tr.values}
    return wall, values


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", nargs="+", default=["mnist1d-cnn", "digits-mlp"])
    ap.add_argument("--populations", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--budget", type=int, default=48)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    for task in args.tasks:
        walls: dict[int, list[float]] = {k: [] for k in args.populations}
        ref: dict[str, float] | None = None
        equal = True
        for r in range(args.rounds):
            order = args.populations[r % len(args.populations):] + args.populations[:r % len(args.populations)]
            for k in order:
                wall, values = search(task, args.budget, args.steps, k, args.workers)
                walls[k].append(wall)
                ref = ref if ref is not None else values
                equal &= values == ref
        base = walls[args.populations[0]]
        for k in args.populations:
            ratios = [b / w for b, w in zip(base, walls[k], strict=True)]
            rows.append({"task": task, "population": k, "workers": args.workers, "budget": args.budget,
                         "steps": args.steps, "trainings_per_hour": 3600 * args.budget / statistics.median(walls[k]),
                         "speedup": statistics.median(ratios), "speedup_min": min(ratios),
                         "speedup_max": max(ratios), "equal": equal, "walls": walls[k]})
            print(f"{task:12} K={k:<3} {rows[-1]['trainings_per_hour']:8.0f}/h  {rows[-1]['speedup']:.2f}× "
                  f"({min(ratios):.2f}–{max(ratios):.2f})  values equal: {equal}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "date": time.strftime("%Y-%m-%d"),
                                         "command": "python benchmarks/population_search.py"}, indent=1) + "\n")


if __name__ == "__main__":
    main()
