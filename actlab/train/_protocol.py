"""The multi-seed protocol: run (activation, seed) jobs, in parallel processes if asked, and summarise them fairly.

Every job is one :func:`train_one` on one thread with its own seed, and the jobs share nothing, so results do not
depend on the number of workers or the order in which they finish.
"""

from __future__ import annotations

import multiprocessing as mp
import pickle
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..models import ActSpec, act_label, candidate_act, resolve_act
from ._stats import bootstrap_ci, paired_bootstrap_ci, wilcoxon_min_p, wilcoxon_p
from ._tasks import Task, get_task
from ._trainer import RunResult, train_one

__all__ = ["Evaluation", "Paired", "Comparison", "evaluate", "compare", "run_jobs"]

METRICS = ("test_acc", "val_acc")


@dataclass
class Evaluation:
    """One activation over seeds: per-seed results and summary statistics of ``metric``.

    ``ci_low``/``ci_high`` is the 95 % percentile-bootstrap interval of the median over seeds (see
    :func:`actlab.train.bootstrap_ci`); ``mean_ci_*`` the same for the mean.
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
    mean_ci_low: float = 0.0
    mean_ci_high: float = 0.0
    n_diverged: int = 0
    time_per_run: float = 0.0

    def __post_init__(self) -> None:
        v = self.values
        self.median, self.mean = float(np.median(v)), float(np.mean(v))
        self.std = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
        self.ci_low, self.ci_high = bootstrap_ci(v, np.median)
        self.mean_ci_low, self.mean_ci_high = bootstrap_ci(v, np.mean)
        self.n_diverged = sum(r.diverged for r in self.results)
        self.time_per_run = float(np.mean([r.wall_time for r in self.results]))

    @property
    def values(self) -> np.ndarray:
        """The metric per seed, in seed order; a pruned run (no test accuracy) counts at its validation accuracy."""
        return np.array([_metric(r, self.metric) for r in self.results], dtype=np.float64)

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.results]

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "results"}
        d["results"] = [r.to_dict() for r in self.results]
        return d


@dataclass
class Paired:
    """A candidate against the baseline over the same seeds (common random numbers make these pairs).

    ``p_value`` is the two-sided Wilcoxon signed-rank test; ``p_min`` the smallest p it could give with these pairs
    (0.0625 for 5 seeds: it cannot reach 0.05). ``ci_low``/``ci_high`` bound the mean difference (paired
    bootstrap, 95 %).
    """

    act: str
    baseline: str
    n_pairs: int
    mean_diff: float
    median_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    p_min: float
    wins: int
    ties: int
    losses: int


@dataclass
class Comparison:
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
                            diff=p.mean_diff if p else None, diff_ci_low=p.ci_low if p else None,
                            diff_ci_high=p.ci_high if p else None, p_value=p.p_value if p else None,
                            p_min=p.p_min if p else None, wins=p.wins if p else None,
                            losses=p.losses if p else None, diverged=ev.n_diverged,
                            time_per_run=ev.time_per_run))
        return out

    def to_dict(self) -> dict[str, Any]:
        return dict(task=self.task, metric=self.metric, baseline=self.baseline, seeds=self.seeds,
                    evaluations={k: v.to_dict() for k, v in self.evaluations.items()},
                    paired={k: asdict(v) for k, v in self.paired.items()})


def _metric(r: RunResult, metric: str) -> float:
    if metric == "test_acc" and r.test_acc is not None:
        return r.test_acc
    return r.val_acc


def _worker_init() -> None:
    # One intra-op thread per worker: N workers use N cores, and numba follows torch (kernels.sync_threads).
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def _context() -> mp.context.BaseContext:
    # forkserver: workers start clean (no inherited torch threads, unlike fork) but are forked from a server that
    # has imported torch and actlab once, so a pool starts in about a second instead of re-importing per worker.
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["actlab.train", "actlab.data", "actlab.activations"])
    return ctx


def _job(args: tuple[Any, str | Task, int, int | None, str | None]) -> dict[str, Any]:
    act, task, seed, steps, data_dir = args
    # Text (a name or an expression) trains the protocol's one way, as in the search and the tabular benchmarks.
    a = candidate_act(act) if isinstance(act, str) else act
    return train_one(a, task, seed, steps=steps, threads=1, data_dir=data_dir).to_dict()


def run_jobs(jobs: Sequence[tuple[ActSpec, int]], task: str | Task, steps: int | None = None, workers: int = 1,
             data_dir: str | Path | None = None,
             progress: Callable[[RunResult], None] | None = None) -> list[RunResult]:
    """Train every ``(act, seed)`` job and return the results in job order.

    ``workers > 1`` uses a forkserver (or spawn) process pool, one torch thread per worker; as with any spawned
    pool, a script calling this must guard its entry point with ``if __name__ == "__main__":``. The activation must
    be picklable (a name, an expression string, an ``Expr`` or a module-level class — not a lambda).
    ``progress(result)`` is called in this process as each job finishes.
    """
    task = get_task(task)
    dd = str(data_dir) if data_dir is not None else None
    args = [(act, task, int(seed), steps, dd) for act, seed in jobs]
    results: list[RunResult | None] = [None] * len(args)
    if workers <= 1 or len(args) <= 1:
        for i, a in enumerate(args):
            results[i] = RunResult.from_dict(_job(a))
            if progress:
                progress(results[i])
        return results  # type: ignore[return-value]
    for act, _ in jobs:
        try:
            pickle.dumps(act)
        except Exception as e:  # noqa: BLE001 - pickling errors come in several types
            raise TypeError(f"activation {act_label(act)!r} cannot be sent to worker processes ({e}); use "
                            f"workers=1, or a registry name / expression string / module-level class") from None
    ctx = _context()
    with ProcessPoolExecutor(max_workers=min(workers, len(args)), mp_context=ctx, initializer=_worker_init) as pool:
        futures = {pool.submit(_job, a): i for i, a in enumerate(args)}
        for fut in as_completed(futures):
            i = futures[fut]
            results[i] = RunResult.from_dict(fut.result())
            if progress:
                progress(results[i])
    return results  # type: ignore[return-value]


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    out = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not out:
        raise ValueError("need at least one seed")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct, got {out}")
    return out


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")


def evaluate(act: ActSpec, task: str | Task = "mnist1d-cnn", seeds: int | Sequence[int] = 5,
             steps: int | None = None, workers: int = 1, metric: str = "test_acc",
             data_dir: str | Path | None = None,
             progress: Callable[[RunResult], None] | None = None) -> Evaluation:
    """Train ``act`` on ``task`` once per seed and summarise ``metric`` (median, mean, bootstrap CIs).

    Args:
        seeds: a count (seeds 0..n-1) or explicit seeds.
        metric: ``"test_acc"`` for final reports, ``"val_acc"`` for model selection (the search's choice).
        workers: parallel processes; the numbers do not depend on it.
    """
    _check_metric(metric)
    resolve_act(act)()  # fail fast, in this process, on an unknown activation
    s = _seed_list(seeds)
    t = get_task(task)
    res = run_jobs([(act, x) for x in s], t, steps, workers, data_dir, progress)
    return Evaluation(act_label(act), t.name, metric, res)


def compare(acts: Sequence[ActSpec], task: str | Task = "mnist1d-cnn", seeds: int | Sequence[int] = 5,
            baseline: ActSpec | None = None, steps: int | None = None, workers: int = 1,
            metric: str = "test_acc", data_dir: str | Path | None = None,
            progress: Callable[[RunResult], None] | None = None) -> Comparison:
    """Evaluate several activations on the same seeds and pair each with ``baseline`` (added if missing).

    ``baseline`` defaults to the task's (``"relu"``, or ``"tanh"`` for the GRU). Paired statistics per candidate:
    mean/median difference, paired-bootstrap CI, Wilcoxon signed-rank p and the smallest p attainable with that
    many pairs. All (activation, seed) jobs share one process pool.
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
    res = run_jobs(jobs, t, steps, workers, data_dir, progress)
    order = [base_label] + [lab for lab in labels if lab != base_label]
    evs = {lab: Evaluation(lab, t.name, metric, res[i * len(s):(i + 1) * len(s)]) for i, lab in enumerate(labels)}
    evs = {lab: evs[lab] for lab in order}
    b = evs[base_label].values
    paired = {}
    for lab in order[1:]:
        d = evs[lab].values - b
        lo, hi = paired_bootstrap_ci(d)
        paired[lab] = Paired(lab, base_label, len(d), float(np.mean(d)), float(np.median(d)), lo, hi,
                             wilcoxon_p(d), wilcoxon_min_p(int(np.count_nonzero(d))),
                             int((d > 0).sum()), int((d == 0).sum()), int((d < 0).sum()))
    return Comparison(t.name, metric, base_label, s, evs, paired)
