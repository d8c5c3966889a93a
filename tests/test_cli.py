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
