"""What a training sets up before its loop: the seed streams, the task's data, the model (a preset's or the user's
function of ``act_layer``), the optimizer and the learning-rate schedule's step."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..data import Dataset, load
from ..models import ActSpec, build_model, init_weights, resolve_act
from ._schedules import Schedule
from ._tasks import Task

__all__ = ["task_data", "make_optimizer", "apply_schedule"]


def _seeds(seed: int) -> tuple[int, int, int]:
    # Independent streams for weights, data order and everything else (e.g. random activation parameters), so that
    # changing the activation cannot shift the weights or the batches drawn under one seed.
    a, b, c = np.random.SeedSequence([int(seed), 0x5eed]).generate_state(3)
    return int(a), int(b), int(c)


_built: dict[int, tuple[Any, Dataset]] = {}


def task_data(task: Task, data_dir: str | Path | None = None) -> Dataset:
    """The task's dataset: loaded from the registry, given, or built by its callable (once per process)."""
    d = task.dataset
    if isinstance(d, str):
        return load(d, data_dir)
    if isinstance(d, Dataset):
        return d
    if callable(d):
        hit = _built.get(id(d))
        if hit is not None and hit[0] is d:
            return hit[1]
        ds = d()
        if not isinstance(ds, Dataset):
            raise TypeError(f"task {task.name!r}: its dataset function returned a {type(ds).__name__}, expected an "
                            f"actlab.data.Dataset")
        _built[id(d)] = (d, ds)  # keeps d alive, so its id is not reused
        return ds
    raise TypeError(f"task {task.name!r}: dataset must be a registry name, an actlab.data.Dataset or a function "
                    f"returning one, got a {type(d).__name__}")


def _act_layer(factory: Callable[[], nn.Module], seed: int) -> Callable[..., nn.Module]:
    """The ``act_layer`` handed to a user's model builder: each call builds a fresh activation under its own seeded
    random stream, so activations that draw random numbers (or none) cannot shift the model's own initialisation.
    Keyword arguments such as timm's ``inplace=True`` are accepted and ignored."""
    calls = [0]

    def act_layer(*_args: Any, **_kwargs: Any) -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + calls[0])
            calls[0] += 1
            return factory()

    return act_layer


def _build(act: ActSpec, task: Task, ds: Dataset, init_seed: int, other_seed: int) -> nn.Module:
    if isinstance(task.model, str):
        torch.manual_seed(other_seed)
        model = build_model(task.model, act, ds.shape, ds.n_classes, **task.model_kwargs)
        init_weights(model, torch.Generator().manual_seed(init_seed))
        return model
    # A user model keeps its own initialisation, drawn from the seed: the same seed gives the same weights wherever
    # the shapes match, whatever the activation.
    layer = _act_layer(resolve_act(act), other_seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = task.model(layer, **task.model_kwargs)
    if not isinstance(model, nn.Module):
        raise TypeError(f"task {task.name!r}: its model function returned a {type(model).__name__}, expected an "
                        f"nn.Module")
    torch.manual_seed(other_seed)
    return model


def make_optimizer(task: Task, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    """The optimizer ``task`` trains ``params`` with (its learning rate before the schedule applies)."""
    # fused=True: one C++ kernel per step instead of ~8 Python-dispatched ops per parameter. On the MNIST-1D CNN it
    # took a step from 3.95 to 3.15 ms (git history of benchmarks/RESULTS.md, harness performance); same update up
    # to an ulp, and as deterministic.
    if task.optimizer == "adam":
        return torch.optim.Adam(params, lr=task.lr, betas=(task.momentum, 0.999), weight_decay=task.weight_decay,
                                fused=True)
    return torch.optim.SGD(params, lr=task.lr, momentum=task.momentum, weight_decay=task.weight_decay, fused=True)


def apply_schedule(opt: torch.optim.Optimizer, sched: Schedule, t: int, batch: int) -> None:
    """Set step ``t``'s learning rate (scaled for a batch of ``batch``) and, if it cycles it, momentum."""
    lr, mom = sched.lr(t) * sched.batch_scale(batch), sched.momentum(t)
    for group in opt.param_groups:
        group["lr"] = lr
        if mom is not None:
            if "betas" in group:
                group["betas"] = (mom, group["betas"][1])
            else:
                group["momentum"] = mom
