"""The one seam between the search engine and the rest of actlab: evaluating a candidate in a worker.

A :class:`Job` is plain picklable data, so it runs the same in a local worker process or a Ray task. The evaluator
is named by ``"module:function"`` and imported in the worker; the default trains child networks with
:func:`actlab.train.train_one`, and unit tests of the engine's mechanics name a synthetic one instead.

Pruning needs the study, which only the driver owns. So the driver ships a snapshot of the finished trials'
intermediate values with the job, and the worker asks the pruner against an in-memory copy of that snapshot plus its
own reports. The decision can miss trials running at the same moment; the pruner's rungs tolerate that.
"""

from __future__ import annotations

import importlib
import math
import statistics
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Job", "PruneSpec", "run_job", "train_candidate", "describe_candidate", "DEFAULT_EVALUATOR"]

DEFAULT_EVALUATOR = "actlab.search._objective:train_candidate"


@dataclass
class PruneSpec:
    """What the worker needs to ask the pruner: the pruner and the finished trials' curves."""

    pruner: Any
    history: list[tuple[int, str, dict[int, float], float | None]] = field(default_factory=list)


@dataclass
class Job:
    """One candidate to evaluate on one task with several seeds (run sequentially in one worker)."""

    key: int                      # trial number in the driver's study
    expression: str
    task: str
    seeds: tuple[int, ...]
    steps: int | None = None      # None: the task preset's budget
    timeout: float | None = None  # seconds for the whole job; the executor enforces it too
    evaluator: str = DEFAULT_EVALUATOR
    analyse: bool = True          # also measure cost and properties (needed for the speed objective)
    prune: PruneSpec | None = None
    attempt: int = 1


class _Timeout(Exception):
    pass


def _resolve(path: str) -> Callable[..., dict[str, Any]]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _pruning_reporter(spec: PruneSpec) -> Callable[[int, float], bool]:
    import optuna
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", pruner=spec.pruner)
    past = []
    for _, state, curve, value in spec.history:
        st = TrialState[state]
        past.append(create_trial(state=st, value=value if st == TrialState.COMPLETE else None,
                                 intermediate_values=curve, params={}, distributions={}))
    if past:
        study.add_trials(past)
    trial = study.ask()

    def report(step: int, value: float) -> bool:
        if not math.isfinite(value):
            return False
        trial.report(float(value), int(step))
        return bool(trial.should_prune())

    return report


def run_job(job: Job) -> dict[str, Any]:
    """Evaluate ``job`` and return a plain result dict; never raises for a failing candidate."""
    evaluate = _resolve(job.evaluator)
    t0 = time.monotonic()
    deadline = t0 + job.timeout if job.timeout else None
    curve: list[tuple[int, float]] = []
    per_seed: list[dict[str, Any]] = []
    out: dict[str, Any] = {"status": "ok", "reason": None, "per_seed": per_seed, "intermediate": curve}
    try:
        pruner_report = _pruning_reporter(job.prune) if job.prune is not None else None

        def report(step: int, val_acc: float) -> bool:
            # Cooperative timeout; the executor kills the worker if a step never comes back.
            if deadline is not None and time.monotonic() > deadline:
                raise _Timeout()
            curve.append((int(step), float(val_acc)))
            return pruner_report(step, val_acc) if pruner_report is not None else False

        def report_quiet(step: int, val_acc: float) -> bool:
            if deadline is not None and time.monotonic() > deadline:
                raise _Timeout()
            return False

        for i, seed in enumerate(job.seeds):
            res = evaluate(job.expression, job.task, seed, job.steps, report if i == 0 else report_quiet)
            res = dict(res, seed=seed)
            per_seed.append(res)
            if res.get("pruned"):
                out["status"] = "pruned"
                break
            val = res.get("val_acc")
            if res.get("diverged") or val is None or not math.isfinite(float(val)):
                out["status"], out["reason"] = "fail", f"diverged: non-finite loss or accuracy (seed {seed})"
                break
        if out["status"] == "ok":
            out["value"] = statistics.median(float(r["val_acc"]) for r in per_seed)
        if job.analyse and out["status"] != "fail":
            out.update(describe_candidate(job.expression))
    except _Timeout:
        out["status"], out["reason"] = "fail", f"timeout: exceeded {job.timeout:g} s"
    except Exception as e:  # a candidate that raises must not stop the search
        tb = traceback.format_exc(limit=-3)
        out["status"], out["reason"] = "fail", f"{type(e).__name__}: {e}"[:500]
        out["traceback"] = tb[-2000:]
    out["wall"] = time.monotonic() - t0
    return out


# ---- the real evaluator: actlab.train and actlab.expr


def train_candidate(expression: str, task: str, seed: int, steps: int | None,
                    report: Callable[[int, float], bool] | None) -> dict[str, Any]:
    """Train one child network with ``expression`` as its activation; the engine's default evaluator."""
    from actlab.train import train_one

    res = train_one(expression, task, seed, steps=steps, report=report, threads=1)
    d = res.to_dict() if hasattr(res, "to_dict") else dict(vars(res))
    keep = ("val_acc", "test_acc", "loss", "wall", "steps", "diverged", "pruned", "curve")
    return {k: d[k] for k in keep if k in d}


def describe_candidate(expression: str) -> dict[str, Any]:
    """Measured fused-kernel cost (ns/element, forward+backward) and properties, as stored on the trial."""
    from actlab.expr import analyse, parse

    info = analyse(parse(expression))
    d = info.to_dict() if hasattr(info, "to_dict") else dict(vars(info))
    cost = d.pop("cost_ns", None)
    return {"cost": cost, "properties": {k: v for k, v in d.items() if _plain(v)}}


def _plain(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str)) or (
        isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float, str)) for x in v))
