from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actlab.bench import accuracy
from actlab.cli import app


@pytest.mark.parametrize("text, expected", [
    ("relu,elu, isrlu", ["relu", "elu", "isrlu"]),
    ("relu,isrlu:alpha=3,isrlu(alpha=1, trainable=true)", ["relu", "isrlu:alpha=3", "isrlu(alpha=1, trainable=true)"]),
    ("swish:beta=2,trainable=true,relu", ["swish:beta=2,trainable=true", "relu"]),
    ("max(x, sigmoid(x)),relu", ["max(x, sigmoid(x))", "relu"]),
    (" , ", []),
])
def test_split_acts(text: str, expected: list[str]) -> None:
    assert accuracy.split_acts(text) == expected


def test_cli_bench_accuracy_writes_table_csv_and_plot(tmp_path: Path) -> None:
    md, csv_path, png = tmp_path / "r.md", tmp_path / "r.csv", tmp_path / "r.png"
    runner = CliRunner()
    args = ["bench", "accuracy", "--acts", "tanh,isrlu:alpha=3", "--task", "digits-mlp", "--seeds", "2",
            "--steps", "20"]
    res = runner.invoke(app, [*args, "--out", str(md), "--plot", str(png)])
    assert res.exit_code == 0, res.output
    assert "isrlu:alpha=3" in res.output and "relu (base)" in res.output
    # CliRunner is not a terminal: one plain line per finished run instead of a live bar that prints at the end
    done = re.findall(r"^\[(\d)/6\] (relu|tanh|isrlu:alpha=3) seed ([01]): val \d\.\d{3} \(\d+\.\d s\)$", res.output,
                      re.M)
    assert sorted(n for n, _, _ in done) == ["1", "2", "3", "4", "5", "6"], res.output
    assert len({(a, s) for _, a, s in done}) == 6
    text = md.read_text()
    assert text.startswith("| activation | mean") and "| tanh |" in text and "Holm" in text
    assert "Smallest effect detected" in text and "paired t-test" in text
    assert png.stat().st_size > 10_000
    res = runner.invoke(app, [*args, "--out", str(csv_path), "--json", str(tmp_path / "runs.json")])
    assert res.exit_code == 0, res.output
    runs = json.loads((tmp_path / "runs.json").read_text())
    assert len(runs["evaluations"]["tanh"]["results"]) == 2
    rows = list(csv.DictReader(csv_path.open()))
    assert [r["act"] for r in rows] == ["relu", "tanh", "isrlu:alpha=3"]
    assert 0 <= float(rows[1]["median"]) <= 1 and rows[0]["p_value"] == ""


@pytest.mark.parametrize("args, message", [
    (["--task", "nope"], "unknown task"),
    (["--acts", "relu,isrluu"], "isrlu"),
    (["--out", "table.txt"], ".md or .csv"),
])
def test_cli_bench_accuracy_errors(args: list[str], message: str) -> None:
    res = CliRunner().invoke(app, ["bench", "accuracy", "--task", "digits-mlp", "--seeds", "1", "--steps", "2",
                                   *args])
    assert res.exit_code == 2
    assert message in res.output
