"""The driver's view of a shared study stays what a rescan of the study would give."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from actlab.search._shared import SharedStudy
from actlab.search._study import direction_sign, evaluated, scalar


def _rescan_top(study: optuna.Study, value: float, k: int) -> bool:
    sign = direction_sign(study)
    vals = sorted((sign * v for v in (scalar(t) for t in evaluated(study)) if v is not None), reverse=True)
    return k >= 1 and (len(vals) < k or sign * value >= vals[k - 1])


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_the_view_follows_own_tells_and_other_drivers_trials(direction: str) -> None:
    study = optuna.create_study(direction=direction)
    mine, other = SharedStudy(study, "me"), SharedStudy(study, "other")
    values = [0.3, 0.7, 0.5, 0.9, 0.1, 0.6]
    for i, v in enumerate(values):
        view = mine if i % 2 else other
        t = study.ask()
        t.set_user_attr("expression", f"e{i}")
        t.report(v / 2, 10)
        view.tell(t, [v])
    t = study.ask()  # a proposal never trained: not evaluated, not ranked
    t.set_user_attr("outcome", "skipped")
    t.set_user_attr("skipped", "constant")
    mine.tell(t, state=TrialState.FAIL)
    assert mine.evaluated == 3  # its own three, until it reads the study again
    mine.sync()
    assert mine.evaluated == len(evaluated(study)) == 6
    assert mine.best.values[0] == (max(values) if direction == "maximize" else min(values))
    for k in (0, 1, 3, 6, 8):
        for v in (0.0, 0.55, 0.65, 1.0):
            assert mine.in_top_k(v, k) == _rescan_top(study, v, k), (k, v)
    curves = mine.curves()
    assert sorted(c[0] for c in curves) == list(range(6)) and curves is not mine.curves()
