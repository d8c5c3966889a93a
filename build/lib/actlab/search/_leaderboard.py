"""The hall of fame: the top candidates and the baselines under one protocol, read back from the studies.

Rows are ranked by mean *test* accuracy over the protocol's seeds: the search selected on validation accuracy, so
ranking on the held-out test split keeps the selection from flattering the winners.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from .._tabular import Tabular
from ._final import final_name, top_trials
from ._study import evaluated, open_study

__all__ = ["Row", "Board", "leaderboard", "mean_ci"]


@dataclass
class Row:
    """One leaderboard entry (a found function or a baseline)."""

    name: str                      # expression text, or the baseline's registry name
    kind: str                      # "found" or "baseline"
    trial: int | None = None       # the search trial that found it
    canonical: str | None = None
    val: list[float] = field(default_factory=list)    # per seed, main task
    test: list[float] = field(default_factory=list)
    check: list[float] = field(default_factory=list)  # per seed, generalization task (val accuracy)
    cost: float | None = None      # fused-kernel forward+backward ns/element
    smoothness: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    rank: int = 0
    beats: int = 0                 # baselines with a lower mean test accuracy

    @property
    def val_median(self) -> float:
        return statistics.median(self.val) if self.val else math.nan

    @property
    def test_ci(self) -> tuple[float, float]:
        return mean_ci(self.test)

    @property
    def check_mean(self) -> float:
        return statistics.fmean(self.check) if self.check else math.nan

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(val_median=self.val_median, test_mean=self.test_ci[0], test_ci=self.test_ci[1],
                 check_mean=self.check_mean)
        return d


@dataclass
class Board(Tabular):
    """Everything ``actlab show`` prints: leaderboard rows, the Pareto front and the study's bookkeeping."""

    study: str
    config: dict[str, Any]
    rows: list[Row]
    pareto: list[Row]
    counts: dict[str, int]          # trials by outcome
    baselines_done: bool

    def _table_rows(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.rows]  # for _repr_html_ and to_pandas()


def mean_ci(xs: list[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval (nan with fewer than 2 values)."""
    if not xs:
        return math.nan, math.nan
    m = statistics.fmean(xs)
    if len(xs) < 2:
        return m, math.nan
    from scipy.stats import t

    return m, float(t.ppf(0.5 + level / 2, len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs)))


def _smooth(props: dict[str, Any]) -> str | None:
    for k, v in props.items():
        if "smooth" in k.lower():
            return str(v)
    return None


def _found_row(t: FrozenTrial) -> Row:
    props = t.user_attrs.get("properties") or {}
    row = Row(t.user_attrs["expression"], "found", t.number, t.user_attrs.get("canonical"),
              cost=t.user_attrs.get("cost"), smoothness=_smooth(props), properties=props)
    for s in t.user_attrs.get("per_seed", []):
        if s.get("val_acc") is not None:
            row.val.append(float(s["val_acc"]))
        if s.get("test_acc") is not None:
            row.test.append(float(s["test_acc"]))
    return row


def leaderboard(study: optuna.Study | str, storage: str | None = None, top_k: int | None = None) -> Board:
    """Build the board from a study (object, or name plus storage URL)."""
    if isinstance(study, str):
        if storage is None:
            raise ValueError("leaderboard(name) needs the storage URL")
        study = open_study(study, storage, [], create=False)
    cfg = study.user_attrs.get("config", {})
    k = top_k or int(cfg.get("top_k", 5))
    task = cfg.get("task")
    rows = [_found_row(t) for t in top_trials(study, k)]
    by_name = {r.name: r for r in rows}
    final = _final_trials(study)
    for b in cfg.get("baselines", []):
        by_name.setdefault(b, Row(b, "baseline"))
    for t in final:
        a = t.user_attrs
        row = by_name.get(a.get("act"))
        if row is None:
            continue
        res = a.get("result", {})
        if a.get("role") == "cost":
            row.cost = a.get("cost")
            if a.get("properties"):
                row.properties = a["properties"]
                row.smoothness = _smooth(row.properties)
        elif a.get("task") == task and a.get("role") in ("top", "baseline"):
            if res.get("val_acc") is not None:
                row.val.append(float(res["val_acc"]))
            if res.get("test_acc") is not None:
                row.test.append(float(res["test_acc"]))
        elif a.get("role") == "check" and res.get("val_acc") is not None:
            row.check.append(float(res["val_acc"]))
    base = [by_name[b] for b in cfg.get("baselines", [])]
    all_rows = rows + base

    def key(r: Row) -> float:
        m = r.test_ci[0]
        return -m if math.isfinite(m) else math.inf

    all_rows.sort(key=key)
    for i, r in enumerate(all_rows, 1):
        r.rank = i
        r.beats = sum(1 for b in base if b is not r and math.isfinite(b.test_ci[0])
                      and math.isfinite(r.test_ci[0]) and r.test_ci[0] > b.test_ci[0])
    pareto: list[Row] = []
    if len(study.directions) > 1:
        ids = {t.number for t in study.best_trials}
        pareto = sorted((_found_row(t) for t in evaluated(study) if t.number in ids),
                        key=lambda r: -r.val_median)
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        kind = ("duplicate" if "duplicate_of" in a else "skipped" if "skipped" in a
                else "requeued" if a.get("requeued") else t.state.name.lower())
        counts[kind] = counts.get(kind, 0) + 1
    done = all(len(r.test) >= int(cfg.get("reeval_seeds", 1)) for r in base) if base else True
    return Board(study.study_name, cfg, all_rows, pareto, counts, done)


def _final_trials(study: optuna.Study) -> list[FrozenTrial]:
    storage = study._storage
    try:
        sid = storage.get_study_id_from_name(final_name(study.study_name))
    except KeyError:
        return []
    return [t for t in storage.get_all_trials(sid, deepcopy=False) if t.state == TrialState.COMPLETE]
