"""The final stage and the board on the synthetic evaluator: fresh seeds, paired tests, racing, trial states, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from actlab.search import Attr, Outcomes, leaderboard, run_search
from actlab.search._config import FRESH_SEED_BASE

from tests.search._fakes import FakeSpace, fake_config

# Fake baselines: any text the fake evaluator understands. relu itself scores best; tanh-like scores worse.
BASES = ("add(relu(x), zero(x))", "add(tanh(x), zero(x))")


def _run(tmp_path: Path, **kw):
    cfg = fake_config(storage=str(tmp_path / "s.db"), study="fin", baselines=BASES, top_k=3, reeval_seeds=3,
                      **kw)
    return cfg, run_search(cfg, space=FakeSpace())


def test_final_stage_uses_fresh_seeds_and_paired_corrected_tests(tmp_path: Path) -> None:
    cfg, res = _run(tmp_path, budget=20, check_task="fake;check=1", check_seeds=2)
    board = res.board
    found = [r for r in board.rows if r.kind == "found"]
    assert len(found) == 3 and board.baselines_done and board.has_final
    search_seeds = set(range(cfg.seeds + cfg.race_seeds))
    for r in board.rows:
        assert r.seeds == [FRESH_SEED_BASE + i for i in range(3)] and not search_seeds & set(r.seeds)
        assert r.check is not None and sorted(r.check.test) == [FRESH_SEED_BASE, FRESH_SEED_BASE + 1]
    for r in found:
        assert set(r.vs) == set(BASES) and r.search_score is not None
        for b, t in r.vs.items():
            assert t.n == 3 and t.p_adjusted >= t.p
            assert (b in r.beats) == (t.p_adjusted < 0.05 and t.delta > 0)
    # Holm over all 3 x 2 pairs: the adjusted p-values are the step-down maxima of the sorted raw ones
    tests = sorted((t for r in found for t in r.vs.values()), key=lambda t: t.p)
    assert all(a.p_adjusted <= b.p_adjusted for a, b in zip(tests, tests[1:], strict=False))
    doc = board.to_json()
    assert set(doc) == {"study", "task", "protocol", "rows"}
    assert set(doc["protocol"]) == {"steps", "search_seeds", "reeval_seeds", "test", "correction", "alpha",
                                    "check_task"}
    assert "Holm" in doc["protocol"]["correction"] and doc["protocol"]["check_task"] == "fake;check=1"
    for row in doc["rows"]:
        assert set(row) == {"expression", "kind", "rank", "same_as", "seeds", "search_score", "test_acc", "vs",
                            "beats", "holds", "cost", "check"}
        assert set(row["test_acc"]) == {"mean", "ci"} and set(row["check"]) == {"task", "test_acc", "vs"}
        for v in row["vs"].values():
            assert set(v) == {"delta", "ci", "p", "p_adjusted"}
    json.dumps(doc, allow_nan=False)  # valid JSON: no NaN


def test_only_trainings_are_complete_and_metric_names_are_set(tmp_path: Path) -> None:
    _, res = _run(tmp_path, budget=25, strategy="tpe")
    study = optuna.load_study(study_name=res.study, storage=res.storage)
    assert study.metric_names == ["val_acc"]
    outcomes = {t.user_attrs.get(Attr.OUTCOME) for t in study.trials}
    assert Outcomes.TRAINED in outcomes and (Outcomes.DUPLICATE in outcomes or Outcomes.SKIPPED in outcomes)
    for t in study.trials:
        if t.user_attrs.get(Attr.OUTCOME) in (Outcomes.SKIPPED, Outcomes.DUPLICATE):
            assert t.state == TrialState.FAIL
        if t.state == TrialState.COMPLETE:
            assert t.user_attrs[Attr.OUTCOME] == Outcomes.TRAINED and t.user_attrs[Attr.PER_SEED]
    assert all(t.user_attrs[Attr.OUTCOME] == Outcomes.TRAINED for t in study.best_trials)
    final = optuna.load_study(study_name=res.study + ":final", storage=res.storage)
    assert final.metric_names == ["val_acc"]
    assert all(t.user_attrs[Attr.EXPRESSION] == t.user_attrs[Attr.ACT] for t in final.trials)


def test_racing_gives_top_candidates_extra_seeds(tmp_path: Path) -> None:
    _, res = _run(tmp_path, budget=12, race_seeds=2)
    assert res.raced > 0
    study = optuna.load_study(study_name=res.study, storage=res.storage)
    raced = [t for t in study.trials if t.user_attrs.get(Attr.RACED)]
    assert len(raced) == res.raced
    for t in raced:
        seeds = [s["seed"] for s in t.user_attrs[Attr.PER_SEED]]
        assert seeds == [0, 1, 2] and t.state == TrialState.COMPLETE
        vals = sorted(s["val_acc"] for s in t.user_attrs[Attr.PER_SEED])
        assert t.values[0] == pytest.approx(vals[1])  # the median over the search and racing seeds
    # the winner's-curse gap is reported beside the fresh score
    row = next(r for r in res.board.rows if r.kind == "found")
    assert row.gap == pytest.approx(row.search_score - row.fresh_val)


def test_a_study_without_final_stage_says_how_to_finish(tmp_path: Path) -> None:
    from actlab.report.search import final_stage_notice

    cfg = fake_config(storage=str(tmp_path / "s.db"), study="nofinal", baselines=BASES, budget=6)
    run_search(cfg, space=FakeSpace(), final=False)
    board = leaderboard("nofinal", cfg.storage and f"sqlite:///{cfg.storage}")
    assert not board.has_final and not board.baselines_done
    lines = final_stage_notice(board)
    assert "no final stage" in lines[0] and lines[1].startswith("actlab search ") and "--budget 1" in lines[1]
    assert "--study nofinal" in lines[1] and "--check-task none" in lines[1]


def test_check_task_default_and_none() -> None:
    from actlab.search import SearchConfig

    assert SearchConfig().check_task == "digits-mlp"
    assert SearchConfig(task="digits-mlp").check_task == "mnist1d-mlp"
    assert SearchConfig(check_task="none").check_task is None
    with pytest.raises(ValueError, match="check-task must differ"):
        SearchConfig(task="mnist1d-mlp", check_task="mnist1d-mlp")
    with pytest.raises(ValueError, match="two pairs"):
        SearchConfig(reeval_seeds=1)


def test_cli_show_json_matches_the_board(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from actlab.cli import app

    cfg = fake_config(storage=str(tmp_path / "s.db"), study="cli", baselines=BASES, budget=6, reeval_seeds=2,
                      top_k=2)
    res = run_search(cfg, space=FakeSpace())
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, ["show", "cli", "--storage", res.storage, "--json", str(tmp_path / "b.json"),
                                   "--out-dir", str(tmp_path / "p")])
    assert out.exit_code == 0, out.output
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc == json.loads(json.dumps(res.board.to_json()))
    assert "Hall of fame" in out.output and "Holm" in out.output


def test_an_interrupted_final_stage_leaves_nothing_running_and_resumes(tmp_path: Path) -> None:
    cfg = fake_config(storage=str(tmp_path / "s.db"), study="fin", baselines=BASES, top_k=2, reeval_seeds=3,
                      budget=12, task="fake;delay=0.2")

    def stop_after_first(kind: str, info: dict) -> None:
        if kind == "final-trial":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_search(cfg, space=FakeSpace(), on_event=stop_after_first)
    final = optuna.load_study(study_name="fin:final", storage=f"sqlite:///{tmp_path / 's.db'}")
    states = [t.state for t in final.get_trials()]
    assert TrialState.RUNNING not in states and TrialState.COMPLETE in states
    requeued = [t for t in final.get_trials() if t.user_attrs.get(Attr.REQUEUED)]
    assert requeued and all(t.state == TrialState.FAIL for t in requeued)
    # The same process resumes: every planned evaluation is done once, none of the requeued ones is lost.
    res = run_search(cfg, space=FakeSpace())
    board = res.board
    assert board.has_final and all(len(r.seeds) == 3 for r in board.rows)
    final = optuna.load_study(study_name="fin:final", storage=f"sqlite:///{tmp_path / 's.db'}")
    done = [t.user_attrs[Attr.KEY] for t in final.get_trials() if t.state == TrialState.COMPLETE]
    assert len(done) == len(set(done)) == (2 + len(BASES)) * 3


def test_the_check_task_trains_at_its_own_budget_not_the_searchs_steps(tmp_path: Path) -> None:
    cfg, _ = _run(tmp_path, budget=6, steps=40, check_task="fake;check=1", check_seeds=2)
    final = optuna.load_study(study_name="fin:final", storage=f"sqlite:///{tmp_path / 's.db'}")
    steps = {(t.user_attrs[Attr.ROLE], t.user_attrs[Attr.RESULT]["steps_done"]) for t in final.get_trials()
             if t.state == TrialState.COMPLETE}
    # the main task's rows at the search's --steps; the check task's at its preset (the fake's 100)
    assert steps == {("top", 40), ("baseline", 40), ("check", 100)}
