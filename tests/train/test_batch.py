from __future__ import annotations

import dataclasses
import math
from typing import Callable

import pytest

from actlab.train import BATCH_SCHEDULES, SCHEDULES, get_task, make_batch_schedule, make_schedule, train_one

T, B = 120, 20


# The curve each docstring documents, written independently of the implementation. A new registry entry fails
# test_every_entry_has_its_curve_tested until its curve is added here.
def _cyclical(t: int, cycles: int = 2, levels: int = 3, factor: float = 2.0) -> int:
    length = math.ceil(T / cycles)
    return round(B * factor ** math.floor(levels * (t % length) / length))


def _warmup(t: int, start: int = B // 4, warmup: int = T // 10) -> int:
    return round(start + (B - start) * t / warmup) if t < warmup else B


CURVES: dict[str, list[tuple[dict, Callable[[int], int]]]] = {
    "constant": [({}, lambda t: B)],
    "cyclical": [({}, _cyclical), (dict(cycles=3, levels=2, factor=3.0), lambda t: _cyclical(t, 3, 2, 3.0))],
    "warmup": [({}, _warmup), (dict(start=2, warmup=50), lambda t: _warmup(t, 2, 50))],
}


def test_every_entry_has_its_curve_tested() -> None:
    assert set(CURVES) == set(BATCH_SCHEDULES)


@pytest.mark.parametrize("name", list(BATCH_SCHEDULES))
def test_documented_curve(name: str) -> None:
    cls = BATCH_SCHEDULES[name]
    assert cls.__doc__ and ":math:" in cls.__doc__, "document the curve"
    for options, curve in CURVES[name]:
        sizes = make_batch_schedule(name, B, T, **options).sizes()
        assert sizes == [curve(t) for t in range(T)]
        assert all(isinstance(s, int) and s >= 1 for s in sizes)


def test_cyclical_cycles_anneal_then_reset() -> None:
    sizes = make_batch_schedule("cyclical", B, T).sizes()
    assert sizes[:20] == [B] * 20 and sizes[20:40] == [2 * B] * 20 and sizes[40:60] == [4 * B] * 20
    assert sizes[59] == 4 * B and sizes[60] == B         # the second cycle starts over at the base batch


@pytest.mark.parametrize("name", list(BATCH_SCHEDULES))
def test_bad_input_one_line(name: str) -> None:
    with pytest.raises(TypeError, match="unknown option"):
        make_batch_schedule(name, B, T, not_an_option=1)
    big = max(make_batch_schedule(name, B, T).sizes())
    with pytest.raises(ValueError, match="larger than the") as err:
        make_batch_schedule(name, B, T, n_train=big - 1)
    assert "\n" not in str(err.value)
    with pytest.raises(KeyError, match="cyclical"):
        make_batch_schedule("cyclic", B, T)


def test_only_legw_rescales_the_rate_with_the_batch() -> None:
    for name in SCHEDULES:
        s = make_schedule(name, 0.1, T, batch_size=B, steps_per_epoch=10)
        assert s.batch_scale(B) == 1.0
        assert s.batch_scale(4 * B) == (2.0 if name == "legw" else 1.0)


@pytest.mark.parametrize("name", list(BATCH_SCHEDULES))
def test_training_runs_and_is_deterministic(name: str) -> None:
    task = dataclasses.replace(get_task("digits-mlp"), batch_schedule=name, eval_every=30)  # LEGW: the √B rule
    a, b = train_one("relu", task, seed=3, steps=60), train_one("relu", task, seed=3, steps=60)
    assert not a.diverged and a.steps_done == 60 and a.test_acc is not None and a.test_acc > 0.3
    assert a.curve == b.curve and a.test_acc == b.test_acc


def test_schedule_changes_training_and_too_large_fails() -> None:
    base = dataclasses.replace(get_task("digits-mlp"), eval_every=30)
    const = train_one("relu", base, seed=1, steps=60)
    cyc = train_one("relu", dataclasses.replace(base, batch_schedule="cyclical"), seed=1, steps=60)
    # The first sixth of a cyclical run uses the base batch with the same data stream: identical losses there.
    assert cyc.curve["loss"][:10] == const.curve["loss"][:10] and cyc.curve["loss"] != const.curve["loss"]
    huge = dataclasses.replace(base, batch_schedule="cyclical", batch_schedule_kwargs=dict(factor=1000.0))
    with pytest.raises(ValueError, match="training examples"):
        train_one("relu", huge, seed=1, steps=60)
