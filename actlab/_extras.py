"""Optional dependencies: import one, or fail with a one-line error that names the pip extra installing it.

A leaf (standard library only) that any layer may use. ``EXTRA_OF`` is the one table of which import name comes
from which extra of ``pyproject.toml`` (tests/test_packaging.py checks that the two agree).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRA_OF", "MissingExtraError", "require", "hint"]

# import name -> extra of pyproject.toml ("" for a package no actlab feature needs: the hint names it alone)
EXTRA_OF: dict[str, str] = {
    "scipy": "train", "sklearn": "train", "mnist1d": "train",
    "optuna": "search", "sqlalchemy": "search",
    "matplotlib": "report",
    "typer": "cli", "rich": "cli",
    "ray": "ray", "psycopg2": "postgres", "optuna_dashboard": "dashboard",
    "triton": "gpu",
    "pandas": "report",  # the tables' to_pandas()
}
_PIP_NAME = {"sklearn": "scikit-learn", "psycopg2": "psycopg2-binary", "optuna_dashboard": "optuna-dashboard"}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message says which ``pip install`` fixes it."""


def hint(module: str) -> str:
    """The pip command that installs ``module`` (an extra of actlab where there is one)."""
    top = module.split(".")[0]
    extra = EXTRA_OF.get(top, "")
    return f"pip install 'actlab[{extra}]'" if extra else f"pip install {_PIP_NAME.get(top, top)}"


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or raise :class:`MissingExtraError` with a one-line fix."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if e.name is not None and module.split(".")[0] != e.name.split(".")[0]:
            raise  # the module exists but one of *its* imports failed: not a missing extra, keep the real error
        raise MissingExtraError(f"{feature} needs {module.split('.')[0]}, which is not installed: {hint(module)}") \
            from None
