from __future__ import annotations

import json

import numpy as np
import pytest
from torch import nn

from actlab.train import compare, evaluate, paired_test, run_jobs


def test_evaluate_summarises_seeds() -> None:
    ev = evaluate("relu", "digits-mlp", seeds=3, steps=30)
    v = ev.values
    assert ev.seeds == [0, 1, 2] and len(v) == 3
    assert ev.median == pytest.approx(np.median(v)) and ev.mean == pytest.approx(np.mean(v))
    assert ev.ci_low <= ev.mean <= ev.ci_high  # Student-t interval of the mean (the board's interval too)
    json.dumps(ev.to_dict(), allow_nan=False)
    assert evaluate("relu", "digits-mlp", seeds=[7], steps=5, metric="val_acc").seeds == [7]


def test_results_do_not_depend_on_worker_count() -> None:
    kw = dict(task="digits-mlp", seeds=2, steps=25)
    one = compare(["tanh"], workers=1, **kw)
    two = compare(["tanh"], workers=2, **kw)
    for name in one.evaluations:
        a = [r.to_dict() for r in one.evaluations[name].results]
        b = [r.to_dict() for r in two.evaluations[name].results]
        for ra, rb in zip(a, b, strict=False):
            for k in ("wall_time", "steps_per_s"):
                ra.pop(k), rb.pop(k)
        assert a == b


def test_compare_pairs_against_baseline() -> None:
    c = compare(["tanh", "elu"], task="digits-mlp", seeds=3, steps=30)
    assert list(c.evaluations) == ["relu", "tanh", "elu"]  # baseline added, first
    base = c.evaluations["relu"].values
    for name in ("tanh", "elu"):
        p = c.paired[name]
        d = c.evaluations[name].values - base
        assert p.delta == pytest.approx(d.mean()) and p.n == 3
        assert p.wins + p.ties + p.losses == 3
        one = paired_test(c.evaluations[name].values, base)
        assert p.p == pytest.approx(one.p) and one.p <= p.p_adjusted <= min(1.0, 2 * one.p)  # Holm over 2
    rows = c.rows()
    assert rows[0]["act"] == "relu" and rows[0]["p_value"] is None
    json.dumps(c.to_dict(), allow_nan=False)
    with pytest.raises(ValueError, match="twice"):
        compare(["relu", "relu"], task="digits-mlp", seeds=1, steps=1)


def test_unpicklable_activation_needs_one_worker() -> None:
    with pytest.raises(TypeError, match="workers=1"):
        run_jobs([(lambda: nn.ReLU(), 0), (lambda: nn.ReLU(), 1)], "digits-mlp", steps=2, workers=2)


def test_unknown_activation_fails_before_training() -> None:
    with pytest.raises(KeyError, match="isrlu"):
        evaluate("isrluu", "digits-mlp", seeds=1)
