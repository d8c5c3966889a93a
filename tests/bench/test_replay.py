"""Strategy replay against a synthetic table: every strategy in STRATEGIES, in seconds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from actlab import expr
from actlab.bench import replay, table
from actlab.cli import app
from actlab.search import STRATEGIES

BUDGET, REPEATS = 15, 2


@pytest.fixture(scope="module")
def replayed(synthetic) -> replay.Replay:
    return replay.replay_all(synthetic.path, repeats=REPEATS, budget=BUDGET, space=synthetic.space)


def test_every_strategy_replays_with_the_documented_shape(replayed: replay.Replay) -> None:
    d = replayed.to_dict()
    assert {"table", "repeats", "budget", "strategies"} <= set(d)
    assert set(d["strategies"]) == set(replay.replayable()) | set(replay.VARIANTS)
    for name, s in d["strategies"].items():
        for target in replay.TARGETS:
            ev = s[f"evals_to_{target}"]
            assert len(ev) == REPEATS and all(1 <= e <= BUDGET + 1 for e in ev), name
            assert s[f"median_evals_to_{target}"] == float(np.median(ev))
            assert s[f"iqr_evals_to_{target}"] >= 0
            assert s[f"reached_{target}"] == sum(e <= BUDGET for e in ev)
        curve = s["regret_curve_median"]
        assert len(curve) == BUDGET and min(curve) >= 0
        assert all(a >= b - 1e-12 for a, b in zip(curve[:-1], curve[1:], strict=True)), \
            f"{name}: best-so-far regret rose"
    json.dumps(d)  # plain JSON


def test_evaluations_to_target_are_recounted_from_the_search_order(synthetic) -> None:
    path = synthetic.path
    tab = table.load(path)
    scores = {fp: f.mean_val for fp, f in tab.functions().items()}
    order = replay.replay(str(path), "random", 0, BUDGET, synthetic.space)
    assert len(order) == len(set(order)) == BUDGET and set(order) <= set(scores)
    rep = replay.replay_all(path, repeats=1, budget=BUDGET, strategies=["random"], space=synthetic.space)
    thr = rep.thresholds["top5pct"]
    hit = next((i + 1 for i, fp in enumerate(order) if scores[fp] >= thr), BUDGET + 1)
    assert rep.strategies["random"].evals["top5pct"] == [hit]
    # the threshold keeps ceil(5 %) of the functions
    assert sum(v >= thr for v in scores.values()) >= math.ceil(0.05 * len(scores))


def test_a_target_never_reached_counts_as_budget_plus_one(synthetic) -> None:
    path = synthetic.path
    rep = replay.replay_all(path, repeats=1, budget=1, strategies=["exhaustive"], space=synthetic.space)
    fns = table.load(path).functions()
    first = replay.replay(str(path), "exhaustive", 0, 1, synthetic.space)[0]
    hit = fns[first].mean_val >= rep.thresholds["top1pct"]
    assert rep.strategies["exhaustive"].evals["top1pct"] == [1 if hit else 2]


def test_table_eval_answers_the_mean_over_seeds_and_refuses_strangers(synthetic) -> None:
    path = synthetic.path
    tab = table.load(path)
    fp, f = next(iter(tab.functions().items()))
    got = replay.table_eval(f.expression, f"table:{path}", 0, None, None)
    assert got["val_acc"] == f.mean_val and not got["diverged"]
    stranger = "x * x * x + x"
    assert expr.fingerprint(stranger) not in tab.functions()
    with pytest.raises(KeyError, match="not in the table"):
        replay.table_eval(stranger, f"table:{path}", 0, None, None)
    with pytest.raises(ValueError, match="table:PATH"):
        replay.table_eval(f.expression, "mnist1d-cnn", 0, None, None)


def test_the_replay_space_rejects_functions_outside_the_table(synthetic) -> None:
    fns = table.load(synthetic.path).functions()
    space = synthetic.space
    pool, counts = space.enumerate()
    assert len(pool) == counts["in_table"] == len(fns)
    inner_pool, _ = space.inner.enumerate()
    outside = next(t for t in inner_pool if space.identity(space.render(t)) not in fns)
    assert space.check(space.render(outside)) == "not in the table"
    assert space.check(space.render(pool[0])) is None


def test_strategy_labels_carry_options_and_bad_ones_fail_in_one_line() -> None:
    assert replay.parse_label("evolution:init=random,population=8") == ("evolution", {"init": "random",
                                                                                     "population": 8})
    with pytest.raises(KeyError, match="unknown strategy"):
        replay.parse_label("simulated-annealing")
    with pytest.raises(ValueError, match="key=value"):
        replay.parse_label("evolution:random")


def test_cli_writes_json_and_plot(synthetic, tmp_path: Path) -> None:
    path, runs = synthetic.path, synthetic.runs
    out = tmp_path / "replay.json"
    res = CliRunner().invoke(app, ["bench", "strategies", "--table", str(path), "--repeats", "1", "--budget", "5",
                                   "-s", "random", "-s", "evolution:init=random", "--json", str(out),
                                   "--runs-dir", str(runs)])
    assert res.exit_code == 0, res.output
    d = json.loads(out.read_text())
    assert d["budget"] == 5 and set(d["strategies"]) == {"random", "evolution:init=random"}
    assert out.with_suffix(".png").stat().st_size > 1000
    bad = CliRunner().invoke(app, ["bench", "strategies", "--table", str(tmp_path / "none.csv.gz"), "--json",
                                   str(out)])
    assert bad.exit_code == 2 and "no table" in bad.output


def test_strategies_that_train_are_refused_in_one_line() -> None:
    trains = [n for n, c in STRATEGIES.items() if not c.replayable]
    assert trains, "dnas trains a supernet, so it is not replayable"
    for name in trains:
        with pytest.raises(ValueError, match="cannot replay"):
            replay.parse_label(name)


def test_a_loss_replay_minimises_and_finds_what_the_accuracy_replay_finds(synthetic) -> None:
    # The synthetic losses fall as the accuracies rise, so ranking by either is one ranking: a strategy that reads
    # the direction right proposes the same functions in the same order (a wrong sign would chase the worst ones).
    names = ["random", "evolution", "exhaustive"]
    acc = replay.replay_all(synthetic.path, repeats=2, budget=BUDGET, strategies=names, space=synthetic.space)
    loss = replay.replay_all(synthetic.path, repeats=2, budget=BUDGET, strategies=names, space=synthetic.space,
                             metric="val_loss")
    for n in names:
        assert loss.strategies[n].evals == acc.strategies[n].evals, n
        assert np.allclose(np.array(loss.strategies[n].regret), 3.0 * np.array(acc.strategies[n].regret)), n
    d = loss.to_dict()
    assert d["metric"] == "val_loss" and d["thresholds_mean_val_loss"]["top1pct"] < 3.0 * (1 - 0.5)
    assert replay.merge_records([d, d | {"strategies": {}}])["metric"] == "val_loss"
    with pytest.raises(ValueError, match="ranks functions by a validation metric"):
        replay.replay_all(synthetic.path, repeats=1, budget=2, strategies=["random"], metric="test_loss")
