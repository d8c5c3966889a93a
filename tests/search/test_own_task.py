""""Search your own model" exactly as the README has it: the script shows its progress, the shell resumes its study
with the same task and steps, and the automatic check task never uses the search's own data."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("optuna")

from actlab.train import Task  # noqa: E402

SCRIPT = textwrap.dedent('''
    from torch import nn

    from actlab.search import SearchConfig, run_search
    from actlab.train import Task


    def my_net(act_layer):
        return nn.Sequential(nn.Linear(64, 32), act_layer(), nn.Linear(32, 10))


    TASK = Task("my-digits", dataset="digits", model=my_net, optimizer="sgd", lr=0.05, steps=30, batch_size=32,
                eval_every=10)

    if __name__ == "__main__":
        cfg = SearchConfig(task=TASK, strategy="evolution", budget=2, steps=None, workers=1, top_k=1,
                           reeval_seeds=2, check_seeds=2, baselines=("relu",), pruner="none")
        res = run_search(cfg)
        print("STUDY", res.study, cfg.check_task)
''')


def test_the_readme_script_shows_progress_and_the_shell_resumes_it(tmp_path: Path) -> None:
    (tmp_path / "my_search.py").write_text(SCRIPT)
    run = subprocess.run([sys.executable, "my_search.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout + run.stderr
    assert "trial 0" in out and "trial 1" in out, out  # not silent: every trial says how it ended
    study, check = next(line.split()[1:] for line in run.stdout.splitlines() if line.startswith("STUDY"))
    assert check == "mnist1d-mlp"  # the task trains on digits: the check must not be digits-mlp
    again = subprocess.run([sys.executable, "-m", "actlab", "search", "--task", "my_search:TASK", "--strategy",
                            "evolution", "--budget", "3", "--workers", "1", "--top-k", "1", "--reeval-seeds", "2",
                            "--check-seeds", "2", "--pruner", "none"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=600,
                           env={**__import__("os").environ, "COLUMNS": "300"})
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert "different protocol" not in again.stderr
    assert f"study {study}" in again.stdout and "2 trials done" in again.stdout, again.stdout[-3000:]


def _net(act_layer):
    from torch import nn

    return nn.Sequential(nn.Linear(64, 10), act_layer())


MINE = Task("mine", dataset="digits", model=_net, steps=123)  # module level, as the search requires


def test_steps_default_to_the_search_fidelity_on_presets_and_the_tasks_own_on_yours() -> None:
    from actlab.search import SearchConfig
    from actlab.search._config import PRESET_STEPS

    mine = MINE
    assert SearchConfig(task="digits-mlp").steps == PRESET_STEPS
    assert SearchConfig(task=mine, check_task="none").steps is None
    assert SearchConfig(task=mine, steps=50, check_task="none").steps == 50
    from typer.testing import CliRunner

    from actlab.cli import app

    help_text = CliRunner().invoke(app, ["search", "--help"], env={"COLUMNS": "300"}).output
    assert f"{PRESET_STEPS} on a preset task" in help_text


def test_the_automatic_check_task_compares_data_not_names() -> None:
    from actlab.search._config import DEFAULT_CHECK_TASK, auto_check_task
    from actlab.train import Task

    assert auto_check_task(Task("x", dataset="digits", model="mlp")) != DEFAULT_CHECK_TASK
    assert auto_check_task(DEFAULT_CHECK_TASK) != DEFAULT_CHECK_TASK
    assert auto_check_task("mnist1d-cnn") == DEFAULT_CHECK_TASK
