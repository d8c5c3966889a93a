"""The command line as a user runs it; each issue's commands have their own tests beside their package."""

import subprocess
import sys

from typer.testing import CliRunner

from actlab.cli import app

runner = CliRunner()


def test_list_shows_every_activation():
    import actlab

    result = runner.invoke(app, ["list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in actlab.names():
        assert name in result.output


def test_plot_writes_file(tmp_path):
    out = tmp_path / "fig.png"
    result = runner.invoke(app, ["plot", "isrlu", "elu", "swish", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000


def test_plot_unknown_name_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["plot", "isrl", "--out", str(tmp_path / "f.png")])
    assert result.exit_code == 2
    assert "did you mean isrlu" in result.output


def test_python_dash_m_entry_point():
    proc = subprocess.run([sys.executable, "-m", "actlab", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "plot" in proc.stdout


def test_progress_is_a_live_bar_on_a_terminal_and_plain_lines_elsewhere():
    import io

    from rich.console import Console
    from rich.progress import BarColumn

    from actlab._progress import UnitProgress

    for terminal in (True, False):
        buf = io.StringIO()
        with UnitProgress(BarColumn(), console=Console(file=buf, force_terminal=terminal, width=60)) as p:
            job = p.add_task("training", total=40)
            p.update(job, advance=3, line="relu seed 2: val 0.912 (4.1 s) " + "x" * 80)
        lines = [ln for ln in buf.getvalue().splitlines() if ln.startswith("[3/40] relu seed 2: val 0.912 (4.1 s) x")]
        assert len(lines) == (0 if terminal else 1), buf.getvalue()  # one unwrapped log line, or only the bar
        assert ("━" in buf.getvalue()) is terminal


# ---------------------------------------------------------------- --version, --json, pipes (issue 14)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "actlab", *args], capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "COLUMNS": "60"})


def test_version():
    import actlab

    proc = _run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"actlab {actlab.__version__}"


def test_list_in_a_pipe_truncates_nothing_and_json_lists_every_spec():
    import json

    import actlab

    table = _run("list").stdout  # a pipe, and a narrow COLUMNS: still every name in full
    assert "…" not in table and all(name in table for name in actlab.names())
    data = json.loads(_run("list", "--json").stdout)
    assert [d["name"] for d in data] == actlab.names()
    assert all(d["citation"] == actlab.spec(d["name"]).citation for d in data)


def test_expr_and_space_json():
    import json

    d = json.loads(_run("expr", "x * sigmoid(beta * x)", "--json", "--no-measure").stdout)
    assert d["expr"] == "x * sigmoid(beta * x)" and d["betas"] == 1 and d["monotonic"] is False
    s = json.loads(_run("space", "--units", "2", "--sample", "50", "--json").stdout)
    assert s["units"] == 2 and s["examined"] == 50 and s["sampled"] is True
    bad = _run("expr", "x +* 2", "--json")
    assert bad.returncode == 2 and bad.stdout == "" and "error" in bad.stderr


def _imported(args: list[str]) -> tuple[str, set[str]]:
    """Run ``python -X importtime -m actlab ARGS``; its output and the top-level packages it imported."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "actlab", *args], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    mods = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
            if line.startswith("import time:")}
    return proc.stdout, mods


def test_version_and_help_do_not_import_torch() -> None:
    out, mods = _imported(["--version"])
    assert out.startswith("actlab ") and "torch" not in mods and "numba" not in mods
    out, mods = _imported(["--help"])
    assert "search" in out and "torch" not in mods


def test_the_command_loads_the_zoo_on_first_use() -> None:
    import json

    out, mods = _imported(["list", "--json"])
    assert "torch" in mods and {"isrlu", "swiglu"} <= {row["name"] for row in json.loads(out)}


def test_an_unknown_activation_is_one_line() -> None:
    r = runner.invoke(app, ["bench", "accuracy", "--acts", "nosuchact", "--task", "digits-mlp", "--seeds", "1"])
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert r.exit_code != 0 and len(lines) == 1 and "unknown activation 'nosuchact'" in lines[0], r.output


def test_an_interrupt_closes_the_live_display_before_its_message(capsys) -> None:
    import pytest
    import typer

    from actlab.cli._common import resumable

    closed = []
    with pytest.raises(typer.Exit):
        with resumable("the search", before=lambda: closed.append(True)):
            raise KeyboardInterrupt
    err = capsys.readouterr().err
    assert closed == [True] and err.startswith("\n") and "run the same command again" in err
