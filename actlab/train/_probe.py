"""``population="auto"``: how many members to train together, from a short probe of the device.

A population pays while the members' shared per-step overhead (the batch, the launches, one optimizer call) is a
large part of a step; once the device is busy, more members only add time. The probe times a few steps of
populations of growing size on the task and device and keeps the size with the most trainings per second, stopping
as soon as doubling gains less than ``MIN_GAIN`` (or memory runs out).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..models import ActSpec
from ._tasks import Task, get_task
from ._trainer import train_population

__all__ = ["probe_population", "parse_population", "resolve_population", "PROBE_SIZES", "MIN_GAIN"]

#: The population sizes the probe tries, in order.
PROBE_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
#: Doubling the population must raise trainings per second by this factor to go on.
MIN_GAIN = 1.1
# Distinct members, as a search's candidates are (the same activation K times would share nothing else anyway).
_ACTS = ("max(x, 0)", "tanh(x)", "x * sigmoid(x)", "abs(x)", "sin(x)", "x * erf(x)", "min(x, 0)", "asinh(x)")


def probe_population(task: str | Task, device: str | None = None, steps: int = 8, max_size: int = PROBE_SIZES[-1],
                     data_dir: str | Path | None = None) -> int:
    """The population size with the most trainings per second for ``task`` on ``device``, from ``steps`` timed
    steps per size (after one warm-up run). A task that trains through its own objective cannot train a
    population: 1."""
    from actlab.models import candidate_act

    task = get_task(task)
    if task.objective is not None:
        return 1
    acts: list[ActSpec] = [candidate_act(a) for a in _ACTS]
    train_population(acts[:1], task, seed=0, steps=2, data_dir=data_dir, device=device)  # data, kernels, caches
    best, best_rate = 1, 0.0
    for k in PROBE_SIZES:
        if k > max_size:
            break
        members = [acts[i % len(acts)] for i in range(k)]
        try:
            t = time.perf_counter()
            train_population(members, task, seed=0, steps=steps, data_dir=data_dir, device=device)
            rate = k / (time.perf_counter() - t)
        except torch.OutOfMemoryError:
            break
        if rate > best_rate * MIN_GAIN:
            best, best_rate = k, rate
        else:
            break
    return best


def parse_population(value: int | str) -> int | str:
    """``value`` checked: a whole number >= 1 (also as text), or ``"auto"``; anything else is a one-line error."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        k = int(value)
    except (TypeError, ValueError):
        k = 0
    if isinstance(value, bool) or k < 1 or (not isinstance(value, str) and k != value):
        raise ValueError(f"--population must be a whole number >= 1 or auto, got {value!r}")
    return k


def resolve_population(value: int | str, task: str | Task, device: str | None = None,
                       data_dir: str | Path | None = None) -> int:
    """:func:`parse_population`, with ``"auto"`` probed (:func:`probe_population` on ``task`` and ``device``)."""
    k = parse_population(value)
    return probe_population(task, device, data_dir=data_dir) if k == "auto" else int(k)
