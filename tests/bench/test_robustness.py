from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from actlab.cli import app

runner = CliRunner()


@pytest.mark.parametrize("args, message", [
    (["--eps", "0"], "eps must be > 0"), (["--eps", "-0.1"], "eps must be > 0"),
    (["--attack", "cw"], "unknown attack 'cw'"), (["--eps", "abc"], "--eps must be"),
    (["--norm", "l1"], "norm must be"), (["--task", "nope"], "unknown task"),
])
def test_bad_input_is_one_line(args: list[str], message: str) -> None:
    r = runner.invoke(app, ["bench", "robustness", *args])
    assert r.exit_code == 2 and message in r.output and r.output.strip().count("\n") == 0


def test_runs_and_writes_json(tmp_path) -> None:
    out = tmp_path / "rob.json"
    r = runner.invoke(app, ["bench", "robustness", "--acts", "relu,swish", "--task", "digits-mlp", "--attack",
                            "trust-region,fgsm", "--eps", "0.1", "--seeds", "2", "--steps", "60", "--n-eval", "100",
                            "--json", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert d["task"] == "digits-mlp"
    assert {(row["activation"], row["attack"]) for row in d["rows"]} == {
        (a, k) for a in ("relu", "swish") for k in ("trust-region", "fgsm")}
    assert "| swish | trust-region | 0.1 |" in r.output
