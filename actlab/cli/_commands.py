"""The top-level ``actlab`` commands: the zoo, expressions, the search and its studies. Thin wiring only: each
calls a function from a package below; imports stay inside the commands so ``actlab --help`` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ._common import DEVICE_HELP, TASK_HELP, TRAIN_FN_HELP, app, console, fail, print_json, resumable, task_option

# ---------------------------------------------------------------- zoo, kernels, plots (issue 2)


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="print the zoo as JSON (every spec field)")) -> None:
    """List the activation zoo with each entry's properties."""
    from dataclasses import fields

    from rich.table import Table

    import actlab

    if as_json:  # every plain-data field of the spec, so that a new field shows up without a change here
        plain = (str, int, float, bool, type(None), dict, list, tuple)
        print_json([{f.name: v for f in fields(s) if isinstance(v := getattr(s, f.name), plain)}
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
        table.add_row(name, hp, "yes" if s.monotonic else "no", bounds, s.smoothness,
                      s.kernel or ("gated: f(g)·a" if s.gated else "-"),
                      s.citation.split(",")[0])
    console().print(table)


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
        fail(str(e.args[0]))
    except ValueError as e:
        fail(str(e))
    typer.echo(f"wrote {out}")


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
            print_json(describe_dict(e, measure=measure))
        else:
            typer.echo(describe(e, measure=measure))
        if plot is not None:
            from actlab.report import plot_functions

            plot_functions({str(e): e}, plot)
            if not as_json:
                typer.echo(f"{'plot (f, f′, f″)':<26}  {plot}")
    except ValueError as e:  # ExprSyntaxError (with a caret under the problem) or a kernel that cannot be generated
        fail(str(e))


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
        print_json(asdict(summary))
    else:
        typer.echo(str(summary))

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
def search(task: str = _search_option("task", TASK_HELP),
           train_fn: Optional[str] = typer.Option(None, "--train-fn", help=TRAIN_FN_HELP),
           device: Optional[str] = _search_option("device", DEVICE_HELP),
           space: str = _search_option("space", "core units of the expression space: 1 or 2; "
                                                       "gated: the gate f of f(g)·a over the 1-unit space"),
           strategy: str = _search_option("strategy", "exhaustive, random, tpe, evolution, controller, nsga2, "
                                                      "surrogate, dnas"),
           budget: str = _search_option("budget", "trials in total (e.g. 150) or wall time of this run (5m, 90s)"),
           seeds: int = _search_option("seeds", "seeds per candidate during the search (median val accuracy)"),
           steps: Optional[int] = typer.Option(None, help="child training steps (the search fidelity); default: "
                                                         "1000 on a preset task, your task's own steps on yours"),
           workers: Optional[int] = _search_option("workers", "local worker processes (default: one per core)"),
           population: str = _search_option("population", "candidates each worker trains together in one loop "
                                                          "(the same results as one at a time, faster), or auto"),
           storage: Optional[str] = _search_option("storage", "SQLAlchemy URL or file (default runs/STUDY.db)"),
           study: Optional[str] = _search_option("study", "study name (default: STRATEGY-TASK-uUNITS)"),
           ray_address: Optional[str] = _search_option("ray_address", "evaluate on Ray: auto or HOST:PORT"),
           objective: str = _search_option("objective", "accuracy, or a Pareto front: accuracy,speed, "
                                                        "accuracy,robustness (or all three)"),
           metric: str = _search_option("metric", "what the first objective measures on the validation split: "
                                                  "val_acc, or val_loss / val_bpb (minimised)"),
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
           baselines: Optional[str] = typer.Option(None, "--baselines", help="comma-separated zoo activations the "
                                                   "board compares with (default: relu, swish, isrlu, elu, gelu; "
                                                   "gated space: relu, swiglu, geglu, reglu, glu)"),
           race_seeds: int = _search_option("race_seeds", "extra seeds for candidates entering the top-k (0: off)"),
           timeout: float = _search_option("timeout", "seconds per trial before it is killed and recorded"),
           seed: int = _search_option("seed", "seed of the strategy")) -> None:
    """Search for activation functions; re-running the same command resumes the study."""
    from actlab.report.search import print_board
    from actlab.search import RichProgress, SearchConfig, run_search

    task = task_option(task, train_fn)
    chosen: dict[str, Any] = {"baselines": _names(baselines)} if baselines is not None else {}
    try:
        cfg = SearchConfig(task=task, device=device, space=space, strategy=strategy, budget=budget, seeds=seeds,
                           steps="auto" if steps is None else steps,
                           workers=workers, population=population, storage=storage, study=study,
                           ray_address=ray_address,
                           objective=objective, metric=metric, attack=attack, eps=eps, norm=norm,
                           controller_algo=controller_algo, pruner=pruner, top_k=top_k,
                           reeval_seeds=reeval_seeds, check_task=check_task, check_seeds=check_seeds,
                           race_seeds=race_seeds, timeout=timeout, seed=seed,
                           **chosen)
        progress = RichProgress()
        try:
            with resumable("the search", before=progress.close):
                result = run_search(cfg, on_event=progress)
        finally:
            progress.close()
    except (ValueError, KeyError) as e:
        fail(str(e).strip('"'))
    print_board(result.board, progress.console)


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise typer.BadParameter("give at least one activation", param_hint="--baselines")
    return names


@app.command()
def show(study: str = typer.Argument(..., help="study name (as printed by actlab search)"),
         storage: Optional[str] = typer.Option(None, help="SQLAlchemy URL or file (default runs/STUDY.db)"),
         out_dir: Optional[Path] = typer.Option(None, help="where the plots go (default runs/STUDY-plots)"),
         json_out: Optional[Path] = typer.Option(None, "--json", help="also write the board as JSON to this file"),
         detail: bool = typer.Option(False, "--detail", help="also print every found function × baseline pair: Δ, "
                                                              "its 95% interval and the adjusted p")
         ) -> None:
    """Print a study's leaderboard and Pareto front, and write its plots (and the board as JSON)."""
    from actlab.report.search import show as show_study

    try:
        paths = show_study(study, storage, out_dir, console=console(), detail=detail)
        if json_out is not None:
            import json

            from actlab.search import load_board

            json_out.write_text(json.dumps(load_board(study, storage).to_json(), indent=1))
            typer.echo(f"board written to {json_out}")
    except (FileNotFoundError, KeyError, ValueError) as e:
        fail(str(e).strip('"'))
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
        fail(str(e).strip('"'))
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
        fail(str(e).strip('"'))
    typer.echo(f"wrote {path}")
