"""The real evaluator: candidates trained together give what each gives alone, options included."""

from __future__ import annotations

import pytest

from actlab.search._candidate import stacks, train_candidate, train_candidates
from actlab.search._records import AttackSpec

TASK, STEPS = "digits-mlp", 250  # evaluations at steps 100 and 200


def _same(a: dict, b: dict) -> None:
    assert {k: v for k, v in a.items() if k != "wall_time"} == {k: v for k, v in b.items() if k != "wall_time"}


def test_candidates_trained_together_match_each_alone_with_gates_attacks_and_pruning() -> None:
    exprs = ["x * tanh(x)", "max(x, 0)", "sin(x)"]
    gated = [True, False, False]
    attacks = [AttackSpec("fgsm", 0.1), None, AttackSpec("fgsm", 0.05)]
    seen: dict[int, list[tuple[int, float]]] = {0: [], 1: [], 2: []}

    def report(i: int, prune_at: int | None):
        def rep(step: int, value: float) -> bool:
            seen[i].append((step, value))
            return prune_at is not None and step >= prune_at
        return rep

    first = 100  # member 1 is pruned at its first evaluation; the others train on
    together = train_candidates(exprs, TASK, 3, STEPS, [report(0, None), report(1, first), report(2, None)],
                                attacks=attacks, gated=gated)
    curves = dict(seen)
    seen.update({0: [], 1: [], 2: []})
    alone = [train_candidate(e, TASK, 3, STEPS, report(i, first if i == 1 else None), attack=a, gated=g)
             for i, (e, g, a) in enumerate(zip(exprs, gated, attacks, strict=True))]
    for t, a in zip(together, alone, strict=True):
        _same(t, a)
    assert curves == seen and [s for s, _ in curves[0]] == [100, 200] and [s for s, _ in curves[1]] == [100]
    assert together[1]["pruned"] and not together[0]["pruned"]
    assert "adv_acc" in together[0] and "adv_acc" not in together[1]


def test_only_tasks_with_a_model_and_data_stack() -> None:
    from actlab.train import Task

    assert stacks(TASK)
    assert not stacks(Task("own-loop", objective=lambda act_layer, seed, report: 0.5))
    with pytest.raises(KeyError):
        stacks("no-such-task")
