"""``actlab search`` as a user runs it: defaults from SearchConfig, and readable progress in a log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import actlab.search
from actlab.cli import app
from actlab.search import SearchConfig
from actlab.train import Task
from tests.search._fakes import FakeSpace, fake_config


@pytest.fixture
def captured(monkeypatch) -> list[SearchConfig]:
    """Replace the search itself: the command's SearchConfig is recorded, nothing runs."""
    seen: list[SearchConfig] = []

    def fake_run_search(cfg: SearchConfig, on_event=None):
        seen.append(cfg)
        raise ValueError("stop here")  # the command turns it into a clean error exit

    monkeypatch.setattr(actlab.search, "run_search", fake_run_search)
    return seen


def test_search_defaults_are_search_configs(captured) -> None:
    res = CliRunner().invoke(app, ["search"])
    assert res.exit_code == 2 and "stop here" in res.output
    assert captured == [SearchConfig()]


def test_population_reaches_the_config_and_a_bad_one_is_one_line(captured) -> None:
    CliRunner().invoke(app, ["search", "--population", "8"])
    assert captured[-1].population == 8
    res = CliRunner().invoke(app, ["search", "--population", "0"])
    assert res.exit_code == 2 and "--population must be a whole number >= 1 or auto, got '0'" in res.output
    assert "Traceback" not in res.output


def test_baselines_reach_the_config_and_an_unknown_one_is_one_line(captured, tmp_path: Path) -> None:
    CliRunner().invoke(app, ["search", "--space", "gated", "--baselines", "relu, swiglu,bilinear"])
    assert captured[-1].baselines == ("relu", "swiglu", "bilinear")
    res = CliRunner().invoke(app, ["search", "--baselines", "relu,nosuch", "--storage", str(tmp_path / "s.db")])
    assert res.exit_code == 2 and "baseline 'nosuch': unknown activation 'nosuch'" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "s.db").exists()  # refused before any file exists


def _own_loop(act_layer, seed, report) -> float:
    return 0.5


OWN_LOOP = Task("own-loop", objective=_own_loop)


def test_a_task_with_its_own_objective_trains_one_at_a_time_and_says_so() -> None:
    with pytest.warns(UserWarning, match="cannot train a population: its candidates train one at a time"):
        cfg = SearchConfig(task="tests.search.test_search_cli:OWN_LOOP", population=4)
    assert cfg.population == 1


def test_search_defaults_follow_a_changed_search_config(captured, monkeypatch) -> None:
    # The CLI has no copy of its own: change SearchConfig's default and the command (and its help) follow.
    monkeypatch.setattr(SearchConfig, "strategy", "random")
    monkeypatch.setattr(SearchConfig, "top_k", 7)
    CliRunner().invoke(app, ["search"])
    assert captured[0].strategy == "random" and captured[0].top_k == 7
    help_text = CliRunner().invoke(app, ["search", "--help"], env={"COLUMNS": "200"}).output
    assert re.search(r"--strategy .*\[default: random\]", help_text)
    assert re.search(r"--top-k .*\[default: 7\]", help_text)
    assert "[default: None]" not in help_text  # unset defaults (workers, storage…) are explained in the help


def test_search_prints_one_line_per_trial_when_not_a_terminal(monkeypatch, tmp_path: Path) -> None:
    real = actlab.search.run_search

    def fast_search(cfg: SearchConfig, on_event=None):  # the driver's real events, on the synthetic space
        cfg = fake_config(budget=4, storage=str(tmp_path / "s.db"), study="s")
        return real(cfg, space=FakeSpace(), final=False, on_event=on_event)

    monkeypatch.setattr(actlab.search, "run_search", fast_search)
    res = CliRunner().invoke(app, ["search"])  # CliRunner's stdout is not a terminal
    assert res.exit_code == 0, res.output
    lines = re.findall(r"^\[(\d)/4\] trial \d+ \w+\(.*\): (?:val \d\.\d{4}|pruned|fail).*$", res.output, re.M)
    assert sorted(lines) == ["1", "2", "3", "4"], res.output
    assert "search stopped: budget of 4 trials" in res.output


@pytest.mark.parametrize("args, says", [
    (["--objective", "accuracy,robust"], "--objective must be accuracy"),
    (["--objective", "robustness"], "--objective must be accuracy"),
    (["--objective", "accuracy,robustness", "--eps", "0"], "eps must be > 0"),
    (["--objective", "accuracy,robustness", "--eps", "-0.5"], "eps must be > 0"),
    (["--objective", "accuracy,robustness", "--attack", "fgsn"], "unknown attack 'fgsn'; did you mean fgsm"),
    (["--objective", "accuracy,robustness", "--norm", "l3"], "norm must be one of linf, l2"),
])
def test_bad_robustness_objective_input_is_a_one_line_error(captured, args: list[str], says: str) -> None:
    res = CliRunner().invoke(app, ["search", *args])
    assert res.exit_code == 2 and says in res.output and not captured, res.output
    assert len(res.output.strip().splitlines()) == 1, res.output


def test_sigterm_stops_the_search_cleanly_and_it_resumes(monkeypatch, tmp_path: Path) -> None:
    # What a cluster scheduler does to a job: SIGTERM mid-search. The command exits 130 with one line, the trials
    # in flight are requeued (none stays RUNNING), and the same command again finishes the budget.
    import os
    import signal

    import optuna
    from optuna.trial import TrialState

    from actlab.search import evaluated

    real = actlab.search.run_search
    cfg = fake_config(budget=6, storage=str(tmp_path / "s.db"), study="s")
    kill_after = [2]

    def search(_cfg: SearchConfig, on_event=None):
        def events(kind: str, info: dict) -> None:
            on_event(kind, info)
            if kind == "trial":
                kill_after[0] -= 1
                if kill_after[0] == 0:
                    os.kill(os.getpid(), signal.SIGTERM)
        return real(cfg, space=FakeSpace(), final=False, on_event=events)

    monkeypatch.setattr(actlab.search, "run_search", search)
    before = signal.getsignal(signal.SIGTERM)
    res = CliRunner().invoke(app, ["search"])
    assert res.exit_code == 130, res.output
    assert "interrupted: the finished trials are recorded; run the same command again to resume" in res.output
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is the command's only
    study = optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 's.db'}")
    trials = study.get_trials()
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert 2 <= len(evaluated(study)) < 6
    kill_after[0] = -1  # no more signals
    res = CliRunner().invoke(app, ["search"])
    assert res.exit_code == 0, res.output
    assert len(evaluated(study)) == 6
