"""The command line with user tasks: --task module:attr, --train-fn, --device, and the README's example."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from actlab.cli import app

ROOT = Path(__file__).resolve().parents[1]


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Search your own model", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_readme_search_your_own_model_example_runs(tmp_path: Path) -> None:
    code = _readme_example()
    assert len(code.strip().splitlines()) <= 20
    (tmp_path / "my_search.py").write_text(code)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "my_search.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    names = [line.split()[0] for line in out.stdout.splitlines() if " test " in line]
    assert {"relu", "swish"} <= set(names) and len(names) == 3, out.stdout
    study = optuna.load_study(study_name="evolution-my-digits-u1", storage=f"sqlite:///{tmp_path}/runs/"
                              "evolution-my-digits-u1.db")
    assert study.user_attrs["config"]["task"] == "my_search:TASK"  # the name the shell resumes it by
    # The same task from the shell, found in the current directory.
    res = subprocess.run([sys.executable, "-m", "actlab", "bench", "accuracy", "--task", "my_search:TASK",
                          "--acts", "tanh", "--seeds", "2", "--steps", "30"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "tanh" in res.stdout and "relu (base)" in res.stdout, res.stderr[-2000:]


@pytest.mark.slow
def test_search_with_a_custom_evaluator(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the space cache (runs/.cache) goes there too
    db = tmp_path / "c.db"
    res = CliRunner().invoke(app, ["search", "--train-fn", "tests.train._usertasks:relu_likeness", "--budget", "3",
                                   "--workers", "1", "--top-k", "1", "--reeval-seeds", "2", "--storage", str(db),
                                   "--study", "c", "--pruner", "none"])
    assert res.exit_code == 0, res.output
    study = optuna.load_study(study_name="c", storage=f"sqlite:///{db}")
    assert study.user_attrs["config"]["task"] == "tests.train._usertasks:relu_likeness"
    done = [t for t in study.trials if t.state.name == "COMPLETE" and "duplicate_of" not in t.user_attrs]
    assert len(done) == 3 and all(0 < t.value <= 1 for t in done)
    assert "relu" in res.output  # the baselines' rows, scored by the same evaluator


@pytest.mark.parametrize("args, message", [
    (["search", "--task", "nope"], "unknown task 'nope'"),
    (["search", "--task", "no_such_pkg.mod:T"], "cannot import module"),
    (["search", "--task", "tests.train._usertasks:BLOB"], "did you mean BLOBS"),
    (["search", "--train-fn", "tests.train._usertasks:BLOBS"], "use --task"),
    (["search", "--device", "tpu"], "unknown device 'tpu'"),
    (["bench", "accuracy", "--task", "tests.train._usertasks:NOT_A_TASK"], "expected a Task"),
    (["bench", "accuracy", "--device", "quantum"], "unknown device"),
])
def test_bad_tasks_and_devices_fail_in_one_line_before_any_file(args: list[str], message: str, tmp_path: Path,
                                                               monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and message in res.output and len(res.output.strip().splitlines()) == 1, res.output
    assert not list(tmp_path.iterdir())  # no study, no runs/ folder
