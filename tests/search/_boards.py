"""A synthetic leaderboard (no training): long expressions, five baselines, a check task, and the paired tests the
real board computes, for tests of how the board reads."""

from __future__ import annotations

import numpy as np

from actlab.search import Board, Check, Row
from actlab.search._leaderboard import _mark_baseline_twins, _test_family

FOUND = ["x * sigmoid(x)", "max(x, 0) + sin(x) * atan(x) - cosh(exp(-abs(x))) * erf(x * x)", "x * erf(x)",
         "abs(x) * tanh(x)", "log(1 + exp(x)) * tanh(x)"]
BASELINES = ["relu", "gelu", "swish", "elu", "tanh"]


def synthetic_board(seeds: int = 5, check: bool = True, failed_check: bool = False, metric: str = "val_acc",
                    level: float = 0.9) -> Board:
    """A board of five found functions (the first is swish written out) and five baselines over ``seeds`` seeds."""
    rng = np.random.default_rng(0)
    fresh = list(range(1000, 1000 + seeds))
    rows = [Row(name, "found", trial=i, search_score=level + 0.01, cost=1.5 + i) for i, name in enumerate(FOUND)]
    base = [Row(b, "baseline", cost=1.0) for b in BASELINES]
    for i, r in enumerate(rows + base):
        shift = 0.02 * (len(FOUND) - i) / len(FOUND) if r.kind == "found" else -0.01 * (i - len(FOUND))
        r.test = {s: min(1.0, float(level + shift + 0.003 * rng.standard_normal())) for s in fresh}
        r.val = dict(r.test)
        if check:
            r.check = Check("mnist1d-mlp", {s: float(0.8 + shift + 0.003 * rng.standard_normal()) for s in fresh})
    if failed_check:
        assert rows[0].check is not None
        rows[0].check.test, rows[0].check.failed = {}, seeds
    _mark_baseline_twins(rows, BASELINES, gated=False)
    _test_family({r.name: r.test for r in rows}, {b.name: b.test for b in base}, rows, 0.05, check=False)
    if check:
        _test_family({r.name: r.check.test for r in rows if r.check}, {b.name: b.check.test for b in base if b.check},
                     rows, 0.05, check=True)
    everything = sorted(rows + base, key=lambda r: -r.test_ci[0] if r.test else float("inf"))
    for k, r in enumerate(everything, 1):
        r.rank = k
    cfg = {"task": "digits-mlp", "steps": 300, "seeds": 1, "reeval_seeds": seeds, "baselines": BASELINES,
           "check_task": "mnist1d-mlp" if check else None, "metric": metric, "top_k": 5, "space": "1"}
    return Board("exhaustive-digits-mlp-u1", cfg, everything, [], {"complete": 40}, True)
