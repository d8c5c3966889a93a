"""One driver's handle on a study that other drivers may share: the storage operations a driver needs (heartbeat,
claims, requeues, stale-trial recovery) and a view of the finished trials that is kept current as trials finish.

The view is why this object exists. A driver needs, for every job it starts, the pruner's history (the finished
trials' curves), and for every result, whether it enters the running top-k. Rescanning the study for each was
quadratic in the number of trials. Here each finished trial is added once: this driver's own as it tells them
(:meth:`SharedStudy.tell`), other drivers' at the next :meth:`SharedStudy.sync`, the one read of the study per round
of proposals.
"""

from __future__ import annotations

import bisect
import threading
from typing import Any, Iterable

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from ._records import Attr
from ._study import claim, direction_sign, heartbeat, is_evaluated, recover_stale, requeue_all, scalar

__all__ = ["SharedStudy", "Heartbeat", "Curve", "HEARTBEAT_SECONDS"]

#: Seconds between a driver's heartbeats (the search's and the final stage's).
HEARTBEAT_SECONDS = 30.0

#: One finished trial as the pruner sees it: (number, state name, intermediate values, value, its rung attrs).
Curve = tuple[int, str, dict[int, float], float | None, dict[str, Any]]


class SharedStudy:
    """Driver ``me``'s handle on ``study``.

    Attributes:
        study: the Optuna study (strategies read their history from it, as Optuna's samplers do).
        sign: +1 when the first objective is maximised, −1 when minimised.
        evaluated: how many trials of the view were trained (:func:`._study.is_evaluated`).
        best: the best evaluated trial of the view, or None.
    """

    def __init__(self, study: optuna.Study, me: str) -> None:
        self.study, self.me = study, me
        self.sign = direction_sign(study)
        self.evaluated = 0
        self.best: FrozenTrial | None = None
        self._known: set[int] = set()   # finished trials already in the view
        self._ranked: list[float] = []  # sign × value of every evaluated COMPLETE trial, ascending
        self._curves: list[Curve] = []
        self.sync()

    # ---- the view

    def sync(self) -> list[FrozenTrial]:
        """Read the study once; every trial finished since the last read (another driver's too) joins the view.
        Returns all trials."""
        trials = self.study.get_trials(deepcopy=False)
        for t in trials:
            if t.number not in self._known and t.state.is_finished():
                self._add(t)
        return trials

    def tell(self, trial: Trial, values: list[float] | None = None, state: TrialState | None = None) -> None:
        """Finish ``trial`` (with ``values``, or in ``state``) and add it to the view."""
        self.study.tell(trial, values, state=state)
        self._add(self.study._storage.get_trial(trial._trial_id))

    def _add(self, t: FrozenTrial) -> None:
        self._known.add(t.number)
        if not is_evaluated(t):
            return
        self.evaluated += 1
        v = scalar(t)
        if v is not None:
            bisect.insort(self._ranked, self.sign * v)
            if self.best is None or self.sign * v > self.sign * float(self.best.values[0]):
                self.best = t
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and t.intermediate_values:
            self._curves.append((t.number, t.state.name, dict(t.intermediate_values), t.value if t.values else None,
                                 {k: v for k, v in t.system_attrs.items() if k.startswith("completed_rung")}))

    def in_top_k(self, value: float, k: int) -> bool:
        """Whether ``value`` would be among the ``k`` best of the evaluated trials (never, for ``k`` < 1)."""
        if k < 1:
            return False
        return len(self._ranked) < k or self.sign * value >= self._ranked[-k]

    def curves(self) -> list[Curve]:
        """The finished trials' curves for the pruner (a copy: a job keeps the history it was started with)."""
        return list(self._curves)

    # ---- storage operations shared with other drivers

    def heartbeat(self) -> None:
        heartbeat(self.study, self.me)

    def recover_stale(self) -> list[int]:
        """Requeue the trials of drivers that died (see :func:`._study.recover_stale`)."""
        return recover_stale(self.study, self.me)

    def claim(self, number: int, key: str, attr: str = Attr.IDENTITY) -> int | None:
        """The lower trial that claimed ``key`` first, if any (see :func:`._study.claim`)."""
        return claim(self.study, number, key, self.me, attr)

    def requeue_all(self, trials: Iterable[Trial]) -> None:
        requeue_all(self.study, trials)


class Heartbeat:
    """Writes the driver's heartbeat every ``seconds`` (default ``HEARTBEAT_SECONDS``) from a thread of its own, so
    that other drivers never take a driver for dead while it waits on a long proposal or a slow result;
    :meth:`check` raises in the driver what failed there."""

    def __init__(self, shared: SharedStudy, seconds: float | None = None) -> None:
        self.shared, self.seconds = shared, HEARTBEAT_SECONDS if seconds is None else seconds
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="actlab-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.shared.heartbeat()
            except Exception as e:  # the storage is gone: the driver's own next write would fail too; say why
                self.error = e
                return

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
