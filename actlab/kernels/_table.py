"""The one table of hand-written fused kernels, and :func:`get_kernel`.

Each row names the element functions (see :mod:`._elements`) and the parameters in call order; the activations
registry links to these names through ``ActivationSpec.kernel``. Kernels compile lazily on first use (one
specialisation per dtype) and are cached on disk.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from . import _elements as E
from ._drivers import make_kernels
from ._fused import FusedKernel

__all__ = ["KERNELS", "KernelRow", "get_kernel", "NEWTON_MAX"]

NEWTON_MAX = 8


@dataclass(frozen=True)
class KernelRow:
    """How to build one fused kernel: ``prep``/``f``/``grad`` element functions and the parameter names."""

    prep: Callable
    f: Callable
    grad: Callable
    param_names: tuple[str, ...] = ()
    newton: bool = False  # supports the fast inverse square root (``get_kernel(name, newton=k)``)


_ROWS: dict[str, KernelRow] = {
    "isrlu": KernelRow(E.isru_prep, E.isrlu_f, E.isrlu_grad, ("alpha",), newton=True),
    "isru": KernelRow(E.isru_prep, E.isru_f, E.isru_grad, ("alpha",), newton=True),
    "isru_sigmoid": KernelRow(E.isru_prep, E.isru_sigmoid_f, E.isru_sigmoid_grad, ("alpha",), newton=True),
    "elu": KernelRow(E.elu_prep, E.elu_f, E.elu_grad, ("alpha",)),
    "celu": KernelRow(E.elu_prep, E.celu_f, E.celu_grad, ("alpha",)),
    "selu": KernelRow(E.selu_prep, E.selu_f, E.selu_grad),
    "swish": KernelRow(E.swish_prep, E.swish_f, E.swish_grad, ("beta",)),
    "mish": KernelRow(E.none_prep, E.mish_f, E.mish_grad),
    "gelu": KernelRow(E.gelu_prep, E.gelu_f, E.gelu_grad),
    "gelu_tanh": KernelRow(E.gelu_tanh_prep, E.gelu_tanh_f, E.gelu_tanh_grad),
    "softplus": KernelRow(E.none_prep, E.softplus_f, E.softplus_grad),
    "sigmoid": KernelRow(E.none_prep, E.sigmoid_f, E.sigmoid_grad),
    "tanh": KernelRow(E.none_prep, E.tanh_f, E.tanh_grad),
}


def _build(name: str, k: int) -> FusedKernel:
    row = _ROWS[name]
    fwd, bwd, bwd_in = make_kernels(row.prep, row.f, row.grad, len(row.param_names), k)
    label = name if k < 0 else f"{name}[newton={k}]"
    return FusedKernel(label, fwd, bwd, row.param_names, backward_input=bwd_in)


KERNELS: dict[str, FusedKernel] = {name: _build(name, -1) for name in _ROWS}


@lru_cache(maxsize=None)
def _newton_kernel(name: str, k: int) -> FusedKernel:
    return _build(name, k)


def get_kernel(name: str, newton: int | None = None) -> FusedKernel | None:
    """The fused kernel called ``name``, or ``None`` if there is none.

    Args:
        name: kernel name (a key of :data:`KERNELS`).
        newton: ``None`` for the exact inverse square root; ``k`` in 0..8 for the fast bit-level guess
            (0x5f3759df / 0x5fe6eb50c7b537a9) plus ``k`` Newton steps. Only ISRU-family kernels accept it.
    """
    key = name.lower()
    if key not in _ROWS:
        return None
    if newton is None:
        return KERNELS[key]
    if not _ROWS[key].newton:
        newton_ok = ", ".join(n for n, r in _ROWS.items() if r.newton)
        raise ValueError(f"kernel {key!r} has no fast inverse square root mode; newton= applies to {newton_ok}")
    if isinstance(newton, bool) or not isinstance(newton, int) or not 0 <= newton <= NEWTON_MAX:
        raise ValueError(f"newton must be an int in 0..{NEWTON_MAX} (Newton steps), got {newton!r}")
    return _newton_kernel(key, newton)


def closest(name: str) -> list[str]:
    """Kernel names close to ``name``, for error messages."""
    return difflib.get_close_matches(name.lower(), list(_ROWS), n=4, cutoff=0.5)
