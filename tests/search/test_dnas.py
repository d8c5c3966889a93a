from __future__ import annotations

import dataclasses

import optuna
import pytest
import torch

from actlab import expr
from actlab.expr import operator, parse
from actlab.search import STRATEGIES, SearchConfig, run_search
from actlab.search._dnas import MAX_RANKED, rank_choices
from actlab.search._supernet import train_supernet
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
    net, status, _ = train_supernet(unary, binary, "digits-mlp", steps=10, seed=0, arch_lr=0.05)
    assert status == "ok"
    unit = net.unit_list[0]
    for mix in (unit.u1, unit.u2):
        p = mix.probs()
        assert torch.isfinite(p).all() and float(p[list(unary).index("sqrt")]) == 0.0
        assert float(mix.logits.detach().abs().max()) > 0     # the architecture optimizer stepped
    assert float(unit.b.probs()[list(binary).index("div")]) == 0.0


def test_non_finite_mixture_is_flagged_diverged(space: ExprSpace) -> None:
    # An infinite learning rate makes the weights non-finite at the first step (with 2 units a merely huge one is
    # not enough: the second unit's clamps keep every activation bounded).
    task = dataclasses.replace(get_task("digits-mlp"), optimizer="adam", lr=float("inf"))
    for units in (1, 2):
        net, status, _ = train_supernet(space.slots[2].choices, space.slots[4].choices, task, steps=30, seed=0,
                                        units=units)
        assert status == "diverged"
        assert all(torch.isfinite(p).all() for p in net.arch_parameters())   # the last finite logits are kept


def test_ranking_is_by_probability_product_within_the_bound() -> None:
    probs = [[1.0], [0.2, 0.8], [0.5, 0.0, 0.3, 0.2]]
    ranked = rank_choices(probs)
    assert ranked[0] == ((0, 1, 0), pytest.approx(0.4)) and len(ranked) == 6   # the masked choice is left out
    assert [p for _, p in ranked] == sorted((p for _, p in ranked), reverse=True)
    assert [idx for idx, _ in rank_choices(probs, limit=2)] == [(0, 1, 0)]  # the argmax alone
    assert [idx for idx, _ in rank_choices(probs, limit=4)] == [(0, 1, 0), (0, 1, 2), (0, 0, 0), (0, 0, 2)]
    wide = [[1.0 / 25] * 25] * 8 + [[0.5, 0.5]] * 2
    assert len(rank_choices(wide)) <= MAX_RANKED


@pytest.fixture(scope="module")
def space2() -> ExprSpace:
    return ExprSpace(2, cache_dir=None)


def test_two_unit_dnas_discretises_to_expressions_of_the_two_unit_space(space2: ExprSpace) -> None:
    st = STRATEGIES["dnas"](space2, seed=0, task="digits-mlp", steps=10, arch_lr=0.05)
    cands = st.propose(optuna.create_study(), 3)
    assert st.status == "ok" and len(cands) == 3
    probs = [c.attrs["dnas_prob"] for c in cands]
    assert probs == sorted(probs, reverse=True) and 0 < probs[-1] < 1
    wires = {c.tokens["u2.in1"] for c in cands} | {c.tokens["u2.in2"] for c in cands}
    assert wires <= {"x", "u1"}
    for c in cands:
        text = space2.render(c.tokens)
        e = parse(text)                                # an ordinary expression
        assert str(e) == text and e in expr.space(2) and space2.check(text) is None
        for slot in ("u1.unary1", "u1.unary2", "u2.unary1", "u2.unary2"):
            assert operator(c.tokens[slot]).invalid is None     # masked operators are never proposed
        assert operator(c.tokens["u1.binary"]).pole is None and operator(c.tokens["u2.binary"]).pole is None


def test_two_unit_supernet_trains_its_second_units_wires(space2: ExprSpace) -> None:
    net, status, _ = train_supernet(space2.slots[2].choices, space2.slots[4].choices, "digits-mlp", steps=5,
                                    seed=0, arch_lr=0.05, units=2)
    assert status == "ok" and [c.names for c in net.choices()] == [s.choices for s in space2.slots]
    u2 = net.unit_list[1]
    assert float(u2.in1.logits.detach().abs().max()) > 0 and float(u2.in2.logits.detach().abs().max()) > 0


def test_a_two_unit_dnas_result_is_recorded_and_judged_like_any_trial(tmp_path) -> None:
    cfg = SearchConfig(task="digits-mlp", space="2", strategy="dnas", steps=60, budget=2, workers=1,
                       runs_dir=str(tmp_path), top_k=1, reeval_seeds=2, baselines=("relu",), analyse=False,
                       pruner="none", check_task=None, race_seeds=0, extra={"steps": 8, "arch_lr": 0.05})
    res = run_search(cfg)
    assert res.evaluated == 2
    found = next(r for r in res.board.rows if r.kind == "found")
    assert found.name in expr.space(2) and len(found.test) == 2 and min(found.test) >= 1000  # fresh seeds
    assert set(found.vs) == {"relu"}     # paired against the baseline like any found function


def test_dnas_refuses_other_spaces() -> None:
    from tests.search._fakes import FakeSpace

    with pytest.raises(ValueError, match="core-unit expression spaces"):
        STRATEGIES["dnas"](FakeSpace())


def test_the_argmax_on_an_sgd_task_trains_as_a_child() -> None:
    # The supernet trains its weights with the task's optimizer: under Adam on this SGD task its argmax was
    # x^3 + sinh(x) (p = 0.29), which diverges when the child trains with the task's SGD.
    from actlab.search._candidate import train_candidate

    space = ExprSpace(1, cache_dir=None)
    st = STRATEGIES["dnas"](space, seed=0, task="digits-mlp", steps=300)
    best = space.render(st.propose(optuna.create_study(), 1)[0].tokens)
    res = train_candidate(best, "digits-mlp", 0, 300, None)
    assert st.status == "ok" and res["val_acc"] > 0.5, (best, res)


def test_the_supernet_trains_on_a_users_task_through_the_one_training_loop(space: ExprSpace) -> None:
    # A user's dataset function and model function (act_layer), as any child of the task trains
    net, status, _ = train_supernet(space.slots[2].choices, space.slots[4].choices, "tests.train._usertasks:BLOBS",
                                    steps=20, seed=0, arch_lr=0.05)
    assert status == "ok" and float(net.unit_list[0].u1.logits.detach().abs().max()) > 0
    with pytest.raises(ValueError, match="trains through its own objective"):
        train_supernet(space.slots[2].choices, space.slots[4].choices, "tests.train._usertasks:relu_likeness", steps=2,
                       seed=0)


def test_dnas_keeps_its_supernet_in_the_study_and_reads_it_back(space: ExprSpace, monkeypatch) -> None:
    study = optuna.create_study()
    first = STRATEGIES["dnas"](space, seed=0, task="digits-mlp", steps=15, arch_lr=0.05)
    cands = first.propose(study, 3)
    assert [k for k in study.user_attrs if k.startswith("dnas:")]

    def no_training(*args, **kwargs):
        raise AssertionError("the supernet was trained again")

    monkeypatch.setattr("actlab.search._dnas.train_supernet", no_training)
    again = STRATEGIES["dnas"](space, seed=0, task="digits-mlp", steps=15, arch_lr=0.05)  # a resumed driver's
    assert [c.tokens for c in again.propose(study, 3)] == [c.tokens for c in cands]
    assert again.status == first.status and again.wall_time == first.wall_time
    with pytest.raises(AssertionError, match="trained again"):  # another protocol is another supernet
        STRATEGIES["dnas"](space, seed=1, task="digits-mlp", steps=15, arch_lr=0.05).propose(study, 1)


def test_dnas_searches_gates_with_the_supernet_as_the_gate() -> None:
    gated = ExprSpace(1, cache_dir=None, gated=True)
    st = STRATEGIES["dnas"](gated, seed=0, task="digits-mlp", steps=15, arch_lr=0.05)
    study = optuna.create_study()
    cands = st.propose(study, 3)
    assert st.status == "ok" and len(cands) == 3
    (key,) = [k for k in study.user_attrs if k.startswith("dnas:")]
    assert '"gated": true' in key  # another supernet than the plain space's
    for c in cands:  # ordinary gates: each trains as glu(f) in the MLP
        assert gated.check(gated.render(c.tokens)) is None
