"""Population training: members trained together in one loop each equal their own train_one, on every preset task
whose data is here; a member that diverges or is pruned stops without changing the others."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from actlab.data import DataError
from actlab.train import TASKS, RunResult, get_task, train_one, train_population

# Two zoo activations (one with a fused kernel and a parameter) and a generated expression; the recurrent cell takes
# tanh-like units, and the gated FFN of the transformer accepts these too.
ACTS = ["relu", "isrlu", "x * sigmoid(x)"]
FIELDS = [f.name for f in dataclasses.fields(RunResult) if f.name not in ("wall_time", "steps_per_s")]


def _steps(name: str) -> int:
    # through one evaluation where that is cheap; the slow presets take a few steps (their final evaluation runs)
    every = TASKS[name].eval_every
    return every + 3 if every <= 100 else 4


def _same(a: RunResult, b: RunResult) -> None:
    for f in FIELDS:
        assert getattr(a, f) == getattr(b, f), (a.act, f, getattr(a, f), getattr(b, f))


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_member_equals_its_solo_training(name: str) -> None:
    acts = ["tanh", "isru"] if TASKS[name].model == "rnn" else ACTS
    try:
        pop = train_population(acts, name, seed=1, steps=_steps(name))
    except DataError as e:
        pytest.skip(f"{name}: {e}")
    assert [r.act for r in pop] == acts
    for act, r in zip(acts, pop, strict=True):
        _same(r, train_one(act, name, seed=1, steps=_steps(name)))


class Overflow(nn.Module):
    """Multiplies by 1e38: the loss is inf at once, as for a diverging candidate."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 1e38


def test_a_diverged_or_pruned_member_stops_and_the_others_are_unchanged() -> None:
    steps = 2 * get_task("digits-mlp").eval_every + 5
    calls: list[int] = []

    def prune_at_first_eval(step: int, value: float) -> bool:
        calls.append(step)
        return True

    pop = train_population(["relu", Overflow, "gelu", "swish"], "digits-mlp", seed=0, steps=steps,
                           reports=[None, None, prune_at_first_eval, None])
    relu, bad, pruned, swish = pop
    assert bad.diverged and bad.steps_done == 0 and not relu.diverged
    assert pruned.pruned and pruned.steps_done == get_task("digits-mlp").eval_every and calls == [pruned.steps_done]
    _same(relu, train_one("relu", "digits-mlp", seed=0, steps=steps))
    _same(swish, train_one("swish", "digits-mlp", seed=0, steps=steps))
    _same(pruned, train_one("gelu", "digits-mlp", seed=0, steps=steps, report=prune_at_first_eval))


def test_bad_populations_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="at least one activation"):
        train_population([], "digits-mlp")
    with pytest.raises(ValueError, match="2 activations but 1 report"):
        train_population(["relu", "gelu"], "digits-mlp", reports=[None])


@pytest.mark.parametrize("workers", [1, 2])
def test_a_comparison_in_populations_gives_the_same_numbers(workers: int) -> None:
    from actlab.train import compare

    acts = ["isrlu", "x * erf(x)", "swish"]
    one = compare(acts, "digits-mlp", seeds=2, steps=30, workers=workers)
    together = compare(acts, "digits-mlp", seeds=2, steps=30, workers=workers, population=3)
    assert one.rows() == [{**r, "time_per_run": t["time_per_run"]} for r, t in zip(together.rows(), one.rows(),
                                                                                     strict=True)]


def test_jobs_group_by_seed_into_populations() -> None:
    from actlab.train._protocol import _units

    jobs = [(a, s) for a in "abcde" for s in (0, 1)]
    units = _units(jobs, 2)
    assert [(u[1], u[2]) for u in units] == [(["a", "b"], 0), (["c", "d"], 0), (["e"], 0), (["a", "b"], 1),
                                            (["c", "d"], 1), (["e"], 1)]
    assert sorted(i for u in units for i in u[0]) == list(range(len(jobs)))
    with pytest.raises(ValueError, match="population must be a whole number >= 1 or auto, got 0"):
        from actlab.train import run_jobs

        run_jobs(jobs, "digits-mlp", population=0)


def test_a_task_with_its_own_objective_trains_its_jobs_one_at_a_time_and_says_so() -> None:
    from actlab.train import Task, run_jobs

    task = Task("own-loop", objective=lambda act_layer, seed, report: 0.25 + seed)
    with pytest.warns(UserWarning, match="cannot train a population: its activations train one at a time"):
        res = run_jobs([("relu", 0), ("tanh", 1)], task, population=2)
    assert [r.val_acc for r in res] == [0.25, 1.25]


def test_auto_population_is_probed_on_the_device_and_bad_sizes_are_one_line() -> None:
    from actlab.train import Task, parse_population, probe_population, resolve_population

    k = probe_population("digits-mlp", steps=3, max_size=8)
    assert k in (1, 2, 4, 8)
    assert probe_population(Task("own-loop", objective=lambda act_layer, seed, report: 0.5)) == 1
    assert parse_population("auto") == "auto" and parse_population("4") == 4 and resolve_population(2, "x") == 2
    for bad in (0, "0", "-3", "many", 2.5, True):
        with pytest.raises(ValueError, match="--population must be a whole number >= 1 or auto"):
            parse_population(bad)
