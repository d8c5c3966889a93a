"""The surrogate strategy: features, determinism from the study alone, and that its model helps (on a replay)."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from actlab.bench import replay
from actlab.search import SearchConfig, Surrogate, make_space
from actlab.search._surrogate import features
from tests.bench.conftest import runs_dir, synthetic  # noqa: F401 - shared fixtures


def test_features_are_fixed_length_finite_and_equal_for_equal_functions() -> None:
    a, b = features("x * sigmoid(x)"), features("sigmoid(x) * x")
    assert a.shape == (35,) and np.isfinite(a).all() and np.array_equal(a, b)
    assert not np.array_equal(a, features("tanh(x)"))
    assert np.isfinite(features("exp(exp(exp(x)))")).all()  # overflow is squashed, not propagated
    assert features("x * sigmoid(x)", properties=True).shape == (43,)
    assert not features("not an expression (").any()  # neutral vector, no exception


@pytest.mark.parametrize("bad", [{"acquisition": "pi"}, {"init": 0}, {"refit": 0}, {"warp": "log"}])
def test_bad_options_fail_in_one_line(bad: dict) -> None:
    with pytest.raises(ValueError, match="surrogate"):
        Surrogate(make_space(SearchConfig()), **bad)


def test_proposals_depend_only_on_the_study(synthetic) -> None:  # noqa: F811
    first = replay.replay(str(synthetic.path), "surrogate", 0, 16, synthetic.space)
    second = replay.replay(str(synthetic.path), "surrogate", 0, 16, synthetic.space)
    assert first == second and len(set(first)) == 16


def test_a_fresh_instance_proposes_what_the_running_one_would(synthetic) -> None:  # noqa: F811
    from actlab.search import MEMORY, Driver

    cfg = SearchConfig(task=f"table:{synthetic.path}", strategy="surrogate", budget=14, pruner="none",
                       analyse=False, baselines=(), steps=None, evaluator="actlab.bench.replay:table_eval",
                       storage=MEMORY, study="s", extra={"init": 5, "refit": 4})
    d = Driver(cfg, synthetic.space)
    d.run(replay.InlineExecutor(1))
    running = [c.tokens for c in d.strategy.propose(d.study, 3)]  # warm caches (pool, kernel)
    fresh = Surrogate(synthetic.space, seed=0, init=5, refit=4)
    assert [c.tokens for c in fresh.propose(d.study, 3)] == running
    assert isinstance(d.study, optuna.Study)


@pytest.mark.slow
def test_the_model_beats_random_search_on_a_structured_table(synthetic) -> None:  # noqa: F811
    rep = replay.replay_all(synthetic.path, repeats=3, budget=40, strategies=["random", "surrogate"],
                            space=synthetic.space)
    s, r = (rep.strategies[k].summary(40) for k in ("surrogate", "random"))
    assert s["median_evals_to_top1pct"] < r["median_evals_to_top1pct"], (s, r)
    assert s["regret_curve_median"][-1] <= r["regret_curve_median"][-1]
