"""User-defined tasks for the tests, importable as ``tests.train._usertasks:NAME`` (by workers and Ray too)."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from actlab.data import Dataset
from actlab.train import TASKS, Task

_PRESET = TASKS["digits-mlp"]
_KW = dict(optimizer=_PRESET.optimizer, lr=_PRESET.lr, momentum=_PRESET.momentum, schedule=_PRESET.schedule,
           schedule_kwargs=_PRESET.schedule_kwargs, steps=_PRESET.steps, batch_size=_PRESET.batch_size,
           eval_every=_PRESET.eval_every)


def digits_mlp(act_layer: Callable[[], nn.Module]) -> nn.Module:
    """The digits-mlp preset's network, built the way a user would: one act_layer() per activation."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), act_layer(), nn.Linear(64, 10))


#: The user's version of the digits-mlp preset (registry data, own model).
DIGITS = Task("digits-user", dataset="digits", model=digits_mlp, **_KW)

builds: list[int] = []


def blobs() -> Dataset:
    """Four Gaussian blobs in 8 dimensions; counts its calls (a task's dataset is built once per process)."""
    builds.append(1)
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 8, generator=g) * 3

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, 4, (n,), generator=g)
        return centres[y] + torch.randn(n, 8, generator=g), y

    (xt, yt), (xv, yv), (xs, ys) = split(400), split(100), split(100)
    return Dataset("blobs", xt, yt, xv, yv, xs, ys, 4)


def blob_net(act_layer: Callable[[], nn.Module]) -> nn.Module:
    return nn.Sequential(nn.Linear(8, 16), act_layer(), nn.Linear(16, 16), act_layer(), nn.Linear(16, 4))


#: A dataset function and a model function, both the user's.
BLOBS = Task("blobs-net", dataset=blobs, model=blob_net, lr=0.01, steps=60, batch_size=32, eval_every=20)


def make_blobs_task() -> Task:
    """A zero-argument function returning a Task (the other attribute form)."""
    return BLOBS


def relu_likeness(act_layer: Callable[[], nn.Module], seed: int, report: Callable[[int, float], bool]) -> Any:
    """A custom evaluator without training: how close act is to relu on a grid, reported over 3 "steps"."""
    act = act_layer()
    x = torch.linspace(-3, 3, 61)
    with torch.no_grad():
        err = float((act(x) - torch.relu(x)).abs().mean())
    score = 1.0 / (1.0 + err) - 0.001 * (seed % 3)
    for step in (1, 2, 3):
        if report(step, score * (0.8 + 0.05 * step)):
            return score * 0.95
    return score if math.isfinite(score) else float("nan")


NOT_A_TASK = 42


def slow_relu_likeness(act_layer: Callable[[], nn.Module], seed: int, report: Callable[[int, float], bool]) -> Any:
    """:func:`relu_likeness` taking about a second, so that trials are in flight when a test kills a node."""
    import time

    time.sleep(1.0)
    return relu_likeness(act_layer, seed, report)
