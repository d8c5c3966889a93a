from __future__ import annotations

import dataclasses

import optuna
import pytest
import torch

from actlab.expr import operator, parse
from actlab.search import STRATEGIES
from actlab.search._dnas import train_supernet
from actlab.search._exprspace import ExprSpace
from actlab.train import get_task

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def space() -> ExprSpace:
    return ExprSpace(1, cache_dir=None)


def test_dnas_proposes_ordinary_candidates_most_probable_first(space: ExprSpace) -> None:
    st = STRATEGIES["dnas"](space, seed=0, task="digits-mlp", steps=15, arch_lr=0.05)
    cands = st.propose(optuna.create_study(), 4)
    assert st.status == "ok" and st.wall_time > 0 and len(cands) == 4
    probs = [c.attrs["dnas_prob"] for c in cands]
    assert probs == sorted(probs, reverse=True) and 0 < probs[-1] <= probs[0] < 1
    idents = {space.identity(space.render(c.tokens)) for c in cands}
    assert len(idents) == 4
    for c in cands:
        parse(space.render(c.tokens))                  # an ordinary expression
        assert space.check(space.render(c.tokens)) is None
        assert operator(c.tokens["u1.unary1"]).invalid is None and operator(c.tokens["u1.unary2"]).invalid is None
        assert operator(c.tokens["u1.binary"]).pole is None


def test_masked_operators_get_no_weight_and_training_moves_logits(space: ExprSpace) -> None:
    unary, binary = space.slots[2].choices, space.slots[4].choices
    unit, status, _ = train_supernet(unary, binary, "digits-mlp", steps=10, seed=0, arch_lr=0.05)
    assert status == "ok"
    for mix in (unit.u1, unit.u2):
        p = mix.probs()
        assert torch.isfinite(p).all() and float(p[list(unary).index("sqrt")]) == 0.0
        assert float(mix.logits.detach().abs().max()) > 0     # the architecture optimizer stepped
    assert float(unit.b.probs()[list(binary).index("div")]) == 0.0


def test_non_finite_mixture_is_flagged_diverged(space: ExprSpace) -> None:
    task = dataclasses.replace(get_task("digits-mlp"), optimizer="adam", lr=1e12)
    unit, status, _ = train_supernet(space.slots[2].choices, space.slots[4].choices, task, steps=30, seed=0)
    assert status == "diverged"
    assert all(torch.isfinite(p).all() for p in unit.arch_parameters())   # the last finite logits are kept


def test_dnas_refuses_two_units() -> None:
    with pytest.raises(ValueError, match="1-unit"):
        STRATEGIES["dnas"](ExprSpace(2, cache_dir=None))
