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

from ._records import AttackSpec, JobResult, SeedResult

__all__ = ["Job", "PruneSpec", "run_job", "train_candidate", "describe_candidate", "DEFAULT_EVALUATOR", "seeds_median"]


def seeds_median(per_seed: list[SeedResult], metric: str = "val_acc") -> float | None:
    """The median of ``metric`` (a validation metric of :data:`actlab.train.METRICS`) over the seeds that have it."""
    if metric == "val_acc":  # the synthetic evaluators' only metric; no need to import the trainer
        vals = [float(s.val_acc) for s in per_seed if s.val_acc is not None]
    else:
        from actlab.train import get_metric

        m = get_metric(metric)
        vals = [v for v in (m.value(s) for s in per_seed) if math.isfinite(v)]
    return statistics.median(vals) if vals else None

DEFAULT_EVALUATOR = "actlab.search._objective:train_candidate"


@dataclass
class PruneSpec:
    """What the worker needs to ask the pruner: the pruner and the finished trials' curves."""

    pruner: Any
    direction: str = "maximize"  # the search metric's: a loss's curves are pruned from above
    # No pruning until this many finished trials exist: successive halving keeps only the best third of a rung,
    # which with two or three competitors prunes good candidates on noise.
    warmup: int = 10
    # (number, state name, intermediate values, value, the pruner's system attrs such as "completed_rung_0")
    history: list[tuple[int, str, dict[int, float], float | None, dict[str, Any]]] = field(default_factory=list)


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
    analyse: bool = True          # also compute properties and the sympy canonical form
    measure: bool = False         # also time the fused kernel (compiles it; needed for the speed objective)
    attack: AttackSpec | None = None  # also attack each trained network (the robustness objective)
    gated: bool = False           # train the expression as the gate of f(g)·a (the gated space): glu(expression)
    metric: str = "val_acc"       # the value: this validation metric's median over the seeds (actlab.train.METRICS)
    prune: PruneSpec | None = None
    attempt: int = 1


class _Timeout(Exception):
    pass


def _resolve(path: str) -> Callable[..., dict[str, Any]]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class _Pruning:
    """The pruner asked against an in-memory copy of the driver's finished trials plus this job's reports.

    Successive halving keeps its rung decisions in system attrs (``completed_rung_k``): the snapshot carries them
    in, and :attr:`attrs` carries this trial's out, so the driver can store them on the real trial.
    """

    def __init__(self, spec: PruneSpec) -> None:
        import optuna
        from optuna.trial import TrialState, create_trial

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        direction = optuna.study.StudyDirection.MINIMIZE if spec.direction == "minimize" else \
            optuna.study.StudyDirection.MAXIMIZE
        self.study = optuna.create_study(direction=direction, pruner=spec.pruner, study_name="actlab-snapshot")
        past = []
        for _, state, curve, value, attrs in spec.history:
            st = TrialState[state]
            past.append(create_trial(state=st, value=value if st == TrialState.COMPLETE else None,
                                     intermediate_values={int(k): v for k, v in curve.items()}, params={},
                                     distributions={}, system_attrs=attrs))
        if past:
            self.study.add_trials(past)
        self.trial = self.study.ask()
        self.error: str | None = None
        self.warm = len(past) >= spec.warmup

    def __call__(self, step: int, value: float) -> bool:
        if self.error is not None or not math.isfinite(value):
            return False
        self.trial.report(float(value), int(step))
        try:
            prune = bool(self.trial.should_prune())  # also records the rung, warm or not
            return prune and self.warm
        except Exception as e:  # a pruner bug must not fail the candidate: stop pruning this job instead
            self.error = f"{type(e).__name__}: {e}"[:300]
            return False

    @property
    def attrs(self) -> dict[str, Any]:
        t = self.study.trials[-1]
        return {k: v for k, v in t.system_attrs.items() if k.startswith("completed_rung")}


def run_job(job: Job) -> JobResult:
    """Evaluate ``job`` and return its :class:`JobResult`; never raises for a failing candidate."""
    evaluate = _resolve(job.evaluator)
    t0, cpu0 = time.monotonic(), time.process_time()
    deadline = t0 + job.timeout if job.timeout else None
    out = JobResult()
    try:
        pruner_report = None
        if job.prune is not None:
            try:
                pruner_report = _Pruning(job.prune)
            except Exception as e:  # without a pruner the candidate still trains, to the end
                out.pruner_error = f"{type(e).__name__}: {e}"[:300]

        def report(step: int, value: float) -> bool:
            # value: the search metric on the validation split (accuracy unless --metric said otherwise).
            # Cooperative timeout; the executor kills the worker if a step never comes back.
            if deadline is not None and time.monotonic() > deadline:
                raise _Timeout()
            out.intermediate.append((int(step), float(value)))
            return pruner_report(step, value) if pruner_report is not None else False

        def report_quiet(step: int, val_acc: float) -> bool:
            if deadline is not None and time.monotonic() > deadline:
                raise _Timeout()
            return False

        # Only a job that needs the attack passes it, so evaluators without the keyword keep working.
        kw: dict[str, Any] = {} if job.attack is None else {"attack": job.attack}
        if job.gated:
            kw["gated"] = True
        if job.metric != "val_acc":  # the evaluator reports this metric's curve (for pruning); default: accuracy
            kw["metric"] = job.metric
        for i, seed in enumerate(job.seeds):
            res = SeedResult.from_attr(evaluate(job.expression, job.task, seed, job.steps,
                                                report if i == 0 else report_quiet, **kw), seed=seed)
            out.per_seed.append(res)
            if res.pruned:
                out.status = "pruned"
                break
            v = seeds_median([res], job.metric)
            if res.diverged or v is None or not math.isfinite(v):
                why = "diverged: non-finite loss or accuracy" if res.diverged or v is not None else \
                    f"the evaluator measured no {job.metric}"
                out.status, out.reason = "fail", f"{why} (seed {seed})"
                break
        if job.seeds and out.ok:
            out.value = seeds_median(out.per_seed, job.metric)
            advs = [r.adv_acc for r in out.per_seed if r.adv_acc is not None]
            if job.attack is not None and len(advs) == len(out.per_seed):
                out.adv_value = statistics.median(float(a) for a in advs)
        if pruner_report is not None:
            out.pruner_attrs = pruner_report.attrs
            if pruner_report.error:
                out.pruner_error = pruner_report.error
        if (job.analyse or job.measure) and out.status != "fail":
            d = describe_candidate(job.expression, measure=job.measure)
            out.cost, out.properties, out.canonical = d.get("cost"), d.get("properties"), d.get("canonical")
    except _Timeout:
        out.status, out.reason = "fail", f"timeout: exceeded {job.timeout:g} s"
    except Exception as e:  # a candidate that raises must not stop the search
        out.status, out.reason = "fail", f"{type(e).__name__}: {e}"[:500]
        out.traceback = traceback.format_exc(limit=-3)[-2000:]
    out.wall = time.monotonic() - t0
    out.cpu = time.process_time() - cpu0  # what the job cost, whatever else shares the cores
    return out


# ---- the real evaluator: actlab.train and actlab.expr


def train_candidate(expression: str, task: str, seed: int, steps: int | None,
                    report: Callable[[int, float], bool] | None, attack: AttackSpec | None = None,
                    gated: bool = False, metric: str = "val_acc") -> dict[str, Any]:
    """Train one child network with ``expression`` (or a registry name) as its activation; the default evaluator.

    Candidates train through :func:`actlab.models.candidate_act`, the one path shared with the tabular benchmarks
    and :func:`actlab.evaluate` (composite torch ops: no kernel compilation per candidate, and a result reproduces
    only when every caller trains the same way). The fused kernel is compiled only where its speed is the point
    (the speed objective, the cost column). With ``attack``, the trained network is also attacked on the whole
    validation split (``adv_acc``); a run that diverged or was pruned has none. With ``gated`` the expression is the
    gate of a gated activation, ``glu(expression)`` (the task's model must take one: a FeedForward block, the MLP).
    """
    from actlab.models import candidate_act
    from actlab.train import adversarial_accuracy, get_task, task_data, train_one

    act = candidate_act(f"glu({expression})" if gated else expression)
    got: dict[str, float] = {}
    on_model = None
    if attack is not None:
        ds = task_data(get_task(task))

        def on_model(model: Any) -> None:
            got["adv_acc"] = adversarial_accuracy(model, ds.x_val, ds.y_val, attack.name, attack.eps, attack.norm)

    d = train_one(act, task, seed, steps=steps, report=report, threads=1, on_model=on_model,
                  report_metric=metric).to_dict()
    keep = ("val_acc", "test_acc", "val_loss", "test_loss", "train_loss", "wall_time", "steps_done", "diverged",
            "pruned")
    return {**{k: d.get(k) for k in keep}, **got}


def first_report_step(task: str) -> int | None:
    """The first step at which the task reports validation accuracy (the pruner's smallest rung), if known."""
    try:
        from actlab.train import get_task

        t = get_task(task)
    except (ImportError, KeyError):  # not an actlab task (a synthetic evaluator's)
        return None
    return int(t.eval_every) if t.objective is None else None


def _registry_name(text: str) -> tuple[str, dict[str, Any]] | None:
    """``(name, hparams)`` if ``text`` names a zoo activation (``"isrlu"``, ``"isrlu:alpha=3"``), else None."""
    from actlab.activations import names
    from actlab.models import parse_act_string

    named = parse_act_string(text)
    if named is None or named[0].lower() not in {n.lower() for n in names()}:
        return None
    return named[0], dict(named[1])


def describe_candidate(expression: str, measure: bool = False) -> dict[str, Any]:
    """The sympy canonical form, properties and (``measure``) the fused forward+backward cost in ns/element.

    Registry names (the baselines) are timed through the zoo's hand-written fused kernel with the same protocol
    (:func:`actlab.expr.kernel_ns_per_element`), or as an expression when the zoo has none (relu = ``max(x, 0)``).
    """
    from actlab import expr

    named = _registry_name(expression)
    if named is not None:  # the zoo's declared properties, in the same vocabulary as analyse()
        from actlab.activations import spec

        sp = spec(named[0])
        props = {k: getattr(sp, k) for k in ("monotonic", "bounded_below", "bounded_above", "smoothness")}
        return {"properties": props, **({"cost": _zoo_cost(named[0])} if measure else {})}
    info = expr.analyse(expression, measure=measure, canonical=True).as_dict()
    out: dict[str, Any] = {"canonical": info.pop("canonical", None)}
    cost = info.pop("ns_per_element", None)
    if cost is not None:
        out["cost"] = cost
    info["cost_estimate"] = info.pop("cost", None)
    info.pop("expr", None)
    out["properties"] = {k: v for k, v in info.items() if _plain(v)}
    return out


# Zoo activations without a hand-written kernel, timed as the expression of the same function.
_ZOO_AS_EXPR = {"relu": "max(x, 0)", "identity": "x"}


def _zoo_cost(name: str) -> float | None:
    from actlab.expr import kernel_ns_per_element
    from actlab.kernels import get_kernel

    k = get_kernel(name.lower())
    if k is None:
        alias = _ZOO_AS_EXPR.get(name.lower())
        return kernel_ns_per_element(alias) if alias else None
    return kernel_ns_per_element(k)


def _plain(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str)) or (
        isinstance(v, (list, tuple)) and all(isinstance(x, (bool, int, float, str)) for x in v))
