from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from actlab.data import DataError, load
from actlab.train import TASKS, RunResult, get_task, train_one

# A few steps per preset, with the batch shrunk where one step is expensive (the budget is ~150 s for all tests).
_SMOKE = {"cifar10-resnet20": dict(batch_size=32), "fashion-cnn": dict(batch_size=32)}


def _act_for(task: str) -> str:
    return TASKS[task].baseline


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_trains_and_loss_decreases(name: str, cifar_dir: Path) -> None:
    task = dataclasses.replace(TASKS[name], eval_every=10, **_SMOKE.get(name, {}))
    steps = 20 if name == "cifar10-resnet20" else 40
    data_dir = cifar_dir if TASKS[name].dataset == "cifar10" else None
    try:  # data that is not bundled nor generated (Debian's Fashion-MNIST): skip with the install hint
        load(TASKS[name].dataset, data_dir)
    except DataError as e:
        pytest.skip(str(e))
    r = train_one(_act_for(name), task, seed=0, steps=steps, data_dir=data_dir)
    assert not r.diverged and r.steps_done == steps
    loss = r.curve["loss"]
    assert len(loss) == steps  # CURVE_POINTS > steps: one point per step
    k = 5
    assert sum(loss[-k:]) / k < sum(loss[:k]) / k, loss
    assert 0 <= r.val_acc <= 1 and r.test_acc is not None
    assert r.val_curve["step"][-1] == steps and len(r.val_curve["acc"]) == steps // 10
    assert r.steps_per_s > 0 and r.wall_time > 0


def test_same_seed_same_numbers() -> None:
    a = train_one("tanh", "mnist1d-cnn", seed=1, steps=60)
    b = train_one("tanh", "mnist1d-cnn", seed=1, steps=60)
    c = train_one("tanh", "mnist1d-cnn", seed=2, steps=60)
    strip = lambda r: {k: v for k, v in r.to_dict().items() if k not in ("wall_time", "steps_per_s")}  # noqa: E731
    assert strip(a) == strip(b)
    assert a.curve["loss"] != c.curve["loss"]


def test_common_random_numbers_across_activation_objects() -> None:
    """The registry ReLU and torch's nn.ReLU are the same function: under one seed they must agree exactly, which
    needs the same initial weights and the same batches whatever the activation object is."""
    a = train_one("relu", "mnist1d-mlp", seed=3, steps=30)
    b = train_one(nn.ReLU, "mnist1d-mlp", seed=3, steps=30)
    assert a.curve["loss"] == b.curve["loss"] and a.val_acc == b.val_acc


class Explode(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(torch.exp(x)) * 1e30


def test_divergence_guard() -> None:
    r = train_one(Explode, "mnist1d-mlp", seed=0, steps=50)
    assert r.diverged and not r.pruned
    assert r.steps_done < 50
    assert r.val_acc == r.test_acc == pytest.approx(0.1)  # chance level for 10 classes
    assert r.val_loss == r.test_loss == pytest.approx(math.log(10))  # the chance loss: a uniform prediction
    json.dumps(r.to_dict(), allow_nan=False)


def test_report_callback_prunes() -> None:
    calls: list[tuple[int, float]] = []

    def report(step: int, acc: float) -> bool:
        calls.append((step, acc))
        return step >= 20

    task = dataclasses.replace(get_task("mnist1d-mlp"), eval_every=10)
    r = train_one("relu", task, seed=0, steps=100, report=report)
    assert [s for s, _ in calls] == [10, 20]
    assert r.pruned and r.steps_done == 20 and r.test_acc is None and r.val_acc == calls[-1][1]


def test_report_not_called_at_final_step() -> None:
    calls: list[int] = []

    def report(step: int, acc: float) -> bool:
        calls.append(step)
        return step >= 30  # would prune, but the last step is never reported

    task = dataclasses.replace(get_task("digits-mlp"), eval_every=10)
    r = train_one("relu", task, seed=0, steps=30, report=report)
    assert calls == [10, 20] and not r.pruned


def test_run_result_json_round_trip() -> None:
    r = train_one("tanh", "digits-mlp", seed=0, steps=20)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert RunResult.from_dict(d) == r


def test_threads_restored_and_unknown_task() -> None:
    before = torch.get_num_threads()
    train_one("relu", "digits-mlp", seed=0, steps=5, threads=2)
    assert torch.get_num_threads() == before
    with pytest.raises(KeyError, match="mnist1d-cnn"):
        train_one("relu", "mnist1d-cn", seed=0)
    with pytest.raises(ValueError, match="steps"):
        train_one("relu", "digits-mlp", seed=0, steps=0)
