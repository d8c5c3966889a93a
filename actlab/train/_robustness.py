"""Clean and adversarial accuracy per activation: train each (activation, seed) once, attack the trained model with
every requested attack and budget, and pair each activation with the baseline over seeds.

All attacks and budgets run on the same trained models (through :func:`train_one`'s ``on_model`` hook), so
differences between attacks are not training noise, and common random numbers pair the activations.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..data import load
from ..models import ActSpec, act_label, resolve_act
from ._attacks import NORMS, get_attack
from ._stats import paired_tests
from ._tasks import Task, get_task
from ._trainer import RunResult, train_one

__all__ = ["RobustnessRow", "Robustness", "robustness", "check_attacks", "adversarial_accuracy"]


@dataclass
class RobustnessRow:
    """One (activation, attack, ε): accuracies are means over seeds, on the first ``n_eval`` test examples.

    ``diff_*``/``p``/``p_adjusted`` pair ``adv_acc`` with the baseline's over the same seeds (mean difference with its
    t interval, paired t-test, Holm-adjusted over the activations of one attack and ε:
    :func:`actlab.train.paired_tests`).
    The baseline's own row has ``None`` there. ``attack_time`` is the mean seconds to attack one model's evaluation set.
    """

    activation: str
    attack: str
    eps: float
    clean_acc: float
    adv_acc: float
    seeds: list[int]
    norm: str = "linf"
    clean_per_seed: list[float] = field(default_factory=list)
    adv_per_seed: list[float] = field(default_factory=list)
    attack_time: float = 0.0
    n_diverged: int = 0
    diff: float | None = None
    diff_ci_low: float | None = None
    diff_ci_high: float | None = None
    p: float | None = None
    p_adjusted: float | None = None


@dataclass
class Robustness:
    """Every row of one robustness benchmark; :meth:`to_dict` is the ``--json`` format."""

    task: str
    baseline: str
    norm: str
    n_eval: int
    rows: list[RobustnessRow]

    def to_dict(self) -> dict[str, Any]:
        return dict(task=self.task, baseline=self.baseline, norm=self.norm, n_eval=self.n_eval,
                    rows=[asdict(r) for r in self.rows])


@torch.no_grad()
def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    logits = model(x)
    return float(((logits.argmax(1) == y) & torch.isfinite(logits).all(1)).float().mean())


def adversarial_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, attack: str, eps: float,
                         norm: str = "linf") -> float:
    """Accuracy of a trained ``model`` on ``attack``'s adversarial examples of ``(x, y)`` (moved to its device).

    The model is put in eval mode and its parameters stop requiring gradients (the attack needs input gradients only),
    so call it on a model that is done training.
    """
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    dev = next(model.parameters(), torch.empty(0)).device
    x, y = x.to(dev), y.to(dev)
    return _accuracy(model, get_attack(attack)(model, x, y, eps, norm), y)


def check_attacks(attacks: Sequence[str], eps: Sequence[float], norm: str) -> None:
    """One-line errors for an unknown attack or norm, or a budget ε ≤ 0, before anything is trained."""
    if not attacks:
        raise ValueError("no attack given")
    for a in attacks:
        get_attack(a)
    if not eps:
        raise ValueError("no eps given")
    for e in eps:
        if not (math.isfinite(e) and e > 0):
            raise ValueError(f"eps must be > 0, got {e}")
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")


def robustness(acts: Sequence[ActSpec], task: str | Task, attacks: Sequence[str], eps: Sequence[float],
               seeds: int | Sequence[int] = 5, norm: str = "linf", baseline: ActSpec | None = None,
               steps: int | None = None, n_eval: int | None = 1000, data_dir: str | Path | None = None,
               progress: Callable[[RunResult], None] | None = None) -> Robustness:
    """Train every activation (and the baseline, added if missing) per seed, attack each model with every
    attack × ε on the first ``n_eval`` test examples (all if None), and return the rows."""
    check_attacks(attacks, eps, norm)
    t = get_task(task)
    base = baseline if baseline is not None else t.baseline
    all_acts = list(acts) if act_label(base) in [act_label(a) for a in acts] else [base, *acts]
    for a in all_acts:
        resolve_act(a)()
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    ds = load(t.dataset, data_dir)
    k = len(ds.y_test) if n_eval is None else min(int(n_eval), len(ds.y_test))
    x, y = ds.x_test[:k], ds.y_test[:k]
    chance = 1.0 / ds.n_classes
    keys = [(a, e) for a in attacks for e in eps]
    # per activation label: clean per seed, and per (attack, eps) adversarial accuracy and attack time per seed
    clean: dict[str, list[float]] = {}
    adv: dict[str, dict[tuple[str, float], list[float]]] = {}
    times: dict[str, dict[tuple[str, float], list[float]]] = {}
    diverged: dict[str, int] = {}
    for a in all_acts:
        lab = act_label(a)
        clean[lab], adv[lab], times[lab], diverged[lab] = [], {kk: [] for kk in keys}, {kk: [] for kk in keys}, 0
        for s in seed_list:
            got: dict[Any, float] = {}

            def attack_all(model: nn.Module, lab: str = lab, got: dict[Any, float] = got) -> None:
                for p in model.parameters():
                    p.requires_grad_(False)   # input gradients only
                got["clean"] = _accuracy(model, x, y)
                for name, e in keys:
                    t0 = time.perf_counter()
                    xa = get_attack(name)(model, x, y, e, norm)
                    times[lab][(name, e)].append(time.perf_counter() - t0)
                    got[(name, e)] = _accuracy(model, xa, y)

            res = train_one(a, t, s, steps, data_dir=data_dir, on_model=attack_all)
            if progress is not None:
                progress(res)
            if "clean" not in got:   # diverged (or pruned): chance everywhere, as for accuracy
                diverged[lab] += 1
            clean[lab].append(got.get("clean", chance))
            for kk in keys:
                adv[lab][kk].append(got.get(kk, chance))
    base_lab = act_label(base)
    others = [lab for lab in clean if lab != base_lab]
    tests = {kk: paired_tests({lab: adv[lab][kk] for lab in clean}, others, [base_lab]) for kk in keys}
    rows = []
    for lab in clean:
        for name, e in keys:
            v = np.array(adv[lab][(name, e)])
            row = RobustnessRow(lab, name, e, float(np.mean(clean[lab])), float(np.mean(v)), seed_list, norm,
                                clean[lab], [float(q) for q in v], float(np.mean(times[lab][(name, e)] or [0.0])),
                                diverged[lab])
            pt = tests[(name, e)].get((lab, base_lab))
            if pt is not None:
                row.diff, row.diff_ci_low, row.diff_ci_high = pt.delta, pt.ci_low, pt.ci_high
                row.p, row.p_adjusted = pt.p, pt.p_adjusted
            rows.append(row)
    return Robustness(t.name, base_lab, norm, k, rows)
