"""``actlab bench``: kernel speed, accuracy, robustness, tabular benchmarks and strategy replay. Thin wiring
only, as the other commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ._common import DEVICE_HELP, TASK_HELP, TRAIN_FN_HELP, app, fail, resumable, task_option

bench_app = typer.Typer(no_args_is_help=True, help="Speed and accuracy benchmarks.")
app.add_typer(bench_app, name="bench")


# ---------------------------------------------------------------- kernel speed (issue 2)


@bench_app.command("speed")
def bench_speed(
    json_path: Optional[Path] = typer.Option(None, "--json", help="write one record per activation and size"),
    sizes: Optional[list[int]] = typer.Option(None, "--sizes", help="tensor sizes in elements (repeatable; "
                                              "default 1K, 4K, 64K, 256K, 1M, 2M, 4M, 8M and 16M)"),
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
        fail(str(e.args[0]) if e.args else str(e))
    if markdown:
        typer.echo(speed.to_markdown(records))
    else:
        Console().print(speed.rich_table(records))
    if json_path is not None:
        speed.write_json(records, json_path)
        typer.echo(f"wrote {json_path}")

# ---------------------------------------------------------------- harness (issue 4)


@bench_app.command("accuracy")
def bench_accuracy(
    acts: str = typer.Option("relu,elu,isrlu,swish", "--acts",
                             help='comma-separated activations: names ("isrlu:alpha=3"), expressions'),
    task: str = typer.Option("mnist1d-cnn", "--task", help=TASK_HELP),
    train_fn: Optional[str] = typer.Option(None, "--train-fn", help=TRAIN_FN_HELP),
    device: Optional[str] = typer.Option(None, "--device", help=DEVICE_HELP),
    seeds: int = typer.Option(5, "--seeds", min=1, help="seeds 0..N-1, paired across activations"),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="override the task's step budget"),
    workers: int = typer.Option(1, "--workers", min=1, help="parallel processes, one thread each"),
    population: str = typer.Option("1", "--population",
                                   help="train up to K activations of one seed together in one loop (the same "
                                        "results, faster), or auto"),
    baseline: Optional[str] = typer.Option(None, "--baseline", help="paired against this (default: the task's)"),
    metric: str = typer.Option("test_acc", "--metric",
                               help="test_acc (final reports) or val_acc; losses, lower is better: test_loss, "
                                    "val_loss, test_bpb, val_bpb"),
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
        fail("--acts is empty")
    task = task_option(task, train_fn)
    try:
        resolve_device(device or get_task(task).device)
    except ValueError as e:
        fail(str(e))
    if out is not None and out.suffix.lower() not in (".md", ".markdown", ".csv"):
        fail(f"--out must end in .md or .csv, got {out.name!r}")
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
                                metric=metric, data_dir=data_dir, progress=tick, device=device,
                                population=population)
        except (KeyError, ValueError, TypeError, DataError) as e:
            fail(str(e.args[0]) if e.args else str(e))
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
        fail(f"--eps must be comma-separated numbers, got {eps!r}")
    if not names:
        fail("--acts is empty")
    try:
        check_attacks(attacks, budgets, norm)
        rob = robustness.run(names, task, attacks, budgets, seeds=seeds, norm=norm, baseline=baseline, steps=steps,
                             n_eval=n_eval, data_dir=data_dir,
                             progress=lambda r: typer.echo(f"{r.act} seed {r.seed}: test {r.test_acc}", err=True))
    except (KeyError, ValueError, TypeError, DataError) as e:
        fail(str(e.args[0]) if e.args else str(e))
    typer.echo(robustness.to_markdown(rob))
    if json_out is not None:
        typer.echo(f"rows written to {robustness.write_json(rob, json_out)}")


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
    population: str = typer.Option("1", "--population",
                                   help="functions each worker trains together in one loop (the same rows, faster), "
                                        "or auto"),
    baselines: Optional[str] = typer.Option(None, "--baselines", help="comma-separated zoo baselines"),
    space: str = typer.Option("1", "--space", help="1, or gated: every function trained as the gate f of f(g)·a "
                              "(the gated baselines; a model that takes a gated activation)"),
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
            with resumable("the build"):
                tab = table.build(out, task=task, steps=steps, seeds=seeds, limit=limit, order=order,
                                  workers=workers, baselines=base, runs_dir=runs_dir, exclude=tuple(exclude or ()),
                                  on_event=progress, population=population, space=space)
        finally:
            progress.close()
    except (FileNotFoundError, ValueError, KeyError) as e:
        fail(str(e).strip('"'))
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
        fail(str(e).strip('"'))
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
    metric: str = typer.Option("val_acc", "--metric", help="what the searches optimise and the targets rank by: "
                               "val_acc, or val_loss / val_bpb (lower is better)"),
) -> None:
    """Replay every search strategy against a table (no training: milliseconds per trial)."""
    from actlab.bench import replay

    names = [s.strip() for s in strategies if s.strip()] if strategies else None

    def tick(name: str, r: int, evals: list[int]) -> None:
        typer.echo(f"{name} repeat {r}: evaluations to top-1% {evals[0]}, top-5% {evals[1]}")

    try:
        rep = replay.replay_all(table_path, repeats=repeats, budget=budget, strategies=names, batch=batch,
                                runs_dir=runs_dir, progress=tick, metric=metric)
    except (FileNotFoundError, ValueError, KeyError) as e:
        fail(str(e).strip('"'))
    replay.write_json(rep, json_out)
    png = replay.plot_replay(rep, json_out.with_suffix(".png"))
    typer.echo(replay.markdown(rep))
    typer.echo(f"wrote {json_out} and {png}")
