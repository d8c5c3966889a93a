"""The one registry of training presets: dataset + model + optimizer + schedule + budget, by name."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Task", "TASKS", "get_task"]


@dataclass(frozen=True)
class Task:
    """A child-network training preset. Override fields with ``dataclasses.replace(task, steps=...)``."""

    name: str
    dataset: str                    # key of actlab.data.DATASETS
    model: str                      # key of actlab.models.MODELS
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # widths etc.; in_shape/n_classes come from the data
    optimizer: str = "adam"         # "adam" or "sgd" (heavy-ball momentum)
    lr: float = 1e-2                # peak learning rate handed to the schedule
    momentum: float = 0.9           # SGD momentum, or Adam's beta1 (one-cycle cycles it)
    weight_decay: float = 0.0       # L2 penalty through the optimizer (coupled, as in the ResNet paper)
    schedule: str = "constant"      # key of SCHEDULES
    schedule_kwargs: dict[str, Any] = field(default_factory=dict)
    steps: int = 2000               # budget in optimizer steps (the unit of cost everywhere)
    batch_size: int = 100
    batch_schedule: str = "constant"  # key of BATCH_SCHEDULES (batch size per step; batch_size is its base)
    batch_schedule_kwargs: dict[str, Any] = field(default_factory=dict)
    eval_every: int = 500           # validation accuracy (and the report() callback) every k steps, and at the end
    augment: bool = False           # random crop (4-pixel zero pad) + horizontal flip, for CIFAR
    baseline: str = "relu"          # the activation that compare() pits candidates against by default
    description: str = ""

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"task {self.name!r}: optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        for key in ("steps", "batch_size", "eval_every"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"task {self.name!r}: {key} must be >= 1, got {getattr(self, key)}")
        if not self.lr > 0:
            raise ValueError(f"task {self.name!r}: lr must be > 0, got {self.lr}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


TASKS: dict[str, Task] = {t.name: t for t in [
    # The anchor proxy: the MNIST-1D paper's CNN, Adam 1e-2, batch 100, 2000 steps, ~4-5 s per run on one thread.
    Task("mnist1d-cnn", "mnist1d", "cnn1d", dict(channels=25), "adam", 1e-2, steps=2000, batch_size=100,
         eval_every=250, description="MNIST-1D, 3x25-channel 1D CNN, Adam 1e-2 constant, 2000 steps of 100"),
    Task("mnist1d-mlp", "mnist1d", "mlp", dict(hidden=(100, 100)), "adam", 1e-2, steps=2000, batch_size=100,
         eval_every=250, description="MNIST-1D, 100-100 MLP, Adam 1e-2 constant, 2000 steps of 100"),
    # The recurrent proxy: act replaces tanh and the gates are derived from it (tanh -> sigmoid, isru -> ISRU-sigmoid).
    # One-cycle because a constant 1e-2 makes small GRUs on MNIST-1D erratic.
    Task("mnist1d-gru", "mnist1d", "rnn", dict(cell="gru", hidden=32), "adam", 1e-2, schedule="one-cycle",
         steps=1000, batch_size=100, eval_every=250, baseline="tanh",
         description="MNIST-1D as a length-40 sequence, 32-unit GRU, Adam one-cycle 1e-2, 1000 steps of 100"),
    # Sized so 8 activations x 5 seeds run in a few minutes on two cores (~10 ms/step on one thread): ~1.2 epochs.
    Task("fashion-cnn", "fashion-mnist", "cnn2d", dict(channels=(8, 16), hidden=64), "adam", 5e-3,
         schedule="one-cycle", steps=1000, batch_size=64, eval_every=250,
         description="Fashion-MNIST, 2-stage 8/16-channel CNN, Adam one-cycle 5e-3, 1000 steps of 64"),
    # Ramachandran et al.'s child network and budget (10K steps); SGD as in He et al., one-cycle as in Smith & Topin.
    Task("cifar10-resnet20", "cifar10", "resnet20", {}, "sgd", 0.2, momentum=0.9, weight_decay=5e-4,
         schedule="one-cycle", steps=10_000, batch_size=128, eval_every=1000, augment=True,
         description="CIFAR-10, ResNet-20 (option A), SGD one-cycle 0.2, wd 5e-4, 10K steps of 128, crop+flip"),
    # Seconds-long sanity task; it exercises the LEGW schedule and SGD.
    Task("digits-mlp", "digits", "mlp", dict(hidden=(64,)), "sgd", 0.05, momentum=0.9, schedule="legw",
         schedule_kwargs=dict(base_batch=32, warmup_epochs=2), steps=600, batch_size=32, eval_every=100,
         description="scikit-learn digits, 64-unit MLP, SGD 0.05 with LEGW warmup, 600 steps of 32"),
]}


def get_task(task: str | Task) -> Task:
    """``TASKS[name]`` (a :class:`Task` passes through); unknown names list the closest presets."""
    if isinstance(task, Task):
        return task
    if task not in TASKS:
        close = difflib.get_close_matches(str(task), list(TASKS), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown task {task!r}{hint} (known: {', '.join(TASKS)})")
    return TASKS[task]
