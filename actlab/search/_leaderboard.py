"""The hall of fame: the top candidates and the baselines on fresh seeds, with corrected paired tests.

Rows are ranked by mean *test* accuracy over the fresh seeds. Each found row is paired against every baseline on
those seeds (a paired t-test, Holm-corrected over all found × baseline pairs of the task; see
:mod:`actlab.train._stats`, the same module as ``actlab bench accuracy``). A found function *beats* a baseline only
when the adjusted p is below α and Δ > 0; it *holds* on the check task when it also beats there at least one of the
baselines it beats on the main task. :meth:`Board.to_json` is what ``actlab show --json`` writes.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from .._tabular import Tabular
from ..train import ALPHA, CORRECTION, TEST, Metric, PairedTest, get_metric, mean_ci, paired_tests
from ._final import final_name, fresh_seeds, has_final, top_trials
from ._records import Attr, Outcomes, SeedResult
from ._study import evaluated, open_study

__all__ = ["Row", "Check", "Board", "leaderboard", "load_board", "open_stored", "mean_ci"]


@dataclass
class Check:
    """A row on the generalization check task: fresh-seed test accuracy and its paired tests."""

    task: str
    test: dict[int, float] = field(default_factory=dict)     # seed -> test accuracy
    vs: dict[str, PairedTest] = field(default_factory=dict)  # found rows only
    beats: list[str] = field(default_factory=list)
    failed: int = 0                 # fresh-seed trainings that failed (diverged, timed out): not in the test

    @property
    def test_ci(self) -> tuple[float, float]:
        return mean_ci(list(self.test.values()))


@dataclass
class Row:
    """One leaderboard entry (a found function or a baseline)."""

    name: str                      # expression text, or the baseline's registry name
    kind: str                      # "found" or "baseline"
    trial: int | None = None       # the search trial that found it
    canonical: str | None = None
    search_score: float | None = None   # the search's value: median val accuracy over its search (+racing) seeds
    search_seeds: int = 0
    val: dict[int, float] = field(default_factory=dict)   # fresh seed -> val accuracy, main task
    test: dict[int, float] = field(default_factory=dict)  # fresh seed -> test accuracy, main task
    cost: float | None = None      # fused-kernel forward+backward ns/element (kernel_ns_per_element)
    adv_score: float | None = None  # the search's median adversarial val accuracy (robustness objective)
    adv: dict[int, float] = field(default_factory=dict)   # fresh seed -> adversarial val accuracy, main task
    smoothness: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    rank: int = 0
    vs: dict[str, PairedTest] = field(default_factory=dict)  # found rows: baseline -> paired test
    beats: list[str] = field(default_factory=list)
    check: Check | None = None
    failed: int = 0                # fresh-seed trainings on the main task that failed (diverged, timed out)
    same_as: str | None = None     # found rows: the baseline computing the same function at β = 1 (expr.same_as)

    @property
    def seeds(self) -> list[int]:
        return sorted(self.test)

    @property
    def test_ci(self) -> tuple[float, float]:
        """Mean test accuracy over the fresh seeds and the half-width of its 95 % t interval."""
        return mean_ci(list(self.test.values()))

    @property
    def val_median(self) -> float:
        """Median validation accuracy on the fresh seeds; the search score for a row without them (Pareto rows)."""
        if self.val:
            return statistics.median(self.val.values())
        return self.search_score if self.search_score is not None else math.nan

    @property
    def fresh_adv(self) -> float:
        """Mean adversarial validation accuracy on the fresh seeds (nan without the robustness objective)."""
        return statistics.fmean(self.adv.values()) if self.adv else math.nan

    @property
    def fresh_val(self) -> float:
        return statistics.fmean(self.val.values()) if self.val else math.nan

    @property
    def gap(self) -> float:
        """Winner's-curse gap: search score − mean validation accuracy on fresh seeds (nan for baselines)."""
        return self.search_score - self.fresh_val if self.search_score is not None else math.nan

    @property
    def holds(self) -> bool | None:
        """Whether a discovery that beats baselines also beats one of them on the check task (None: no check)."""
        if self.kind != "found" or self.check is None:
            return None
        if not self.check.test:  # every check training failed (e.g. diverged): it does not hold
            return False if self.check.failed else None
        return bool(set(self.beats) & set(self.check.beats))

    def to_json(self, metric: Metric | None = None) -> dict[str, Any]:
        """This row in the shape of ``actlab show --json`` (``metric``: the test metric, whose range clips the
        intervals)."""
        robust = {"adv_score": _num(self.adv_score), "adv_acc": _num(self.fresh_adv)} if (
            self.adv_score is not None or self.adv) else {}  # only robustness studies have these keys
        return {"expression": self.name, "kind": self.kind, "rank": self.rank, "same_as": self.same_as,
                "seeds": self.seeds,
                "search_score": _num(self.search_score), "test_acc": _acc(self.test_ci, metric),
                "vs": {b: _vs(t) for b, t in self.vs.items()}, "beats": list(self.beats), "holds": self.holds,
                "cost": _num(self.cost),
                "check": None if self.check is None else {  # a failed training has no value: mean null
                    "task": self.check.task, "test_acc": _acc(self.check.test_ci, metric),
                    "vs": {b: _vs(t) for b, t in self.check.vs.items()}}, **robust}


@dataclass
class Board(Tabular):
    """Everything ``actlab show`` prints: leaderboard rows, the Pareto front and the study's bookkeeping."""

    study: str
    config: dict[str, Any]
    rows: list[Row]
    pareto: list[Row]
    counts: dict[str, int]          # trials by outcome
    baselines_done: bool            # every row has all its fresh seeds (the final stage finished)
    has_final: bool = True          # the final stage has started at all
    alpha: float = ALPHA

    @property
    def protocol(self) -> dict[str, Any]:
        c = self.config
        searched = int(c.get("seeds", 1)) + int(c.get("race_seeds", 0))
        return {"steps": c.get("steps"), "search_seeds": list(range(searched)),
                "reeval_seeds": fresh_seeds(int(c.get("reeval_seeds", 5))), "test": TEST, "correction": CORRECTION,
                "alpha": self.alpha, "check_task": c.get("check_task")}

    def finish_command(self) -> str:
        """The command that runs (or completes) the final stage of this study without searching further."""
        c = self.config
        opts = [("task", c.get("task")), ("space", c.get("space")), ("seeds", c.get("seeds")),
                ("steps", c.get("steps")), ("objective", c.get("objective")), ("metric", c.get("metric")),
                ("strategy", c.get("strategy")),
                ("study", self.study), ("top-k", c.get("top_k")), ("reeval-seeds", c.get("reeval_seeds")),
                ("check-task", c.get("check_task") or "none"), ("storage", c.get("storage")),
                ("attack", c.get("attack")), ("eps", c.get("eps")), ("norm", c.get("norm"))]
        args = " ".join(f"--{k} {_quote(v)}" for k, v in opts if v is not None)
        return f"actlab search {args} --budget 1"

    def to_json(self) -> dict[str, Any]:
        """The machine-readable board (``actlab show STUDY --json FILE``)."""
        return {"study": self.study, "task": self.config.get("task"), "protocol": self.protocol,
                "rows": [r.to_json(board_metrics(self.config)[1]) for r in self.rows]}

    def _table_rows(self) -> list[dict[str, Any]]:
        """One flat row of numbers per function (for ``to_pandas()``): the compact board's columns, unformatted."""
        from .board_view import best_baseline

        best = best_baseline(self)
        out = []
        for r in self.rows:
            m, half = r.test_ci
            t = r.vs.get(best.name) if best is not None else None
            out.append({"rank": r.rank, "function": r.name, "kind": r.kind, "same_as": r.same_as, "test_mean": m,
                        "test_ci_half": half, "seeds": len(r.test), "failed": r.failed,
                        "best_baseline": best.name if best else None, "delta_vs_best": t.delta if t else None,
                        "p_adjusted_vs_best": t.p_adjusted if t else None, "beats": ", ".join(r.beats),
                        "holds": r.holds, "cost_ns_per_element": r.cost, "search_score": r.search_score})
        return out

    def _repr_html_(self) -> str:
        """The board as the terminal shows it (one row per function, the notes under it) for notebooks."""
        from .board_view import board_html

        return board_html(self)


def _quote(v: Any) -> str:
    s = str(v)
    return f"'{s}'" if any(ch in s for ch in " ,()*;") else s


def _num(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _acc(m_ci: tuple[float, float], metric: Metric | None = None) -> dict[str, Any]:
    m, half = m_ci
    lo, hi = metric.clip(m - half, m + half) if metric is not None else (m - half, m + half)
    ci = [_num(lo), _num(hi)] if math.isfinite(half) else None
    return {"mean": _num(m), "ci": ci}


def _vs(t: PairedTest) -> dict[str, Any]:
    return {"delta": _num(t.delta), "ci": [_num(t.ci_low), _num(t.ci_high)], "p": _num(t.p),
            "p_adjusted": _num(t.p_adjusted)}


def _smooth(props: dict[str, Any]) -> str | None:
    for k, v in props.items():
        if "smooth" in k.lower():
            return str(v)
    return None


def _found_row(t: FrozenTrial) -> Row:
    a = t.user_attrs
    props = a.get(Attr.PROPERTIES) or {}
    return Row(a[Attr.EXPRESSION], "found", t.number, a.get(Attr.CANONICAL),
               search_score=float(t.values[0]) if t.values else None, search_seeds=len(a.get(Attr.PER_SEED, [])),
               cost=a.get(Attr.COST), adv_score=a.get(Attr.ADV_ACC), smoothness=_smooth(props), properties=props)


def leaderboard(study: optuna.Study | str, storage: str | None = None, top_k: int | None = None,
                alpha: float = ALPHA) -> Board:
    """Build the board from a study (object, or name plus storage URL)."""
    if isinstance(study, str):
        if storage is None:
            raise ValueError("leaderboard(name) needs the storage URL")
        study = open_study(study, storage, [], create=False)
    cfg = study.user_attrs.get(Attr.CONFIG, {})
    k = top_k or int(cfg.get("top_k", 5))
    task = cfg.get("task")
    val_m, test_m = board_metrics(cfg)
    sign = val_m.sign
    rows = [_found_row(t) for t in top_trials(study, k)]
    by_name = {r.name: r for r in rows}
    for b in cfg.get("baselines", []):
        by_name.setdefault(b, Row(b, "baseline"))
    for t in _final_trials(study):
        a = t.user_attrs
        row = by_name.get(str(a.get(Attr.ACT)))
        if row is None or a.get(Attr.RESULT) is None:
            continue
        res = SeedResult.from_attr(a[Attr.RESULT])
        seed = int(a.get(Attr.SEED, res.seed))
        if a.get(Attr.COST) is not None:
            row.cost = a[Attr.COST]
        if a.get(Attr.PROPERTIES):
            row.properties = a[Attr.PROPERTIES]
            row.smoothness = _smooth(row.properties)
        if a.get(Attr.ROLE) in ("top", "baseline") and a.get(Attr.TASK) == task:
            if getattr(res, val_m.field) is not None:
                row.val[seed] = val_m.value(res)
            if getattr(res, test_m.field) is not None:
                row.test[seed] = test_m.value(res)
            if res.adv_acc is not None:
                row.adv[seed] = float(res.adv_acc)
        elif a.get(Attr.ROLE) == "check" and getattr(res, test_m.field) is not None:
            row.check = row.check or Check(str(a.get(Attr.TASK)))
            row.check.test[seed] = test_m.value(res)
    for t in _final_trials(study, TrialState.FAIL):  # failures are shown, never silently dropped
        a = t.user_attrs
        row = by_name.get(str(a.get(Attr.ACT)))
        if row is None:
            continue
        if a.get(Attr.ROLE) == "check":
            row.check = row.check or Check(str(a.get(Attr.TASK)))
            row.check.failed += 1
        elif a.get(Attr.TASK) == task:
            row.failed += 1
    base = [by_name[b] for b in cfg.get("baselines", [])]
    _mark_baseline_twins(rows, [b.name for b in base], gated=cfg.get("space") == "gated")
    _test_family({r.name: r.test for r in rows}, {b.name: b.test for b in base}, rows, alpha, check=False, sign=sign,
                span=test_m.span)
    checked = [r for r in rows if r.check is not None]
    _test_family({r.name: r.check.test for r in checked if r.check}, {b.name: b.check.test for b in base if b.check},
                 checked, alpha, check=True, sign=sign, span=test_m.span)
    all_rows = rows + base

    def key(r: Row) -> float:  # best first in the metric's direction
        m = r.test_ci[0]
        return -sign * m if math.isfinite(m) else math.inf

    all_rows.sort(key=key)
    for i, r in enumerate(all_rows, 1):
        r.rank = i
    pareto: list[Row] = []
    if len(study.directions) > 1:
        ids = {t.number for t in study.best_trials}
        pareto = sorted((_found_row(t) for t in evaluated(study) if t.number in ids),
                        key=lambda r: -sign * (r.search_score or 0.0))
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        kind = ("duplicate" if a.get(Attr.OUTCOME) == Outcomes.DUPLICATE or Attr.DUPLICATE_OF in a
                else "skipped" if Attr.SKIPPED in a else "requeued" if a.get(Attr.REQUEUED)
                else t.state.name.lower())
        counts[kind] = counts.get(kind, 0) + 1
    n = int(cfg.get("reeval_seeds", 1))
    done = all(len(r.test) + r.failed >= n for r in all_rows) if all_rows else True
    return Board(study.study_name, cfg, all_rows, pareto, counts, done, has_final(study), alpha)


def open_stored(study: str, storage: str | None = None, runs_dir: str = "runs") -> optuna.Study:
    """The existing study ``study`` in ``storage`` (default ``runs_dir/<study>.db``), opened to read: nothing is
    created, and a missing database is a one-line error naming the studies that exist."""
    from ._study import view_url

    return open_study(study, view_url(study, storage, runs_dir), [], create=False)


def load_board(study: str, storage: str | None = None, runs_dir: str = "runs") -> Board:
    """The board of study ``study`` in ``storage`` (default ``runs_dir/<study>.db``), as ``actlab show`` reads it."""
    return leaderboard(open_stored(study, storage, runs_dir))


def board_metrics(config: dict[str, Any]) -> tuple[Metric, Metric]:
    """The board's (validation, test) metrics: the study's ``metric`` (default val_acc) and its test split twin."""
    val = get_metric(config.get("metric") or "val_acc")
    return val, get_metric("test" + val.name[3:])


def _mark_baseline_twins(rows: list[Row], baselines: list[str], gated: bool) -> None:
    """Mark each found row that is one of the baselines written another way (``sigmoid(x) * x`` is swish)."""
    from actlab.expr import same_as

    for r in rows:
        try:
            r.same_as = same_as(r.name, baselines, gated=gated)
        except ValueError:  # not an expression of the language (a custom evaluator's name): nothing to compare
            r.same_as = None


def _test_family(found: dict[str, dict[int, float]], base: dict[str, dict[int, float]], rows: list[Row],
                 alpha: float, check: bool, sign: int = 1, span: float = math.inf) -> None:
    """Paired tests of every found × baseline pair of one task, Holm-corrected together, stored on the rows
    (``sign``: the metric's direction)."""
    if not found or not base:
        return
    tests = paired_tests({**base, **found}, list(found), list(base), sign=sign, span=span)
    for r in rows:
        vs = {b: tests[(r.name, b)] for b in base if (r.name, b) in tests}
        beats = [b for b, t in vs.items() if t.beats(alpha)]
        if check and r.check is not None:
            r.check.vs, r.check.beats = vs, beats
        elif not check:
            r.vs, r.beats = vs, beats


def _final_trials(study: optuna.Study, state: TrialState = TrialState.COMPLETE) -> list[FrozenTrial]:
    storage = study._storage
    try:
        sid = storage.get_study_id_from_name(final_name(study.study_name))
    except KeyError:
        return []
    return [t for t in storage.get_all_trials(sid, deepcopy=False)
            if t.state == state and not t.user_attrs.get(Attr.REQUEUED)]
