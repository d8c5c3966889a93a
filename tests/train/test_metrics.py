"""Metrics with a direction: the one table, and the statistics that read it."""

from __future__ import annotations

import dataclasses
import math

import pytest

from actlab.train import METRICS, RunResult, compare, get_metric, paired_test, train_one


def _run(**kw: float | None) -> RunResult:
    base = dict(act="a", task="t", seed=0, steps=1, steps_done=1, val_acc=0.5, test_acc=0.6, val_loss=1.0,
                train_loss=1.0, test_loss=0.9)
    return RunResult(**{**base, **kw})  # type: ignore[arg-type]


def test_every_metric_has_a_direction_and_reads_a_field() -> None:
    for m in METRICS.values():
        assert m.direction in ("max", "min") and m.sign in (1, -1)
        assert math.isfinite(m.value(_run()))
        assert m.better(1.0, 0.0) == (m.direction == "max")
    assert get_metric("test_loss").value(_run()) == 0.9
    assert get_metric("test_bpb").value(_run()) == pytest.approx(0.9 / math.log(2))
    # a pruned run has no test evaluation: its validation value stands in, as for accuracy
    assert get_metric("test_loss").value(_run(test_loss=None)) == 1.0
    assert get_metric("test_acc").value(_run(test_acc=None)) == 0.5


def test_unknown_metric_is_a_one_line_error() -> None:
    with pytest.raises(ValueError, match=r"unknown metric 'val_los'; did you mean val_loss"):
        get_metric("val_los")


def test_wins_follow_the_direction() -> None:
    cand, base = [1.0, 1.1, 0.9, 1.05, 1.0], [1.2, 1.3, 1.1, 1.25, 1.2]  # the candidate's loss is 0.2 lower
    loss = paired_test(cand, base, sign=-1)
    acc = paired_test(cand, base, sign=1)
    assert loss.beats() and not acc.beats()
    assert (loss.wins, loss.losses) == (5, 0) and (acc.wins, acc.losses) == (0, 5)
    with pytest.raises(ValueError, match="sign"):
        paired_test(cand, base, sign=0)


def test_compare_on_a_loss_ranks_lower_as_better() -> None:
    task = dataclasses.replace(__import__("actlab.train", fromlist=["TASKS"]).TASKS["digits-mlp"], steps=60)
    c = compare(["elu"], task, seeds=2, metric="val_loss")
    ev = c.evaluations["elu"]
    assert list(ev.values) == [r.val_loss for r in ev.results]
    assert c.paired["elu"].sign == -1


def test_a_language_model_records_test_loss_and_its_corpus() -> None:
    r = train_one("swiglu", "text-transformer", seed=0, steps=4)
    assert r.test_loss is not None and 0 < r.test_loss < 10 and 0 <= r.test_acc <= 1
    assert "sha256" in r.data and "pydoc_data" in r.data


def loss_objective(act_layer, seed, report):  # a user's training loop that reports a loss
    m = act_layer()
    import torch

    x = torch.linspace(-2, 2, 64)
    return {"val_loss": float((m(x) - x.clamp(min=0)).pow(2).mean()) + 0.01 * seed, "test_loss": 1.0}


def accuracy_objective(act_layer, seed, report):
    return 0.5


def test_a_custom_objective_names_its_loss_and_a_missing_metric_is_an_error() -> None:
    from actlab.train import Task, evaluate

    task = Task("loss-fn", objective=loss_objective)
    r = train_one("relu", task, seed=1)
    assert r.val_loss == pytest.approx(0.01) and r.test_loss == 1.0 and not r.diverged
    assert evaluate("relu", task, seeds=2, metric="val_loss").values.tolist() == pytest.approx([0.0, 0.01])
    with pytest.raises(ValueError, match="metric val_loss was not measured"):
        evaluate("relu", Task("acc-fn", objective=accuracy_objective), seeds=2, metric="val_loss")
    with pytest.raises(ValueError, match="a dict names metrics among"):
        train_one("relu", Task("bad", objective=lambda a, s, r: {"perplexity": 3.0}), seed=0)


def test_the_report_callback_carries_the_chosen_metric() -> None:
    import dataclasses

    from actlab.train import TASKS

    task = dataclasses.replace(TASKS["digits-mlp"], eval_every=20)
    got: dict[str, list[float]] = {"val_acc": [], "val_loss": []}
    for metric in got:
        train_one("relu", task, seed=0, steps=60, report_metric=metric,
                  report=lambda step, v, m=metric: got[m].append(v) and False)
    assert len(got["val_acc"]) == len(got["val_loss"]) == 2
    assert all(0 <= a <= 1 for a in got["val_acc"]) and all(v > 0 for v in got["val_loss"])
    assert got["val_loss"] != got["val_acc"]
