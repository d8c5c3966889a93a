"""actlab: use, compare and discover neural-network activation functions.

>>> import torch, actlab
>>> model = torch.nn.Sequential(torch.nn.Linear(10, 32), actlab.get("isrlu"), torch.nn.Linear(32, 2))
>>> actlab.names()                         # every activation in the zoo
>>> y = actlab.functional.isrlu(torch.randn(8), alpha=3.0)

The harness (``actlab.evaluate``, ``actlab.compare``) and the expression language (``actlab.expr``) load on first
use, so ``import actlab`` stays light.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

__version__ = "0.1.0"

_LAZY = {"evaluate": "actlab.train", "compare": "actlab.train", "expr": "actlab.expr"}


def _launched_as_cli() -> bool:
    """Whether this process is the ``actlab`` command (its script, or ``python -m actlab``).

    The command's ``--help`` and ``--version`` need typer, not torch (about 2.5 s to import with the kernels), and
    every command imports what it uses. So there the zoo loads on first use; a library ``import actlab`` keeps
    loading it at once, which registers the ``torch.ops.actlab`` operators as users expect.
    """
    argv = getattr(sys, "orig_argv", sys.argv)
    script = sys.argv[0].replace("\\", "/").rsplit("/", 1)[-1] if sys.argv and sys.argv[0] else ""
    return script in ("actlab", "actlab.exe") or any(
        a == "-m" and b == "actlab" for a, b in zip(argv[1:], argv[2:], strict=False))


if not _launched_as_cli():
    from . import activations
    from .activations import *  # noqa: F401,F403
    from .activations import __all__ as _act_all
    from .activations import functional, get, names, spec

    __all__ = ["__version__", "activations", "functional", "get", "names", "spec", *_act_all, *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod = importlib.import_module(_LAZY[name])
        return mod if mod.__name__.endswith(name) else getattr(mod, name)
    if name.startswith("__") and name != "__all__":
        raise AttributeError(f"module 'actlab' has no attribute {name!r}")
    # the command's lazy start: the zoo (and its operators) load the first time one of its names is used
    acts = importlib.import_module("actlab.activations")
    if name == "__all__":
        return ["__version__", "activations", "functional", "get", "names", "spec", *acts.__all__, *_LAZY]
    if name == "activations":
        return acts
    if hasattr(acts, name):
        return getattr(acts, name)
    raise AttributeError(f"module 'actlab' has no attribute {name!r}")
