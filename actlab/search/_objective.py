"""The one seam between the search engine and the rest of actlab: evaluating a candidate in a worker.

A :class:`Job` is plain picklable data, so it runs the same in a local worker process or a Ray task. The evaluator
is named by ``"module:function"`` and imported in the worker; the default trains child networks with
:func:`actlab.train.train_one`, and unit tests of the engine's mechanics name a synthetic one instead.

Pruning needs the study, which only the driver owns. So the driver ships a snapshot of the finished trials'
intermediate values with the job, and the worker asks the pruner against an in-memory copy of that snapshot plus its
own reports. The decision can miss trials running at the same moment; the pruner's rungs tolerate that.

A :class:`Batch` is the unit a worker takes: up to ``population`` jobs that train together as one population
(:func:`actlab.train.train_population`, through the evaluator's ``population`` function), each with the result it
would have alone. A lone job is a batch of one.
"""

from __future__ import annotations

import importlib
import math
import statistics
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

from ._records import AttackSpec, JobResult, SeedResult

__all__ = ["Job", "Batch", "PruneSpec", "run_job", "run_batch", "batches", "DEFAULT_EVALUATOR", "seeds_median"]


def seeds_median(per_seed: list[SeedResult], metric: str = "val_acc") -> float | None:
    """The median of ``metric`` (a validation metric of :data:`actlab.train.METRICS`) over the seeds that have it."""
    if metric == "val_acc":  # the synthetic evaluators' only metric; no need to import the trainer
        vals = [float(s.val_acc) for s in per_seed if s.val_acc is not None]
    else:
        from actlab.train import get_metric

        m = get_metric(metric)
        vals = [v for v in (m.value(s) for s in per_seed) if math.isfinite(v)]
    return statistics.median(vals) if vals else None

DEFAULT_EVALUATOR = "actlab.search._candidate:train_candidate"


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


# What jobs must share to train together: the members of a population differ only in their activations.
def _together(job: Job) -> tuple[Any, ...]:
    return (job.task, job.seeds, job.steps, job.evaluator, job.metric)


@dataclass(frozen=True)
class Batch:
    """Jobs one worker evaluates as one unit of work: a population trained together (:func:`run_batch`), or a lone
    job. Its members share the task, seeds, steps, evaluator and metric (:func:`batches` groups them); each keeps its
    own pruning, gate and attack. A worker that dies takes the whole batch with it, and the batch is retried whole.
    """

    jobs: tuple[Job, ...]

    def __post_init__(self) -> None:
        if not self.jobs:
            raise ValueError("a batch needs at least one job")
        if len({_together(j) for j in self.jobs}) > 1:
            raise ValueError("a batch's jobs must share task, seeds, steps, evaluator and metric")

    @property
    def timeout(self) -> float | None:
        """Seconds for the whole batch: the sum of its jobs' (what they would take one after another)."""
        ts = [j.timeout for j in self.jobs]
        return None if any(not t for t in ts) else float(sum(t for t in ts if t))

    @property
    def attempt(self) -> int:
        return max(j.attempt for j in self.jobs)

    def again(self) -> "Batch":
        """The batch for its next attempt (after its worker died)."""
        return Batch(tuple(replace(j, attempt=j.attempt + 1) for j in self.jobs))


def batches(jobs: Iterable[Job], size: int) -> list[Batch]:
    """``jobs`` as batches of up to ``size`` jobs that can train together, in the order they came."""
    if size < 1:
        raise ValueError(f"a population has at least one member, got {size}")
    groups: dict[tuple[Any, ...], list[Job]] = {}
    for j in jobs:
        groups.setdefault(_together(j), []).append(j)
    return [Batch(tuple(g[i:i + size])) for g in groups.values() for i in range(0, len(g), size)]


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
    return run_batch(Batch((job,)))[0]


def run_batch(batch: Batch) -> list[JobResult]:
    """Evaluate the batch's jobs, together where the evaluator has a ``population`` function; one
    :class:`JobResult` per job, the same as :func:`run_job` gives it alone. Never raises for a failing candidate.

    Seed by seed, the members still going train together; a member that is pruned or fails stops alone. If training
    them together raises, each trains alone, so that one candidate's exception fails only that candidate. The
    members share the wall and CPU time, split evenly (the sum over a study stays what it cost).
    """
    jobs = list(batch.jobs)
    evaluate = _resolve(jobs[0].evaluator)
    together = getattr(evaluate, "population", None) if len(jobs) > 1 else None
    t0, cpu0 = time.monotonic(), time.process_time()
    timeout = batch.timeout
    deadline = t0 + timeout if timeout else None
    runs = [_Run(job, deadline) for job in jobs]
    try:
        for i, seed in enumerate(jobs[0].seeds):
            live = [r for r in runs if r.going]
            if not live:
                break
            rows: list[dict[str, Any] | BaseException] = []
            if together is not None and len(live) > 1:
                try:
                    rows = list(together([r.job.expression for r in live], jobs[0].task, seed, jobs[0].steps,
                                         [r.report(i == 0) for r in live], **_population_kwargs(live)))
                except _Timeout:
                    raise
                except Exception as e:  # retried alone below, so a member's failure is its own; the cause is kept
                    rows = []
                    for r in live:  # on every member's trial, so a population path that always fails is seen
                        r.out.population_error = f"{type(e).__name__}: {e}"[:300]
            if len(rows) != len(live):
                for r in live:  # forget what the failed population reported, so each reports its seed once
                    r.rewind(i == 0)
                rows = [_solo(evaluate, r, seed, i == 0) for r in live]
            for r, row in zip(live, rows, strict=True):
                r.add(row, seed)
    except _Timeout:
        for r in runs:
            if r.going:
                r.out.status, r.out.reason = "fail", f"timeout: exceeded {timeout:g} s"
                r.going, r.out.timed_out = False, True
    wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
    for r in runs:
        r.finish()
        # what the batch cost, whatever else shares the cores, shared by its members
        r.out.wall, r.out.cpu = wall / len(runs), cpu / len(runs)
    return [r.out for r in runs]


def _solo(evaluate: Callable[..., dict[str, Any]], r: "_Run", seed: int, first: bool) -> dict[str, Any] | BaseException:
    try:
        return evaluate(r.job.expression, r.job.task, seed, r.job.steps, r.report(first), **r.kwargs())
    except _Timeout:
        raise
    except Exception as e:  # a candidate that raises must not stop the search (nor its population)
        return e


def _population_kwargs(runs: list["_Run"]) -> dict[str, Any]:
    """The population function's per-member options, passed only where some member needs them (as for one job)."""
    kw: dict[str, Any] = {}
    if any(r.job.attack is not None for r in runs):
        kw["attacks"] = [r.job.attack for r in runs]
    if any(r.job.gated for r in runs):
        kw["gated"] = [r.job.gated for r in runs]
    if runs[0].job.metric != "val_acc":
        kw["metric"] = runs[0].job.metric
    return kw


class _Run:
    """One job of a batch while it runs: its result so far, its pruner, and whether it is still going."""

    def __init__(self, job: Job, deadline: float | None) -> None:
        self.job, self.deadline, self.out, self.going = job, deadline, JobResult(), True
        self.pruner: _Pruning | None = None
        self.rewind(True)

    def rewind(self, first: bool) -> None:
        """Start the seed again: on the first seed, a fresh curve and pruner."""
        if not first or self.job.prune is None:
            return
        self.out.intermediate.clear()
        try:
            self.pruner = _Pruning(self.job.prune)
        except Exception as e:  # without a pruner the candidate still trains, to the end
            self.out.pruner_error = f"{type(e).__name__}: {e}"[:300]

    def report(self, first: bool) -> Callable[[int, float], bool]:
        """The callback of one seed's training: the first seed's curve goes to the pruner (value: the search
        metric on the validation split); every seed checks the cooperative timeout (the executor kills the worker
        if a step never comes back)."""
        def report(step: int, value: float) -> bool:
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise _Timeout()
            if not first:
                return False
            self.out.intermediate.append((int(step), float(value)))
            return self.pruner(step, value) if self.pruner is not None else False

        return report

    def kwargs(self) -> dict[str, Any]:
        # Only a job that needs an option passes it, so evaluators without the keyword keep working.
        kw: dict[str, Any] = {} if self.job.attack is None else {"attack": self.job.attack}
        if self.job.gated:
            kw["gated"] = True
        if self.job.metric != "val_acc":  # the evaluator reports this metric's curve (for pruning)
            kw["metric"] = self.job.metric
        return kw

    def add(self, row: dict[str, Any] | BaseException, seed: int) -> None:
        """One seed's result (or the exception its training raised)."""
        out = self.out
        if isinstance(row, BaseException):
            out.status, out.reason = "fail", f"{type(row).__name__}: {row}"[:500]
            out.traceback = "".join(traceback.format_exception(row, limit=-3))[-2000:]
            self.going = False
            return
        res = SeedResult.from_attr(row, seed=seed)
        out.per_seed.append(res)
        if res.pruned:
            out.status, self.going = "pruned", False
            return
        v = seeds_median([res], self.job.metric)
        if res.diverged or v is None or not math.isfinite(v):
            why = "diverged: non-finite loss or accuracy" if res.diverged or v is not None else \
                f"the evaluator measured no {self.job.metric}"
            out.status, out.reason, self.going = "fail", f"{why} (seed {seed})", False

    def finish(self) -> None:
        """The value over the seeds, the pruner's rung records, and (analyse/measure) the description."""
        job, out = self.job, self.out
        if job.seeds and out.ok:
            out.value = seeds_median(out.per_seed, job.metric)
            advs = [r.adv_acc for r in out.per_seed if r.adv_acc is not None]
            if job.attack is not None and len(advs) == len(out.per_seed):
                out.adv_value = statistics.median(float(a) for a in advs)
        if self.pruner is not None:
            out.pruner_attrs = self.pruner.attrs
            if self.pruner.error:
                out.pruner_error = self.pruner.error
        if (job.analyse or job.measure) and out.status != "fail":
            try:
                from ._candidate import describe_candidate

                d = describe_candidate(job.expression, measure=job.measure)
                out.cost, out.properties, out.canonical = d.get("cost"), d.get("properties"), d.get("canonical")
            except Exception as e:  # as a training that raises: this candidate fails, the search goes on
                out.status, out.reason = "fail", f"{type(e).__name__}: {e}"[:500]
                out.traceback = traceback.format_exc(limit=-3)[-2000:]
