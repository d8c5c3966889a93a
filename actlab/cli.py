"""The ``actlab`` command. Thin wiring only: every command calls a function from a package below.

Each issue's commands live in their own section; keep imports inside the commands so ``actlab --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

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


@bench_app.command("speed")
def bench_speed(
    json_path: Optional[Path] = typer.Option(None, "--json", help="write one record per activation and size"),
    sizes: Optional[list[int]] = typer.Option(None, "--sizes", help="tensor sizes in elements (repeatable; "
                                              "default 1K, 4K, 64K and 16M)"),
    repeats: int = typer.Option(20, "--repeats", help="timed runs per figure (median reported)"),
    names: Optional[list[str]] = typer.Option(None, "--act", help="only these activations (repeatable)"),
    newton: list[int] = typer.Option([1, 2], "--newton", help="Newton steps of the approximate-ISRLU rows"),
    markdown: bool = typer.Option(False, "--markdown", help="print a Markdown table instead of a rich one"),
) -> None:
    """Fused kernels against a memory copy, PyTorch's native op and the composite reference (float32)."""
    from rich.console import Console

    from actlab.bench import speed

    try:
        records = speed.run(names=names, sizes=sizes or speed.DEFAULT_SIZES, repeats=repeats, newton=newton)
    except (KeyError, ValueError) as e:
        _fail(str(e.args[0]) if e.args else str(e))
    if markdown:
        typer.echo(speed.to_markdown(records))
    else:
        Console().print(speed.rich_table(records))
    if json_path is not None:
        speed.write_json(records, json_path)
        typer.echo(f"wrote {json_path}")

# ---------------------------------------------------------------- expressions (issue 3)


@app.command("expr")
def expr_cmd(text: str = typer.Argument(..., help='an expression, e.g. "x * sigmoid(beta * x)"'),
             plot: Optional[Path] = typer.Option(None, "--plot", help="PNG file for f, f' and f''"),
             measure: bool = typer.Option(True, "--measure/--no-measure",
                                          help="time the generated fused kernel (compiles it)")) -> None:
    """Canonical form, LaTeX, properties and cost of an expression of the search space."""
    from actlab.expr import describe

    try:
        typer.echo(describe(text, measure=measure, plot=plot))
    except ValueError as e:  # ExprSyntaxError (with a caret under the problem) or a kernel that cannot be generated
        _fail(str(e))


@app.command("space")
def space_cmd(units: int = typer.Option(1, "--units", min=1, help="core units per candidate"),
              sample: int = typer.Option(2000, "--sample", min=1,
                                         help="candidates to examine when the space is too big to enumerate"),
              seed: int = typer.Option(0, "--seed", help="seed of that sample")) -> None:
    """Raw size, distinct functions and prefilter rejections (by reason) of the paper's search space."""
    from actlab.expr import space_summary

    typer.echo(str(space_summary(units, sample=sample, seed=seed)))

# ---------------------------------------------------------------- harness (issue 4)


@bench_app.command("accuracy")
def bench_accuracy(
    acts: str = typer.Option("relu,elu,isrlu,swish", "--acts",
                             help='comma-separated activations: names ("isrlu:alpha=3"), expressions'),
    task: str = typer.Option("mnist1d-cnn", "--task", help="task preset (see actlab.train.TASKS)"),
    seeds: int = typer.Option(5, "--seeds", min=1, help="seeds 0..N-1, paired across activations"),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="override the task's step budget"),
    workers: int = typer.Option(1, "--workers", min=1, help="parallel processes, one thread each"),
    baseline: Optional[str] = typer.Option(None, "--baseline", help="paired against this (default: the task's)"),
    metric: str = typer.Option("test_acc", "--metric", help="test_acc (final reports) or val_acc"),
    out: Optional[Path] = typer.Option(None, "--out", help="write the table: results.md or results.csv"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="write accuracy-with-CI and training-curve plots"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write every run (curves included) as JSON"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="dataset folder (CIFAR-10, Fashion-MNIST)"),
) -> None:
    """Train each activation on TASK over SEEDS and compare with the baseline (paired over seeds)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from actlab._progress import UnitProgress
    from actlab.bench import accuracy
    from actlab.data import DataError
    from actlab.train import TASKS

    names = accuracy.split_acts(acts)
    if not names:
        _fail("--acts is empty")
    if task not in TASKS:
        _fail(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    if out is not None and out.suffix.lower() not in (".md", ".markdown", ".csv"):
        _fail(f"--out must end in .md or .csv, got {out.name!r}")
    base = baseline or TASKS[task].baseline
    total = seeds * (len(names) + (base not in names))
    console = Console()
    with UnitProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as bar:
        job = bar.add_task(f"{task}: training", total=total)

        def tick(r) -> None:
            bar.update(job, advance=1, description=f"{task}: {r.act} seed {r.seed} -> {r.val_acc:.3f}",
                       line=f"{r.act} seed {r.seed}: val {r.val_acc:.3f} ({r.wall_time:.1f} s)")

        try:
            comp = accuracy.run(names, task=task, seeds=seeds, steps=steps, workers=workers, baseline=base,
                                metric=metric, data_dir=data_dir, progress=tick)
        except (KeyError, ValueError, TypeError, DataError) as e:
            _fail(str(e.args[0]) if e.args else str(e))
    console.print(accuracy.rich_table(comp))
    if out is not None:
        console.print(f"table written to {accuracy.write_table(comp, out)}")
    if plot is not None:
        from actlab.report.accuracy import plot_accuracy

        plot_accuracy(comp, plot)
        console.print(f"plot written to {plot}")
    if json_out is not None:
        import json

        json_out.write_text(json.dumps(comp.to_dict(), indent=1))
        console.print(f"runs written to {json_out}")


# ---------------------------------------------------------------- search (issue 5)


class _SearchDefault:
    """A default of ``actlab search``, read from :class:`actlab.search.SearchConfig` (its one source of truth).

    click calls it only when it needs the value and shows ``str`` of it in ``--help``, so ``actlab --help`` and the
    other commands do not pay for importing actlab.search (and optuna).
    """

    def __init__(self, field: str) -> None:
        self.field = field

    def __call__(self) -> Any:
        from actlab.search import SearchConfig

        return getattr(SearchConfig, self.field)  # a dataclass field's default is its class attribute

    def __str__(self) -> str:
        value = self()
        return "" if value is None else str(value)  # None: the help text says what happens


def _search_option(field: str, help: str) -> Any:
    return typer.Option(default_factory=_SearchDefault(field), help=help)


@app.command()
def search(task: str = _search_option("task", "training task preset the children train on"),
           space: str = _search_option("space", "core units of the expression space: 1 or 2"),
           strategy: str = _search_option("strategy", "exhaustive, random, tpe, evolution, controller, nsga2"),
           budget: str = _search_option("budget", "trials in total (e.g. 150) or wall time of this run (5m, 90s)"),
           seeds: int = _search_option("seeds", "seeds per candidate during the search (median val accuracy)"),
           steps: Optional[int] = _search_option("steps", "child training steps (the search fidelity)"),
           workers: Optional[int] = _search_option("workers", "local worker processes (default: one per core)"),
           storage: Optional[str] = _search_option("storage", "SQLAlchemy URL or file (default runs/STUDY.db)"),
           study: Optional[str] = _search_option("study", "study name (default: STRATEGY-TASK-uUNITS)"),
           ray_address: Optional[str] = _search_option("ray_address", "evaluate on Ray: auto or HOST:PORT"),
           objective: str = _search_option("objective", "accuracy, or accuracy,speed for a Pareto front"),
           controller_algo: str = _search_option("controller_algo", "controller training: ppo or reinforce"),
           pruner: str = _search_option("pruner", "halving, hyperband or none"),
           top_k: int = _search_option("top_k", "top candidates re-evaluated for the leaderboard"),
           reeval_seeds: int = _search_option("reeval_seeds", "seeds of every leaderboard row"),
           check_task: Optional[str] = _search_option("check_task", "second task for the generalization check"),
           timeout: float = _search_option("timeout", "seconds per trial before it is killed and recorded"),
           seed: int = _search_option("seed", "seed of the strategy")) -> None:
    """Search for activation functions; re-running the same command resumes the study."""
    from actlab.report.search import print_board
    from actlab.search import SearchConfig, run_search
    from actlab.search._run import RichProgress

    try:
        cfg = SearchConfig(task=task, space=space, strategy=strategy, budget=budget, seeds=seeds, steps=steps,
                           workers=workers, storage=storage, study=study, ray_address=ray_address,
                           objective=objective, controller_algo=controller_algo, pruner=pruner, top_k=top_k,
                           reeval_seeds=reeval_seeds, check_task=check_task, timeout=timeout, seed=seed)
        progress = RichProgress()
        try:
            result = run_search(cfg, on_event=progress)
        finally:
            progress.close()
    except (ValueError, KeyError) as e:
        _fail(str(e).strip('"'))
    print_board(result.board, progress.console)


@app.command()
def show(study: str = typer.Argument(..., help="study name (as printed by actlab search)"),
         storage: Optional[str] = typer.Option(None, help="SQLAlchemy URL or file (default runs/STUDY.db)"),
         out_dir: Optional[Path] = typer.Option(None, help="where the plots go (default runs/STUDY-plots)")) -> None:
    """Print a study's leaderboard and Pareto front, and write its plots."""
    from actlab.report.search import show as show_study

    try:
        paths = show_study(study, storage, out_dir)
    except (FileNotFoundError, KeyError, ValueError) as e:
        _fail(str(e).strip('"'))
    typer.echo("plots: " + ", ".join(str(p) for p in paths))


@app.command()
def export(study: str = typer.Argument(..., help="study name"),
           top: int = typer.Option(1, help="which leaderboard entry (1 = best found)"),
           out: Path = typer.Option(Path("my_act.py"), help="the Python module to write"),
           storage: Optional[str] = typer.Option(None, help="SQLAlchemy URL or file (default runs/STUDY.db)")) -> None:
    """Write a found function as a standalone nn.Module (pure torch; fused kernel if actlab is installed)."""
    from actlab.search import export_study

    try:
        path = export_study(study, storage, top, out)
    except (FileNotFoundError, KeyError, ValueError) as e:
        _fail(str(e).strip('"'))
    typer.echo(f"wrote {path}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
