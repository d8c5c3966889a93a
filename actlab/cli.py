"""The ``actlab`` command. Thin wiring only: every command calls a function from a package below.

Each issue's commands live in their own section; keep imports inside the commands so ``actlab --help`` stays fast.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Use, compare and discover activation functions.")
bench_app = typer.Typer(no_args_is_help=True, help="Speed and accuracy benchmarks.")
app.add_typer(bench_app, name="bench")


def _version(value: bool) -> None:
    if value:
        import actlab

        typer.echo(f"actlab {actlab.__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """Use, compare and discover activation functions."""


def _console() -> Any:
    """A rich Console; off a terminal (a pipe, a file) as wide as the content, so that nothing is truncated."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=100_000)


def _print_json(data: Any) -> None:
    """JSON on stdout, nothing else (for scripts: ``actlab list --json | jq``)."""
    import json

    typer.echo(json.dumps(data, indent=1, default=str))


def _fail(message: str) -> None:
    """Print a one-line error and exit 2, instead of a traceback, for input the user can fix."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@contextmanager
def _resumable(what: str) -> Iterator[None]:
    """Stop a long study on Ctrl-C or SIGTERM (what Slurm, Kubernetes and ``kill`` send) through the same path:
    the ``finally`` blocks close the workers, the trials already told stay recorded, and one line says how to go
    on; exit status 130. Without it SIGTERM killed the driver outright and its workers died on a broken pipe."""
    import signal

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except KeyboardInterrupt:
        typer.secho(f"interrupted: the finished trials are recorded; run the same command again to resume {what}",
                    fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, old)


def _task_option(task: str, train_fn: Optional[str]) -> str:
    """The task spec from ``--task`` / ``--train-fn``, resolved now: a one-line error before anything is created."""
    import os
    import sys

    from actlab.train import get_task

    # Modules in the current directory import as with `python -m` (the console script lacks it on sys.path).
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    spec = train_fn or task
    try:
        t = get_task(spec)
    except KeyError as e:
        _fail(str(e.args[0]))
    if train_fn and t.objective is None:
        _fail(f"--train-fn {train_fn}: that is a Task, not a function objective(act_layer, seed, report); "
              f"use --task {train_fn}")
    return spec


_TASK_HELP = "task preset (actlab.train.TASKS) or package.module:attr naming a Task or a function returning one"
_TRAIN_FN_HELP = ("your own training loop instead of a task: package.module:attr naming objective(act_layer, seed, "
                  "report) -> score (higher is better)")
_DEVICE_HELP = "where children train: cpu, cuda, cuda:N, mps or auto (default: the task's, cpu for presets)"


# ---------------------------------------------------------------- zoo, kernels, plots (issue 2)


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="print the zoo as JSON (every spec field)")) -> None:
    """List the activation zoo with each entry's properties."""
    from dataclasses import fields

    from rich.table import Table

    import actlab

    if as_json:  # every plain-data field of the spec, so that a new field shows up without a change here
        plain = (str, int, float, bool, type(None), dict, list, tuple)
        _print_json([{f.name: v for f in fields(s) if isinstance(v := getattr(s, f.name), plain)}
                     for s in map(actlab.spec, actlab.names())])
        return
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
    _console().print(table)


@app.command()
def plot(names: list[str] = typer.Argument(..., help="activation names, e.g. isrlu elu swish"),
         out: Path = typer.Option(Path("activations.png"), "--out", "-o", help="PNG file to write"),
         lo: float = typer.Option(-5.0, help="left end of the x range"),
         hi: float = typer.Option(5.0, help="right end of the x range")) -> None:
    """Plot f, f' and f'' of zoo activations, one panel each."""
    from actlab.report import plot_functions

    try:
        plot_functions(names, out, lo=lo, hi=hi)
    except KeyError as e:
        _fail(str(e.args[0]))
    except ValueError as e:
        _fail(str(e))
    typer.echo(f"wrote {out}")


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
                                          help="time the generated fused kernel (compiles it)"),
             as_json: bool = typer.Option(False, "--json", help="print the analysis as JSON")) -> None:
    """Canonical form, LaTeX, properties and cost of an expression of the search space."""
    from actlab.expr import describe, describe_dict, parse

    try:
        e = parse(text)
        if as_json:
            _print_json(describe_dict(e, measure=measure))
        else:
            typer.echo(describe(e, measure=measure))
        if plot is not None:
            from actlab.report import plot_functions

            plot_functions({str(e): e}, plot)
            if not as_json:
                typer.echo(f"{'plot (f, f′, f″)':<26}  {plot}")
    except ValueError as e:  # ExprSyntaxError (with a caret under the problem) or a kernel that cannot be generated
        _fail(str(e))


@app.command("space")
def space_cmd(units: int = typer.Option(1, "--units", min=1, help="core units per candidate"),
              sample: int = typer.Option(2000, "--sample", min=1,
                                         help="candidates to examine when the space is too big to enumerate"),
              seed: int = typer.Option(0, "--seed", help="seed of that sample"),
              as_json: bool = typer.Option(False, "--json", help="print the counts as JSON")) -> None:
    """Raw size, distinct functions and prefilter rejections (by reason) of the paper's search space."""
    from dataclasses import asdict

    from actlab.expr import space_summary

    summary = space_summary(units, sample=sample, seed=seed)
    if as_json:
        _print_json(asdict(summary))
    else:
        typer.echo(str(summary))

# ---------------------------------------------------------------- harness (issue 4)


@bench_app.command("accuracy")
def bench_accuracy(
    acts: str = typer.Option("relu,elu,isrlu,swish", "--acts",
                             help='comma-separated activations: names ("isrlu:alpha=3"), expressions'),
    task: str = typer.Option("mnist1d-cnn", "--task", help=_TASK_HELP),
    train_fn: Optional[str] = typer.Option(None, "--train-fn", help=_TRAIN_FN_HELP),
    device: Optional[str] = typer.Option(None, "--device", help=_DEVICE_HELP),
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
    from actlab.train import get_task, resolve_device

    names = accuracy.split_acts(acts)
    if not names:
        _fail("--acts is empty")
    task = _task_option(task, train_fn)
    try:
        resolve_device(device or get_task(task).device)
    except ValueError as e:
        _fail(str(e))
    if out is not None and out.suffix.lower() not in (".md", ".markdown", ".csv"):
        _fail(f"--out must end in .md or .csv, got {out.name!r}")
    base = baseline or get_task(task).baseline
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
                                metric=metric, data_dir=data_dir, progress=tick, device=device)
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


# ---------------------------------------------------------------- robustness (issue 15)


@bench_app.command("robustness")
def bench_robustness(
    acts: str = typer.Option("relu,swish,isrlu", "--acts", help="comma-separated activations (names, expressions)"),
    task: str = typer.Option("mnist1d-mlp", "--task", help="task preset (see actlab.train.TASKS)"),
    attack: str = typer.Option("trust-region,fgsm", "--attack", help="comma-separated, from actlab.train.ATTACKS"),
    eps: str = typer.Option("0.1", "--eps", help="comma-separated budgets ε > 0, in the input's units"),
    norm: str = typer.Option("linf", "--norm", help="linf or l2"),
    seeds: int = typer.Option(5, "--seeds", min=1, help="seeds 0..N-1, paired across activations"),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="override the task's step budget"),
    n_eval: int = typer.Option(1000, "--n-eval", min=1, help="attack the first N test examples"),
    baseline: Optional[str] = typer.Option(None, "--baseline", help="paired against this (default: the task's)"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the rows as JSON"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="dataset folder"),
) -> None:
    """Clean and adversarial accuracy per activation on TASK, every attack on the same trained models."""
    from actlab.bench import accuracy, robustness
    from actlab.data import DataError
    from actlab.train import check_attacks

    names = accuracy.split_acts(acts)
    attacks = [a.strip() for a in attack.split(",") if a.strip()]
    try:
        budgets = [float(e) for e in eps.split(",") if e.strip()]
    except ValueError:
        _fail(f"--eps must be comma-separated numbers, got {eps!r}")
    if not names:
        _fail("--acts is empty")
    try:
        check_attacks(attacks, budgets, norm)
        rob = robustness.run(names, task, attacks, budgets, seeds=seeds, norm=norm, baseline=baseline, steps=steps,
                             n_eval=n_eval, data_dir=data_dir,
                             progress=lambda r: typer.echo(f"{r.act} seed {r.seed}: test {r.test_acc}", err=True))
    except (KeyError, ValueError, TypeError, DataError) as e:
        _fail(str(e.args[0]) if e.args else str(e))
    typer.echo(robustness.to_markdown(rob))
    if json_out is not None:
        typer.echo(f"rows written to {robustness.write_json(rob, json_out)}")


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
def search(task: str = _search_option("task", _TASK_HELP),
           train_fn: Optional[str] = typer.Option(None, "--train-fn", help=_TRAIN_FN_HELP),
           device: Optional[str] = _search_option("device", _DEVICE_HELP),
           space: str = _search_option("space", "core units of the expression space: 1 or 2"),
           strategy: str = _search_option("strategy", "exhaustive, random, tpe, evolution, controller, nsga2, "
                                                      "surrogate, dnas"),
           budget: str = _search_option("budget", "trials in total (e.g. 150) or wall time of this run (5m, 90s)"),
           seeds: int = _search_option("seeds", "seeds per candidate during the search (median val accuracy)"),
           steps: Optional[int] = _search_option("steps", "child training steps (the search fidelity)"),
           workers: Optional[int] = _search_option("workers", "local worker processes (default: one per core)"),
           storage: Optional[str] = _search_option("storage", "SQLAlchemy URL or file (default runs/STUDY.db)"),
           study: Optional[str] = _search_option("study", "study name (default: STRATEGY-TASK-uUNITS)"),
           ray_address: Optional[str] = _search_option("ray_address", "evaluate on Ray: auto or HOST:PORT"),
           objective: str = _search_option("objective", "accuracy, or a Pareto front: accuracy,speed, "
                                                        "accuracy,robustness (or all three)"),
           attack: str = _search_option("attack", "the robustness objective's attack (fgsm, pgd, trust-region), "
                                                  "on the validation split"),
           eps: float = _search_option("eps", "the robustness attack's budget ε > 0"),
           norm: str = _search_option("norm", "the robustness attack's norm: linf or l2"),
           controller_algo: str = _search_option("controller_algo", "controller training: ppo or reinforce"),
           pruner: str = _search_option("pruner", "halving, hyperband or none"),
           top_k: int = _search_option("top_k", "top candidates re-evaluated for the leaderboard"),
           reeval_seeds: int = _search_option("reeval_seeds", "seeds of every leaderboard row"),
           check_task: Optional[str] = _search_option("check_task", "generalization check task (auto, a task, none)"),
           check_seeds: int = _search_option("check_seeds", "fresh seeds on the check task"),
           race_seeds: int = _search_option("race_seeds", "extra seeds for candidates entering the top-k (0: off)"),
           timeout: float = _search_option("timeout", "seconds per trial before it is killed and recorded"),
           seed: int = _search_option("seed", "seed of the strategy")) -> None:
    """Search for activation functions; re-running the same command resumes the study."""
    from actlab.report.search import print_board
    from actlab.search import RichProgress, SearchConfig, run_search

    task = _task_option(task, train_fn)
    try:
        cfg = SearchConfig(task=task, device=device, space=space, strategy=strategy, budget=budget, seeds=seeds,
                           steps=steps,
                           workers=workers, storage=storage, study=study, ray_address=ray_address,
                           objective=objective, attack=attack, eps=eps, norm=norm,
                           controller_algo=controller_algo, pruner=pruner, top_k=top_k,
                           reeval_seeds=reeval_seeds, check_task=check_task, check_seeds=check_seeds,
                           race_seeds=race_seeds, timeout=timeout, seed=seed)
        progress = RichProgress()
        try:
            with _resumable("the search"):
                result = run_search(cfg, on_event=progress)
        finally:
            progress.close()
    except (ValueError, KeyError) as e:
        _fail(str(e).strip('"'))
    print_board(result.board, progress.console)


@app.command()
def show(study: str = typer.Argument(..., help="study name (as printed by actlab search)"),
         storage: Optional[str] = typer.Option(None, help="SQLAlchemy URL or file (default runs/STUDY.db)"),
         out_dir: Optional[Path] = typer.Option(None, help="where the plots go (default runs/STUDY-plots)"),
         json_out: Optional[Path] = typer.Option(None, "--json", help="also write the board as JSON to this file")
         ) -> None:
    """Print a study's leaderboard and Pareto front, and write its plots (and the board as JSON)."""
    from actlab.report.search import show as show_study

    try:
        paths = show_study(study, storage, out_dir)
        if json_out is not None:
            import json

            from actlab.search import load_board

            json_out.write_text(json.dumps(load_board(study, storage).to_json(), indent=1))
            typer.echo(f"board written to {json_out}")
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


# ---------------------------------------------------------------- reports (issue 14)


@app.command()
def report(study: str = typer.Argument(..., help="study name (as printed by actlab search)"),
           html_out: Path = typer.Option(..., "--html", help="the self-contained HTML file to write"),
           storage: Optional[str] = typer.Option(None, help="SQLAlchemy URL or file (default runs/STUDY.db)")) -> None:
    """Write one self-contained HTML page of a study: protocol, leaderboard, Pareto front, progress, top functions."""
    from actlab.report.html import write_html

    try:
        path = write_html(study, html_out, storage)
    except (FileNotFoundError, KeyError, ValueError) as e:
        _fail(str(e).strip('"'))
    typer.echo(f"wrote {path}")


# ---------------------------------------------------------------- tabular benchmark and strategy replay (issue 13)


@bench_app.command("table")
def bench_table(
    out: Path = typer.Option(..., "--out", help="the table to write: benchmarks/tables/NAME.csv.gz (+ NAME.json)"),
    task: str = typer.Option("mnist1d-cnn", "--task", help="task preset the functions train on"),
    steps: Optional[int] = typer.Option(1000, "--steps", min=1, help="training steps (the search's default)"),
    seeds: int = typer.Option(2, "--seeds", min=1, help="seeds 0..N-1 per function"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="train at most this many functions"),
    order: str = typer.Option("simplest", "--order", help="simplest (exhaustive order) or random (a sample)"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="worker processes (default: one per core)"),
    baselines: Optional[str] = typer.Option(None, "--baselines", help="comma-separated zoo baselines"),
    runs_dir: str = typer.Option("runs", "--runs-dir", help="where the resumable study lives"),
    exclude: Optional[list[Path]] = typer.Option(None, "--exclude", help="a table whose functions this build skips "
                                                 "(repeatable): build the rest as a shard, then bench merge"),
) -> None:
    """Train every distinct prefiltered 1-unit function and the zoo baselines once per seed; re-run to resume."""
    from actlab.bench import table
    from actlab.search import RichProgress

    base = tuple(b.strip() for b in baselines.split(",") if b.strip()) if baselines is not None else None
    progress = RichProgress()
    try:
        try:
            with _resumable("the build"):
                tab = table.build(out, task=task, steps=steps, seeds=seeds, limit=limit, order=order,
                                  workers=workers, baselines=base, runs_dir=runs_dir, exclude=tuple(exclude or ()),
                                  on_event=progress)
        finally:
            progress.close()
    except (FileNotFoundError, ValueError, KeyError) as e:
        _fail(str(e).strip('"'))
    _wrote(tab, out)


def _wrote(tab: Any, out: Path) -> None:
    from actlab.bench import table

    typer.echo(f"wrote {out} ({tab.protocol['functions']} functions, {len(tab.rows)} rows) and "
               f"{table.sidecar_path(out)}")


@bench_app.command("merge")
def bench_merge(
    tables: list[Path] = typer.Argument(..., help="tables built under one protocol (e.g. shards from --exclude)"),
    out: Path = typer.Option(..., "--out", help="the merged table: NAME.csv.gz (+ NAME.json)"),
    mixed_hardware: bool = typer.Option(False, "--mixed-hardware", help="accept shards trained on different CPUs "
                                        "(rows then reproduce on their own shard's CPU; disagreements recorded)"),
) -> None:
    """Merge table shards into one table; rows present in several shards must agree exactly."""
    from actlab.bench import table

    try:
        tab = table.merge(list(tables), out, mixed_hardware=mixed_hardware)
    except (FileNotFoundError, ValueError) as e:
        _fail(str(e).strip('"'))
    _wrote(tab, out)


@bench_app.command("strategies")
def bench_strategies(
    table_path: Path = typer.Option(..., "--table", help="a table written by actlab bench table"),
    repeats: int = typer.Option(10, "--repeats", min=1, help="independent searches per strategy (seeds 0..N-1)"),
    budget: int = typer.Option(300, "--budget", min=1, help="evaluations per search"),
    json_out: Path = typer.Option(..., "--json", help="write the summary here (and the plot beside it, .png)"),
    strategies: Optional[list[str]] = typer.Option(None, "--strategy", "-s",
                                                   help="NAME or NAME:key=value,... (repeatable; default: all)"),
    batch: int = typer.Option(1, "--batch", min=1, help="proposals per round (a live search's workers)"),
    runs_dir: str = typer.Option("runs", "--runs-dir", help="cache of the space's exhaustive order"),
) -> None:
    """Replay every search strategy against a table (no training: milliseconds per trial)."""
    from actlab.bench import replay

    names = [s.strip() for s in strategies if s.strip()] if strategies else None

    def tick(name: str, r: int, evals: list[int]) -> None:
        typer.echo(f"{name} repeat {r}: evaluations to top-1% {evals[0]}, top-5% {evals[1]}")

    try:
        rep = replay.replay_all(table_path, repeats=repeats, budget=budget, strategies=names, batch=batch,
                                runs_dir=runs_dir, progress=tick)
    except (FileNotFoundError, ValueError, KeyError) as e:
        _fail(str(e).strip('"'))
    replay.write_json(rep, json_out)
    png = replay.plot_replay(rep, json_out.with_suffix(".png"))
    typer.echo(replay.markdown(rep))
    typer.echo(f"wrote {json_out} and {png}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
