"""``python -m actlab`` and the ``actlab`` script: the CLI, or a one-line error if its extra is not installed."""

from __future__ import annotations

import sys


def main() -> None:
    from actlab._extras import MissingExtraError, require

    try:
        require("typer", "the actlab command")
        require("rich", "the actlab command")
    except MissingExtraError as e:
        sys.exit(f"error: {e}")
    from actlab.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
