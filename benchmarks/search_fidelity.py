"""What the search's shorter child training costs in accuracy resolution.

    PYTHONPATH=. .venv/bin/python benchmarks/search_fidelity.py --low 1000 --high 2000 --n 12

Trains the ``n`` simplest distinct functions of the 1-unit space plus a few zoo activations at both budgets
(seed 0, mnist1d-cnn, two worker processes) and reports the Spearman rank correlation of validation accuracy between
the budgets, the mean absolute difference, and the wall time per training at each budget.
"""

from __future__ import annotations

import argparse
import json
import statistics

from scipy.stats import spearmanr

from actlab.search import SearchConfig, make_space
from actlab.search._executors import LocalExecutor
from actlab.search._objective import Job


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="mnist1d-cnn")
    ap.add_argument("--low", type=int, default=1000)
    ap.add_argument("--high", type=int, default=2000)
    ap.add_argument("--n", type=int, default=12)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    space = make_space(SearchConfig(runs_dir="/tmp/actlab-fidelity"))
    order, _ = space.enumerate()
    acts = [space.render(t) for t in order[:args.n]] + ["relu", "swish", "elu", "tanh"]
    jobs = [Job(key=i, expression=a, task=args.task, seeds=(0,), steps=s, timeout=600, analyse=False)
            for i, (a, s) in enumerate((a, s) for s in (args.low, args.high) for a in acts)]
    results: dict[int, dict] = {}
    with LocalExecutor(2) as ex:
        for j in jobs:
            ex.submit(j)
        while len(results) < len(jobs):
            for out in ex.poll(5.0):
                results[out.job.key] = out.result or {}
    n = len(acts)
    low = [results[i].get("value", float("nan")) for i in range(n)]
    high = [results[n + i].get("value", float("nan")) for i in range(n)]
    ok = [i for i in range(n) if low[i] == low[i] and high[i] == high[i]]
    rho = spearmanr([low[i] for i in ok], [high[i] for i in ok]).statistic
    wall = {s: statistics.median(results[k]["wall"] for k in range(o, o + n) if results[k].get("wall"))
            for s, o in ((args.low, 0), (args.high, n))}
    summary = {"task": args.task, "low": args.low, "high": args.high, "spearman": rho,
               "mean_abs_diff": statistics.fmean(abs(low[i] - high[i]) for i in ok),
               "median_wall_s": wall, "rows": [(acts[i], low[i], high[i]) for i in range(n)]}
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
