"""The multi-seed protocol: run (activation, seed) jobs, in parallel processes if asked, and summarise them fairly.

Every job is one :func:`train_one` on one thread with its own seed, and the jobs share nothing, so results do not
depend on the number of workers or the order in which they finish.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .._tabular import Tabular
from ..models import ActSpec, act_label, candidate_act, resolve_act
from ._device import place_worker, resolve_device
from ._metrics import get_metric
from ._stats import PairedTest, mean_ci, paired_tests
from ._tasks import Task, get_task, task_spec
from ._probe import resolve_population
from ._trainer import RunResult, train_one, train_population

__all__ = ["Evaluation", "Paired", "Comparison", "evaluate", "compare", "run_jobs"]

@dataclass
class Evaluation(Tabular):
    """One activation over seeds: per-seed results and summary statistics of ``metric``.

    ``ci_low``/``ci_high`` is the 95 % Student-t interval of the mean over seeds (:func:`actlab.train.mean_ci`,
    the same interval as the search leaderboard's).
    """

    act: str
    task: str
    metric: str
    results: list[RunResult]
    median: float = 0.0
    mean: float = 0.0
    std: float = 0.0
    ci_low: float = 0.0
    ci_high: float = 0.0
    n_diverged: int = 0
    time_per_run: float = 0.0

    def __post_init__(self) -> None:
        v = self.values
        if len(v) and not np.isfinite(v).any() and not all(r.diverged for r in self.results):
            raise ValueError(f"{self.act}: metric {self.metric} was not measured by task {self.task!r} (a custom "
                             f"objective returns accuracies unless it returns a dict naming {self.metric})")
        self.median, self.mean = float(np.median(v)), float(np.mean(v))
        self.std = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
        m, half = mean_ci(v)
        self.ci_low, self.ci_high = get_metric(self.metric).clip(m - half, m + half)
        self.n_diverged = sum(r.diverged for r in self.results)
        self.time_per_run = float(np.mean([r.wall_time for r in self.results]))

    @property
    def values(self) -> np.ndarray:
        """The metric per seed, in seed order; a pruned run (no test evaluation) counts at its validation value."""
        m = get_metric(self.metric)
        return np.array([m.value(r) for r in self.results], dtype=np.float64)

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.results]

    def _table_rows(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.results]  # one row per seed, for _repr_html_ and to_pandas()

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "results"}
        d["results"] = [r.to_dict() for r in self.results]
        return d


#: A candidate against the baseline over the same seeds: the paired t-test of :mod:`actlab.train._stats`,
#: Holm-corrected across the comparison's candidates.
Paired = PairedTest


@dataclass
class Comparison(Tabular):
    """Several activations on one task and seed set, each paired against ``baseline``."""

    task: str
    metric: str
    baseline: str
    seeds: list[int]
    evaluations: dict[str, Evaluation]
    paired: dict[str, Paired] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per activation (baseline first), for tables and CSV."""
        out = []
        for name, ev in self.evaluations.items():
            p = self.paired.get(name)
            out.append(dict(act=name, n=len(ev.results), median=ev.median, mean=ev.mean, std=ev.std,
                            ci_low=ev.ci_low, ci_high=ev.ci_high,
                            diff=p.delta if p else None, diff_ci_low=p.ci_low if p else None,
                            diff_ci_high=p.ci_high if p else None, p_value=p.p if p else None,
                            p_adjusted=p.p_adjusted if p else None, wins=p.wins if p else None,
                            losses=p.losses if p else None, diverged=ev.n_diverged,
                            time_per_run=ev.time_per_run))
        return out

    def _table_rows(self) -> list[dict[str, Any]]:
        return self.rows()  # for _repr_html_ and to_pandas()

    def to_dict(self) -> dict[str, Any]:
        return dict(task=self.task, metric=self.metric, baseline=self.baseline, seeds=self.seeds,
                    evaluations={k: v.to_dict() for k, v in self.evaluations.items()},
                    paired={k: v.to_dict() for k, v in self.paired.items()})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Comparison":
        """A comparison from its :meth:`to_dict` form (``actlab bench accuracy --json``): the runs are read back,
        the summaries and tests recomputed from them as :func:`compare` computes them."""
        evs = {lab: Evaluation(lab, d["task"], d["metric"], [RunResult.from_dict(r) for r in e["results"]])
               for lab, e in d["evaluations"].items()}
        base, m = d["baseline"], get_metric(d["metric"])
        others = [lab for lab in evs if lab != base]
        tests = paired_tests({lab: list(evs[lab].values) for lab in evs}, others, [base], sign=m.sign, span=m.span)
        return cls(d["task"], d["metric"], base, list(d["seeds"]), evs, {lab: tests[(lab, base)] for lab in others})


def _worker_init(counter: Any = None, device: str | None = None) -> None:
    # One intra-op thread per worker: N workers use N cores, and numba follows torch (kernels.sync_threads).
    torch.set_num_threads(1)
    if counter is not None:  # a slot number per worker, so that a bare "cuda" spreads workers over the GPUs
        with counter.get_lock():
            slot = counter.value
            counter.value += 1
        place_worker(slot, device)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def _context(main: bool = False) -> mp.context.BaseContext:
    # forkserver: workers start clean (no inherited torch threads, unlike fork) but are forked from a server that
    # has imported torch and actlab once, so a pool starts in about a second instead of re-importing per worker.
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    # main: the server imports the user's script (as __mp_main__, so its main guard holds), for tasks, models and
    # activations defined in it. Only then: a script without the guard would otherwise run again in the server.
    ctx.set_forkserver_preload((["__main__"] if main else []) + ["actlab.train", "actlab.data", "actlab.activations"])
    return ctx


def _job(args: tuple[Any, str | Task, int, int | None, str | None, str | None]) -> dict[str, Any]:
    act, task, seed, steps, data_dir, device = args
    # Text (a name or an expression) trains the protocol's one way, as in the search and the tabular benchmarks.
    a = candidate_act(act) if isinstance(act, str) else act
    return train_one(a, task, seed, steps=steps, threads=1, data_dir=data_dir, device=device).to_dict()


def _for_workers(task: Task) -> str | Task:
    """What is sent to worker processes: the spec string when there is one (cheap; the worker imports it and builds
    its dataset once), else the picklable Task itself."""
    try:
        return task_spec(task)
    except ValueError:
        pass
    try:
        pickle.dumps(task)
    except Exception as e:  # noqa: BLE001 - pickling errors come in several types
        raise TypeError(f"task {task.name!r} cannot be sent to worker processes ({e}); use workers=1, or define "
                        f"the task and its functions at module level") from None
    return task


def _from_main(obj: Any) -> bool:
    """Whether ``obj`` (a spec, a Task, an activation) refers to something defined in the user's script."""
    if isinstance(obj, str):
        return obj.startswith("__main__:")
    if isinstance(obj, Task):
        return any(_from_main(f) for f in (obj.dataset, obj.model, obj.objective))
    return getattr(obj, "__module__", None) == "__main__"


def run_jobs(jobs: Sequence[tuple[ActSpec, int]], task: str | Task, steps: int | None = None, workers: int = 1,
             data_dir: str | Path | None = None,
             progress: Callable[[RunResult], None] | None = None, device: str | None = None,
             population: int | str = 1) -> list[RunResult]:
    """Train every ``(act, seed)`` job and return the results in job order.

    ``workers > 1`` uses a forkserver (or spawn) process pool, one torch thread per worker; as with any spawned
    pool, a script calling this must guard its entry point with ``if __name__ == "__main__":``. The activation must
    be picklable (a name, an expression string, an ``Expr`` or a module-level class — not a lambda).
    ``progress(result)`` is called in this process as each job finishes. ``device`` overrides the task's; a bare
    ``cuda`` spreads the workers over the visible GPUs. ``population`` > 1 trains up to that many jobs of one seed
    together (:func:`actlab.train.train_population`); each result is the same as alone, only faster; ``"auto"``
    picks it from a short probe of the device (:func:`actlab.train.probe_population`).
    """
    task = get_task(task)
    if task.objective is None:
        resolve_device(device or task.device)  # fail now, in one line, on a device that is not there
    if isinstance(population, str) or population != 1:
        population = resolve_population(population, task, device, data_dir)
    dd = str(data_dir) if data_dir is not None else None
    if population > 1 and task.objective is not None:
        warnings.warn(f"task {task.name!r} trains through its own objective, which cannot train a population: its "
                      f"activations train one at a time", stacklevel=2)
        population = 1
    units = _units(jobs, population)
    results: list[RunResult | None] = [None] * len(jobs)

    def done(idx: list[int], out: list[dict[str, Any]]) -> None:
        for i, d in zip(idx, out, strict=True):
            results[i] = r = RunResult.from_dict(d)
            if progress:
                progress(r)

    if workers <= 1 or len(units) <= 1:
        for idx, acts, seed in units:
            done(idx, _unit((acts, task, seed, steps, dd, device)))
        return results  # type: ignore[return-value]
    for act, _ in jobs:
        try:
            pickle.dumps(act)
        except Exception as e:  # noqa: BLE001 - pickling errors come in several types
            raise TypeError(f"activation {act_label(act)!r} cannot be sent to worker processes ({e}); use "
                            f"workers=1, or a registry name / expression string / module-level class") from None
    sent = _for_workers(task)
    ctx = _context(main=_from_main(sent) or any(_from_main(a) for a, _ in jobs))
    counter = ctx.Value("i", 0)
    with ProcessPoolExecutor(max_workers=min(workers, len(units)), mp_context=ctx, initializer=_worker_init,
                             initargs=(counter, device)) as pool:
        futures = {pool.submit(_unit, (acts, sent, seed, steps, dd, device)): idx for idx, acts, seed in units}
        for fut in as_completed(futures):
            done(futures[fut], fut.result())
    return results  # type: ignore[return-value]


def _units(jobs: Sequence[tuple[ActSpec, int]], population: int) -> list[tuple[list[int], list[ActSpec], int]]:
    """The jobs as units of work: ``(job indices, activations, seed)``, up to ``population`` activations of one
    seed per unit, in job order."""
    by_seed: dict[int, list[int]] = {}
    for i, (_, seed) in enumerate(jobs):
        by_seed.setdefault(int(seed), []).append(i)
    out = []
    for seed, idx in by_seed.items():
        for k in range(0, len(idx), population):
            chunk = idx[k:k + population]
            out.append((chunk, [jobs[i][0] for i in chunk], seed))
    return out


def _unit(args: tuple[list[ActSpec], str | Task, int, int | None, str | None, str | None]) -> list[dict[str, Any]]:
    acts, task, seed, steps, data_dir, device = args
    if len(acts) == 1:
        return [_job((acts[0], task, seed, steps, data_dir, device))]
    # Text trains the protocol's one way (candidate_act), as in _job.
    members = [candidate_act(a) if isinstance(a, str) else a for a in acts]
    return [r.to_dict() for r in train_population(members, task, seed, steps=steps, threads=1, data_dir=data_dir,
                                                  device=device)]


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    out = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not out:
        raise ValueError("need at least one seed")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct, got {out}")
    return out


def _check_metric(metric: str) -> None:
    get_metric(metric)  # a one-line error naming the known metrics (METRICS)


def evaluate(act: ActSpec, task: str | Task = "mnist1d-cnn", seeds: int | Sequence[int] = 5,
             steps: int | None = None, workers: int = 1, metric: str = "test_acc",
             data_dir: str | Path | None = None,
             progress: Callable[[RunResult], None] | None = None, device: str | None = None) -> Evaluation:
    """Train ``act`` on ``task`` once per seed and summarise ``metric`` (median, mean, t interval of the mean).

    Args:
        seeds: a count (seeds 0..n-1) or explicit seeds.
        metric: a :data:`METRICS` name: ``"test_acc"`` for final reports, ``"val_acc"`` for model selection (the
            search's choice), ``"test_loss"``/``"val_loss"``/``"test_bpb"``/``"val_bpb"`` (lower is better).
        workers: parallel processes; the numbers do not depend on it.
    """
    _check_metric(metric)
    resolve_act(act)()  # fail fast, in this process, on an unknown activation
    s = _seed_list(seeds)
    t = get_task(task)
    res = run_jobs([(act, x) for x in s], t, steps, workers, data_dir, progress, device)
    return Evaluation(act_label(act), _name(t), metric, res)


def compare(acts: Sequence[ActSpec], task: str | Task = "mnist1d-cnn", seeds: int | Sequence[int] = 5,
            baseline: ActSpec | None = None, steps: int | None = None, workers: int = 1,
            metric: str = "test_acc", data_dir: str | Path | None = None,
            progress: Callable[[RunResult], None] | None = None, device: str | None = None,
            population: int | str = 1) -> Comparison:
    """Evaluate several activations on the same seeds and pair each with ``baseline`` (added if missing).

    ``baseline`` defaults to the task's (``"relu"``, or ``"tanh"`` for the GRU). Paired statistics per candidate:
    mean difference with its t interval, paired t-test p and its Holm-adjusted value across the candidates
    (see :mod:`actlab.train._stats`). All (activation, seed) jobs share one process pool; ``population`` > 1
    trains up to that many activations of one seed together (the same numbers, faster; see :func:`run_jobs`).
    """
    _check_metric(metric)
    t = get_task(task)
    base = baseline if baseline is not None else t.baseline
    base_label = act_label(base)
    labels = [act_label(a) for a in acts]
    all_acts = list(acts) if base_label in labels else [base, *acts]
    labels = [act_label(a) for a in all_acts]
    if len(set(labels)) != len(labels):
        raise ValueError(f"activations given twice: {labels}")
    for a in all_acts:
        resolve_act(a)()
    s = _seed_list(seeds)
    jobs = [(a, x) for a in all_acts for x in s]
    res = run_jobs(jobs, t, steps, workers, data_dir, progress, device, population)
    order = [base_label] + [lab for lab in labels if lab != base_label]
    evs = {lab: Evaluation(lab, _name(t), metric, res[i * len(s):(i + 1) * len(s)]) for i, lab in enumerate(labels)}
    evs = {lab: evs[lab] for lab in order}
    tests = paired_tests({lab: list(evs[lab].values) for lab in order}, order[1:], [base_label],
                         sign=get_metric(metric).sign, span=get_metric(metric).span)
    paired = {lab: tests[(lab, base_label)] for lab in order[1:]}
    return Comparison(_name(t), metric, base_label, s, evs, paired)


def _name(t: Task) -> str:
    # The name a report resolves again with get_task: the spec of an imported task, else its name.
    return t.source or t.name
