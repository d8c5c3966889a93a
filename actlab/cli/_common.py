"""What the ``actlab`` commands share: the root app, one-line errors, JSON output, resumable interrupts, task
options."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

import typer

__all__ = ["app", "console", "print_json", "fail", "resumable", "task_option", "TASK_HELP", "TRAIN_FN_HELP",
           "DEVICE_HELP"]

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Use, compare and discover activation functions.")


def console() -> Any:
    """A rich Console; off a terminal (a pipe, a file) as wide as the content, so that nothing is truncated."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=100_000)


def print_json(data: Any) -> None:
    """JSON on stdout, nothing else (for scripts: ``actlab list --json | jq``)."""
    import json

    typer.echo(json.dumps(data, indent=1, default=str))


def fail(message: str) -> None:
    """Print a one-line error and exit 2, instead of a traceback, for input the user can fix."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@contextmanager
def resumable(what: str, before: Callable[[], None] | None = None) -> Iterator[None]:
    """Stop a long study on Ctrl-C or SIGTERM (what Slurm, Kubernetes and ``kill`` send) through the same path:
    the ``finally`` blocks close the workers, the trials already told stay recorded, and one line says how to go
    on; exit status 130. Without it SIGTERM killed the driver outright and its workers died on a broken pipe.
    ``before`` runs first (closing a live progress bar, so that the line starts on a line of its own)."""
    import signal

    def terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    except KeyboardInterrupt:
        if before is not None:
            before()
        typer.echo(err=True)  # a live display may have left the cursor mid-line
        typer.secho(f"interrupted: the finished trials are recorded; run the same command again to resume {what}",
                    fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, old)


def task_option(task: str, train_fn: Optional[str]) -> str:
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
        fail(str(e.args[0]))
    if train_fn and t.objective is None:
        fail(f"--train-fn {train_fn}: that is a Task, not a function objective(act_layer, seed, report); "
              f"use --task {train_fn}")
    return spec


TASK_HELP = "task preset (actlab.train.TASKS) or package.module:attr naming a Task or a function returning one"
TRAIN_FN_HELP = ("your own training loop instead of a task: package.module:attr naming objective(act_layer, seed, "
                  "report) -> score (an accuracy, higher is better) or a dict of metrics such as "
                  "{'val_loss': ..., 'test_loss': ...} (then --metric val_loss)")
DEVICE_HELP = "where children train: cpu, cuda, cuda:N, mps or auto (default: the task's, cpu for presets)"
