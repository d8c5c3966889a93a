"""The ``actlab`` command. Thin wiring only: every command calls a function from a package below.

Each issue's commands live in their own section; keep imports inside the commands so ``actlab --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Use, compare and discover activation functions.")
bench_app = typer.Typer(no_args_is_help=True, help="Speed and accuracy benchmarks.")
app.add_typer(bench_app, name="bench")


def _fail(message: str) -> None:
    """Print a one-line error and exit 2, instead of a traceback, for input the user can fix."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


# ---------------------------------------------------------------- zoo, kernels, plots (issue 2)


@app.command("list")
def list_cmd() -> None:
    """List the activation zoo with each entry's properties."""
    from rich.console import Console
    from rich.table import Table

    import actlab

    table = Table(title="actlab activation zoo")
    for col in ("name", "hyperparameters", "monotonic", "bounded", "smoothness", "fused kernel", "reference"):
        table.add_column(col)
    for name in actlab.names():
        s = actlab.spec(name)
        bounds = {(True, True): "both", (True, False): "below", (False, True): "above"}.get(
            (s.bounded_below, s.bounded_above), "no")
        hp = ", ".join(f"{k}={v:g}" for k, v in s.defaults.items())
        table.add_row(name, hp, "yes" if s.monotonic else "no", bounds, s.smoothness, s.kernel or "-",
                      s.citation.split(",")[0])
    Console().print(table)


@app.command()
def plot(names: list[str] = typer.Argument(..., help="activation names, e.g. isrlu elu swish"),
         out: Path = typer.Option(Path("activations.png"), "--out", "-o", help="PNG file to write"),
         lo: float = typer.Option(-5.0, help="left end of the x range"),
         hi: float = typer.Option(5.0, help="right end of the x range")) -> None:
    """Plot f, f' and f'' of zoo activations, one panel each."""
    from actlab.report.plots import plot_activations

    try:
        path = plot_activations(names, out, lo=lo, hi=hi)
    except KeyError as e:
        _fail(str(e.args[0]))
    typer.echo(f"wrote {path}")

# ---------------------------------------------------------------- expressions (issue 3)

# ---------------------------------------------------------------- harness (issue 4)

# ---------------------------------------------------------------- search (issue 5)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
