"""The one table of hand-written fused kernels, and :func:`get_kernel`.

Each row names the element functions (see :mod:`._elements`) and the parameters in call order; the activations
registry links to these names through ``ActivationSpec.kernel``. Rows with ``output`` set take their derivative from
the saved output y (invertible functions whose f′ is cheap in y); the others recompute it from the input x. Kernels compile lazily on first use (one
specialisation per dtype) and are cached on disk.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import torch

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
    # When set, ``grad`` reads y = f(x) instead of x, and this is the same derivative in torch ops:
    # ``output(y, *params) -> (f′, ∂f/∂p, ...)`` (used for double backward). See ``FusedKernel.output_grad``.
    output: Callable[..., tuple[torch.Tensor, ...]] | None = None


# The derivatives from the output, in torch ops. Each mirrors the ``*_grad_y`` element function of the same row.
def _isru_slope(y: torch.Tensor, alpha) -> torch.Tensor:
    t = (1 - alpha * y * y).clamp_min(0)  # 1 − αy² = 1/(1 + αx²)
    return t * t.sqrt()


def _isru_dy(y: torch.Tensor, alpha) -> tuple[torch.Tensor, ...]:
    return _isru_slope(y, alpha), -0.5 * y * y * y


def _isrlu_dy(y: torch.Tensor, alpha) -> tuple[torch.Tensor, ...]:
    neg = y < 0
    return torch.where(neg, _isru_slope(y, alpha), 1.0), torch.where(neg, -0.5 * y * y * y, 0.0)


def _isru_sigmoid_dy(y: torch.Tensor, alpha) -> tuple[torch.Tensor, ...]:
    s = 2 * y - 1  # the ISRU part: y = (1 + isru(x/2))/2
    return 0.25 * _isru_slope(s, alpha), -0.25 * s * s * s


def _elu_dy(y: torch.Tensor, alpha) -> tuple[torch.Tensor, ...]:
    pos = y > 0
    return torch.where(pos, 1.0, y + alpha), torch.where(pos, 0.0, y / alpha)


def _selu_dy(y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (torch.where(y > 0, E.SELU_SCALE, y + E.SELU_SCALE * E.SELU_ALPHA),)


def _tanh_dy(y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return ((1 - y) * (1 + y),)


def _sigmoid_dy(y: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (y * (1 - y),)


_ROWS: dict[str, KernelRow] = {
    "isrlu": KernelRow(E.isru_prep, E.isrlu_f, E.isrlu_grad_y, ("alpha",), newton=True, output=_isrlu_dy),
    "isru": KernelRow(E.isru_prep, E.isru_f, E.isru_grad_y, ("alpha",), newton=True, output=_isru_dy),
    "isru_sigmoid": KernelRow(E.isru_prep, E.isru_sigmoid_f, E.isru_sigmoid_grad_y, ("alpha",), newton=True,
                              output=_isru_sigmoid_dy),
    "elu": KernelRow(E.elu_prep, E.elu_f, E.elu_grad_y, ("alpha",), output=_elu_dy),
    "celu": KernelRow(E.elu_prep, E.celu_f, E.celu_grad, ("alpha",)),  # ∂f/∂α needs x itself
    "selu": KernelRow(E.selu_prep, E.selu_f, E.selu_grad_y, output=_selu_dy),
    "swish": KernelRow(E.swish_prep, E.swish_f, E.swish_grad, ("beta",)),
    "mish": KernelRow(E.none_prep, E.mish_f, E.mish_grad),
    "gelu": KernelRow(E.gelu_prep, E.gelu_f, E.gelu_grad),
    "gelu_tanh": KernelRow(E.gelu_tanh_prep, E.gelu_tanh_f, E.gelu_tanh_grad),
    "softplus": KernelRow(E.none_prep, E.softplus_f, E.softplus_grad),
    "sigmoid": KernelRow(E.none_prep, E.sigmoid_f, E.sigmoid_grad_y, output=_sigmoid_dy),
    "tanh": KernelRow(E.none_prep, E.tanh_f, E.tanh_grad_y, output=_tanh_dy),
}


def _build(name: str, k: int) -> FusedKernel:
    row = _ROWS[name]
    fwd, bwd, bwd_in = make_kernels(row.prep, row.f, row.grad, len(row.param_names), k)
    label = name if k < 0 else f"{name}[newton={k}]"
    return FusedKernel(label, fwd, bwd, row.param_names, backward_input=bwd_in, output_grad=row.output)


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
