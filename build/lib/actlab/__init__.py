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
from typing import Any

from . import activations
from .activations import *  # noqa: F401,F403
from .activations import __all__ as _act_all
from .activations import functional, get, names, spec

__version__ = "0.1.0"

_LAZY = {"evaluate": "actlab.train", "compare": "actlab.train", "expr": "actlab.expr"}

__all__ = ["__version__", "activations", "functional", "get", "names", "spec", *_act_all, *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod = importlib.import_module(_LAZY[name])
        return mod if mod.__name__.endswith(name) else getattr(mod, name)
    raise AttributeError(f"module 'actlab' has no attribute {name!r}")
