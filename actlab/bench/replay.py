"""Strategy replay: run every search strategy against a tabular benchmark instead of training.

A replay is a real search (the engine's :class:`~actlab.search.Driver`, its study, dedupe and prefilter) whose
evaluator looks the candidate up in the table (:func:`table_eval`), in this process (:class:`InlineExecutor`), so a
trial costs milliseconds. The space is the table's own space restricted to the functions in the table
(:class:`TableSpace`): on a partial table (``--limit``) a proposal outside it is rejected before "training", like a
prefilter rejection, and does not count as an evaluation.

For each strategy and repeat (strategy seed = repeat index) we record the functions in evaluation order; a function
counts as found when it is among the table's top 1 % (top 5 %) by mean validation accuracy over the table's seeds.
A repeat that never finds one within the budget counts as ``budget + 1``.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from actlab.search import (MEMORY, STRATEGIES, Batch, Driver, Executor, Job, Outcome, SearchConfig, SearchSpace,
                           evaluated, make_space, run_batch)

from . import table as tables
from .landscape import val_metric

__all__ = ["TableSpace", "InlineExecutor", "table_eval", "replay", "replay_all", "StrategyReplay", "Replay",
           "plot_replay", "write_json", "markdown", "merge_records", "parse_label", "TARGETS", "VARIANTS"]

_TASK_PREFIX = "table:"
#: Target name -> the fraction of the table's functions (by mean validation accuracy) that counts as found.
TARGETS = {"top1pct": 0.01, "top5pct": 0.05}
_CACHE: dict[tuple[str, str], dict[str, tuple[float, float]]] = {}


def _scores(path: str, metric: str = "val_acc") -> dict[str, tuple[float, float]]:
    """fingerprint -> (mean of ``metric``, mean of its test twin) of a table, loaded once per process."""
    from actlab.train import get_metric

    if (path, metric) not in _CACHE:
        fns = tables.load(path).functions()
        twin = get_metric(metric).test_twin.name
        _CACHE[path, metric] = {fp: (f.score(metric), f.score(twin)) for fp, f in fns.items()}
    return _CACHE[path, metric]


def table_eval(expression: str, task: str, seed: int, steps: int | None,
               report: Callable[[int, float], bool] | None, metric: str = "val_acc") -> dict[str, Any]:
    """An evaluator (``"actlab.bench.replay:table_eval"``) answering from the table named by ``task`` ("table:PATH").

    The value is the function's mean of ``metric`` (a validation metric) over the table's seeds, whatever ``seed``:
    the replay ranks and rewards by the same number.
    """
    from actlab import expr
    from actlab.train import get_metric

    if not task.startswith(_TASK_PREFIX):
        raise ValueError(f"table_eval needs task 'table:PATH', got {task!r}")
    scores = _scores(task[len(_TASK_PREFIX):], metric)
    fp = expr.fingerprint(expression)
    if fp not in scores:
        raise KeyError(f"{expression!r} is not in the table")
    val, test = scores[fp]
    m = get_metric(metric)  # the record's fields, unscaled (bits per byte are nats there)
    return {m.field: val / m.scale, m.test_twin.field: test / m.scale, "diverged": False, "steps_done": steps}


class TableSpace(SearchSpace):
    """``inner`` (the table's space) restricted to the functions whose fingerprints are in the table."""

    def __init__(self, inner: SearchSpace, fingerprints: set[str]) -> None:
        self.inner, self.fps = inner, fingerprints
        self.name, self.slots = f"{inner.name}-table", inner.slots
        self._enum: tuple[list[dict[str, str]], dict[str, int]] | None = None

    def render(self, tokens: Mapping[str, str]) -> str:
        return self.inner.render(tokens)

    def identity(self, text: str) -> str:
        return self.inner.identity(text)

    def complexity(self, tokens: Mapping[str, str]) -> float:
        return self.inner.complexity(tokens)

    def check(self, text: str) -> str | None:
        return self.inner.check(text) or (None if self.identity(text) in self.fps else "not in the table")

    def enumerate(self) -> tuple[list[dict[str, str]], dict[str, int]]:
        if self._enum is None:
            pool, counts = self.inner.enumerate()
            kept = [t for t in pool if self.identity(self.render(t)) in self.fps]
            self._enum = (kept, dict(counts, in_table=len(kept)))
        return self._enum


class InlineExecutor(Executor):
    """Runs each job at submit time, in this process (a table lookup needs no worker process).

    ``slots`` is the number of proposals per round, i.e. the workers a live search would have.
    """

    def __init__(self, slots: int = 1) -> None:
        self.slots = slots
        self._done: list[Outcome] = []

    def submit(self, job: Job | Batch) -> None:
        unit = job if isinstance(job, Batch) else Batch((job,))
        self._done += self._settle(unit, run_batch(unit))

    def _again(self, batch: Batch) -> None:
        self.submit(batch)

    def poll(self, timeout: float) -> list[Outcome]:
        out, self._done = self._done, []
        return out

    def busy(self) -> int:
        return len(self._done)


@dataclass
class StrategyReplay:
    """One strategy's repeats: evaluations to each target (``budget + 1`` when not reached) and regret curves."""

    name: str
    evals: dict[str, list[int]]                   # target -> per repeat
    regret: list[list[float]]                     # per repeat, best-so-far regret after each evaluation
    seconds: float
    trials: int                                   # evaluations over all repeats

    def summary(self, budget: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for target, ev in self.evals.items():
            q25, med, q75 = (float(v) for v in np.percentile(ev, [25, 50, 75]))
            out[f"median_evals_to_{target}"] = med
            out[f"iqr_evals_to_{target}"] = q75 - q25
            out[f"q25_q75_evals_to_{target}"] = [q25, q75]
            out[f"reached_{target}"] = sum(e <= budget for e in ev)
            out[f"evals_to_{target}"] = ev
        curves = np.array(self.regret)
        out["regret_curve_median"] = [round(float(v), 6) for v in np.median(curves, axis=0)]
        out["regret_curve_q25"] = [round(float(v), 6) for v in np.percentile(curves, 25, axis=0)]
        out["regret_curve_q75"] = [round(float(v), 6) for v in np.percentile(curves, 75, axis=0)]
        out["seconds"] = round(self.seconds, 2)
        out["ms_per_trial"] = round(1000 * self.seconds / max(1, self.trials), 2)
        return out


@dataclass
class Replay:
    """Every strategy replayed against one table; :meth:`to_dict` is the ``--json`` shape."""

    table: str
    repeats: int
    budget: int
    functions: int
    thresholds: dict[str, float]
    strategies: dict[str, StrategyReplay] = field(default_factory=dict)
    metric: str = "val_acc"            # what ranks the functions and what the searches optimised

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "repeats": self.repeats, "budget": self.budget, "functions": self.functions,
                "metric": self.metric, "never_reached": f"counted as budget + 1 = {self.budget + 1}",
                f"thresholds_mean_{self.metric}": self.thresholds,
                "strategies": {k: v.summary(self.budget) for k, v in self.strategies.items()}}


def _thresholds(scores: list[float], sign: int = 1) -> dict[str, float]:
    """The value a function needs to be in each target's top fraction (``sign`` −1: lower is better)."""
    ranked = sorted(scores, key=lambda v: -sign * v)
    return {t: ranked[max(1, math.ceil(frac * len(ranked))) - 1] for t, frac in TARGETS.items()}


def replay(path: str, strategy: str, repeat: int, budget: int, space: SearchSpace, batch: int = 1,
           options: dict[str, Any] | None = None, metric: str = "val_acc") -> list[str]:
    """One replayed search (an in-memory study) optimising ``metric``; returns the fingerprints it evaluated, in
    order."""
    cfg = SearchConfig(task=_TASK_PREFIX + str(path), strategy=strategy, budget=budget, seed=repeat, metric=metric,
                       pruner="none", analyse=False, baselines=(), steps=None, workers=batch,
                       evaluator="actlab.bench.replay:table_eval", storage=MEMORY,
                       study=f"replay-{strategy}-{repeat}", extra=dict(options or {}))
    driver = Driver(cfg, space)
    driver.run(InlineExecutor(batch))
    done = sorted(evaluated(driver.study), key=lambda t: t.number)
    return [t.user_attrs["identity"] for t in done]


#: Variants replayed by default besides every strategy with its defaults.
VARIANTS = ("evolution:init=random",)


def replayable() -> list[str]:
    """The strategies a table can replay: every entry of ``STRATEGIES`` whose proposals need no training."""
    return sorted(n for n, cls in STRATEGIES.items() if cls.replayable)


def parse_label(label: str) -> tuple[str, dict[str, Any]]:
    """``"evolution:init=random,population=8"`` -> ``("evolution", {"init": "random", "population": 8})``."""
    name, _, rest = label.partition(":")
    opts: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        if "=" not in part:
            raise ValueError(f"strategy {label!r}: options are key=value, got {part!r}")
        k, v = (x.strip() for x in part.split("=", 1))
        for conv in (int, float):
            try:
                opts[k] = conv(v)
                break
            except ValueError:
                continue
        else:
            opts[k] = v
    if name.strip().lower() not in STRATEGIES:
        raise KeyError(f"unknown strategy {name!r}; known: {sorted(STRATEGIES)}")
    if not STRATEGIES[name.strip().lower()].replayable:
        raise ValueError(f"strategy {name!r} trains networks itself, so a table cannot replay it; "
                         f"replayable: {', '.join(replayable())}")
    return name.strip().lower(), opts


def replay_all(path: str | Path, repeats: int = 10, budget: int = 300, strategies: list[str] | None = None,
               batch: int = 1, runs_dir: str = "runs", space: SearchSpace | None = None,
               progress: Callable[[str, int, list[int]], None] | None = None, metric: str = "val_acc") -> Replay:
    """Replay ``strategies`` ``repeats`` times each against a table.

    Args:
        metric: the validation metric the searches optimise and the targets rank by (``val_loss``: lowest first).
        strategies: labels ``NAME`` or ``NAME:key=value,...`` (strategy options, e.g. ``evolution:init=random``);
            default: every strategy in ``STRATEGIES`` and the :data:`VARIANTS`.
        batch: proposals per round (the number of workers a live search would have).
        space: the table's space (default: the real space of the sidecar's ``space`` units, restricted to the
            table); passing one reuses its caches across calls.
    """
    if repeats < 1 or budget < 1:
        raise ValueError(f"repeats and budget must be >= 1, got repeats={repeats}, budget={budget}")
    # One thread for torch and BLAS: the models in this process (controller, GPs) are tiny, and a thread pool on
    # shared cores makes each of their ops orders of magnitude slower.
    with _one_thread():
        return _replay_all(path, repeats, budget, strategies, batch, runs_dir, space, progress, metric)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    import torch
    from threadpoolctl import threadpool_limits

    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(prev)


def _replay_all(path: str | Path, repeats: int, budget: int, strategies: list[str] | None, batch: int,
                runs_dir: str, space: SearchSpace | None,
                progress: Callable[[str, int, list[int]], None] | None, metric: str = "val_acc") -> Replay:
    m = val_metric(metric)
    tab = tables.load(path)
    fns = tab.functions()
    if not fns:
        raise ValueError(f"{path} has no candidate functions")
    tab.require(m.name)
    scores = {fp: f.score(m.name) for fp, f in fns.items()}
    thresholds = _thresholds(list(scores.values()), m.sign)
    best = max(m.sign * v for v in scores.values())  # oriented: higher is better from here on
    # a failed function (an infinite loss) has the regret of the table's worst finite one, so curves stay finite
    floor = min((m.sign * v for v in scores.values() if math.isfinite(v)), default=best)
    kind = str(tab.protocol.get("space", 1))  # "1", "2" or "gated": the gated space has the 1-unit space's functions
    space = space or TableSpace(make_space(SearchConfig(space=kind, runs_dir=runs_dir)), set(fns))
    names = strategies or [*replayable(), *VARIANTS]
    parsed = {label: parse_label(label) for label in names}  # every label checked before the first replay
    out = Replay(str(path), repeats, budget, len(fns), thresholds, metric=m.name)
    for label, (base, opts) in parsed.items():
        evals: dict[str, list[int]] = {t: [] for t in TARGETS}
        curves, t0, trials = [], time.monotonic(), 0
        for r in range(repeats):
            order = replay(str(path), base, r, budget, space, batch, opts, m.name)
            vals = [m.sign * scores[fp] for fp in order]
            trials += len(vals)
            for t, thr in thresholds.items():
                evals[t].append(next((i + 1 for i, v in enumerate(vals) if v >= m.sign * thr), budget + 1))
            run = np.maximum.accumulate(np.maximum(np.array(vals), floor)) if vals else np.zeros(0)
            curve = np.full(budget, best - (run[-1] if len(run) else 0.0))
            curve[: len(run)] = best - run[:budget]
            curves.append(curve.tolist())
            if progress:
                progress(label, r, [evals[t][-1] for t in TARGETS])
        out.strategies[label] = StrategyReplay(label, evals, curves, time.monotonic() - t0, trials)
    return out


def plot_replay(rep: Replay | dict[str, Any], path: str | Path) -> Path:
    """Median best-so-far regret (IQR band) per strategy, and evaluations to a top-1 % function (from a
    :class:`Replay` or its ``--json`` record)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = rep.to_dict() if isinstance(rep, Replay) else rep
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    x = np.arange(1, d["budget"] + 1)
    for name, s in d["strategies"].items():
        ax1.plot(x, s["regret_curve_median"], label=name)
        ax1.fill_between(x, s["regret_curve_q25"], s["regret_curve_q75"], alpha=0.15)
    ax1.set(xscale="log", xlabel="evaluations", ylabel=f"regret (best mean {d.get('metric', 'val_acc')} − best found)",
            title=f"{Path(d['table']).name}: {d['repeats']} repeats")
    ax1.legend(fontsize=8)
    names = list(d["strategies"])
    ax2.boxplot([d["strategies"][n]["evals_to_top1pct"] for n in names], tick_labels=names)
    ax2.axhline(d["budget"] + 1, ls="--", c="grey", lw=0.8)
    ax2.set(ylabel=f"evaluations to a top-1 % function (budget+1 = {d['budget'] + 1}: not reached)",
            title="evaluations to top-1 %")
    ax2.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


def write_json(rep: Replay, path: str | Path) -> Path:
    import json

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(rep.to_dict(), indent=1) + "\n")
    return p



def markdown(rep: Replay | dict[str, Any], reference: str = "random") -> str:
    """The replay as a Markdown table (RESULTS.md), from a :class:`Replay` or its ``--json`` record.

    Medians of evaluations to a top-1 % / top-5 % function with 95 % bootstrap intervals over the repeats, and each
    strategy's median relative to ``reference``'s with its interval (below 1: sooner). A repeat that never reaches
    the target counts as budget + 1, so a median at budget + 1 means "not reached in most repeats".
    """
    from actlab.train import bootstrap_median, bootstrap_ratio

    d = rep.to_dict() if isinstance(rep, Replay) else rep
    strategies = d["strategies"]
    ref = strategies.get(reference)
    head = (f"| strategy | evals to top-1 % [95% CI] | × {reference} [95% CI] | reached | evals to top-5 % [95% CI] "
            f"| reached | median regret at budget | ms/trial |\n|---|---|---|---|---|---|---|---|")
    lines = [head]
    for name, s in strategies.items():
        cells = []
        for t in TARGETS:
            m, lo, hi = bootstrap_median(s[f"evals_to_{t}"])
            cells.append(f"{m:.3g} [{lo:.3g}, {hi:.3g}]")
        if ref is None:
            ratio = "—"
        elif name == reference:
            ratio = "1 (reference)"
        else:
            r, lo, hi = bootstrap_ratio(s["evals_to_top1pct"], ref["evals_to_top1pct"])
            ratio = f"{r:.2f} [{lo:.2f}, {hi:.2f}]"
        lines.append(f"| {name} | {cells[0]} | {ratio} | {s['reached_top1pct']}/{d['repeats']} | {cells[1]} | "
                     f"{s['reached_top5pct']}/{d['repeats']} | {s['regret_curve_median'][-1]:.4f} | "
                     f"{s['ms_per_trial']:g} |")
    return "\n".join(lines)


def merge_records(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One ``--json`` record from several replays of the same table, repeats and budget (e.g. strategies replayed
    in parallel processes); a one-line error if they differ."""
    if not records:
        raise ValueError("no replay records to merge")
    metric = records[0].get("metric", "val_acc")
    keys = ("table", "repeats", "budget", "functions", "metric", f"thresholds_mean_{metric}")
    first = records[0]
    for r in records[1:]:
        diff = [k for k in keys if r.get(k) != first.get(k)]
        if diff:
            raise ValueError(f"replay records differ in {', '.join(diff)}; only replays of one protocol merge")
    out = dict(first, strategies={})
    for r in records:
        dup = set(out["strategies"]) & set(r["strategies"])
        if dup:
            raise ValueError(f"strategies replayed twice: {', '.join(sorted(dup))}")
        out["strategies"].update(r["strategies"])
    return out
