"""The ``actlab`` command (typer). Thin wiring only: every command calls a function from a package below.

The root app and what the commands share are in :mod:`._common`; the top-level commands in :mod:`._commands`, the
``bench`` group in :mod:`._bench`. Imports stay inside the commands, so ``actlab --help`` stays fast.
"""

from __future__ import annotations

import typer

from . import _bench, _commands  # noqa: F401  (they register their commands on the app)
from ._common import app

__all__ = ["app", "main"]


def _version(value: bool) -> None:
    if value:
        import actlab

        typer.echo(f"actlab {actlab.__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """Use, compare and discover activation functions."""


def main() -> None:
    app()


if __name__ == "__main__":
    main()
