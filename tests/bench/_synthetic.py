"""A synthetic table over the real 1-unit space: accuracy is a smooth function of how close f is to Swish.

It makes replay tests fast (no training) while the landscape still has structure a model-based strategy can learn.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import torch

from actlab import expr
from actlab.bench import table as tables
from actlab.search import SearchConfig, make_space

_X = torch.linspace(-3, 3, 25, dtype=torch.float64)


def _score(text: str) -> float:
    e = expr.parse(text)
    with torch.no_grad():
        y = e.torch_fn()(_X, *(torch.tensor(1.0, dtype=torch.float64) for _ in range(e.betas)))
    target = _X * torch.sigmoid(_X)
    err = float(torch.nan_to_num((y - target).abs(), nan=10.0, posinf=10.0, neginf=10.0).clamp(max=10).mean())
    return 0.95 - 0.6 * math.tanh(err)


def _row(kind: str, text: str, fp: str, seed: int, v: float) -> tables.TableRow:
    # the losses fall as the accuracy rises (an affine map, so a ranking by either is the same ranking)
    return tables.TableRow(kind, text, fp, seed, v, v - 0.01, 1.0 - v, "ok", 0.01, val_loss=3.0 - 3.0 * v,
                           test_loss=3.03 - 3.0 * v)


def synthetic_table(path: Path, limit: int | None = None, seeds: int = 2, runs_dir: str | Path = "runs",
                    seed: int = 0) -> tables.Table:
    """Write a table of ``limit`` random functions of the 1-unit space (all of them if None)."""
    space = make_space(SearchConfig(space="1", runs_dir=str(runs_dir)))
    pool, counts = space.enumerate()
    rng = random.Random(seed)
    picked = pool if limit is None else rng.sample(pool, limit)
    rows = []
    for tokens in picked:
        text = space.render(tokens)
        fp, base = space.identity(text), _score(text)
        for s in range(seeds):
            v = base + rng.gauss(0, 0.005)
            rows.append(_row("candidate", text, fp, s, v))
    for s in range(seeds):
        rows.append(_row("baseline", "relu", "", s, _score("max(x, 0)") + rng.gauss(0, 0.005)))
    protocol = {"task": "synthetic", "steps": 0, "seeds": list(range(seeds)), "space": 1, "synthetic": True,
                "space_counts": counts}
    return tables.write_rows(path, rows, protocol)
