"""The engine's table of named kernels: descriptions come in (:func:`add_kernel`), :class:`FusedKernel` s go out.

The engine knows no activation. An activation describes its fused kernel once, as a :class:`KernelDef` in its
registry entry (``actlab/activations/_kernels.py``), and the activations registry enters it here under the
activation's name with the activation's parameter order. :data:`KERNELS` and :func:`get_kernel` are therefore filled
once :mod:`actlab.activations` is imported (``import actlab`` does it). Kernels compile lazily on first use (one
specialisation per dtype, the parallel loop only for large inputs) and are cached on disk.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import torch

from ._drivers import make_loops
from ._fused import FusedKernel

__all__ = ["KERNELS", "KernelDef", "NativeOp", "add_kernel", "build_kernel", "get_kernel", "NEWTON_MAX"]

NEWTON_MAX = 8


@dataclass(frozen=True)
class NativeOp:
    """The PyTorch op a fused kernel stands in for, in the forms the speed benchmark times.

    Args:
        name: how tables name it, e.g. the aten op's name.
        functional: the autograd form, a ``torch.nn.functional`` function (the "user view" baseline).
        forward: ``(x, out)`` into a preallocated ``out`` (aten's ``.out`` overload), default hyperparameters.
        backward: ``(x, y, gy, gx) -> gx`` into a preallocated ``gx`` (aten's ``grad_input=`` overload); reads
            whatever aten's backward reads (the input ``x`` for most ops, the output ``y`` for tanh and σ). Where aten
            has no such overload it returns its freshly allocated result instead (and leaves ``gx`` alone).
        backward_from_output: the same derivative read from the output ``y`` where aten also has that form (aten's
            ``is_result=True`` backwards); ``None`` otherwise.
        direct: the C function behind ``functional`` with the same signature (``torch.relu`` behind ``F.relu``), for
            a module that is the native op (``KernelDef.module_native``): ``functional``'s Python frame is about
            90 ns, which is what such a module's float check costs. ``None``: the module calls ``functional``.
    """

    name: str
    functional: Callable[..., torch.Tensor]
    forward: Callable[..., object]
    backward: Callable[..., object]
    backward_from_output: Callable[..., object] | None = None
    direct: Callable[..., torch.Tensor] | None = None


@dataclass(frozen=True)
class KernelDef:
    """An activation's fused kernel, described once: element functions and the facts the engine needs about them.

    Args:
        prep, f, grad: element functions (see :mod:`._drivers`); ``grad`` returns ``(f′, ∂f/∂p₀, …)``.
        output_grad: set when ``grad`` reads the saved output y instead of x (f′ is a cheap function of y): the same
            derivatives in torch ops, ``output_grad(y, *params) -> (f′, ∂f/∂p₀, …)``, used for double backward.
        newton: the kernel accepts the fast inverse square root (``get_kernel(name, newton=k)`` bakes ``k`` in).
        native: the PyTorch op this kernel stands in for (speed benchmark baseline), if any.
        triton: ``"package.module:name"``, the module defining the same function's Triton element functions
            ``name_f``/``name_grad`` (see :mod:`._triton`), or ``None`` (no GPU kernel).
        module_native: the zoo module is PyTorch's own op (``native.functional``) on every device and dtype, with no
            layer in front of it: where that op is the same single pass each way as the kernel (ReLU, leaky ReLU),
            the module's only cost beyond it is what a module costs (through ``apply`` the native route measured
            0.96x at 1K-64K, benchmarks/user_view.py). The kernel still serves the registered operator,
            :func:`~actlab.kernels.apply` and the gated kernels built from the description.
        simd: whether the loops vectorise (``False`` for element functions that call libm in float64, which
            numba cannot vectorise; ``tests/kernels/test_fused.py`` checks every other kernel's loops for SIMD code).
    """

    prep: Callable
    f: Callable
    grad: Callable
    output_grad: Callable[..., tuple[torch.Tensor, ...]] | None = None
    newton: bool = False
    native: NativeOp | None = None
    triton: str | None = None
    module_native: bool = False
    simd: bool = True


def build_kernel(name: str, d: KernelDef, param_names: tuple[str, ...], k: int = -1) -> FusedKernel:
    """The :class:`FusedKernel` of description ``d`` (``k``: Newton steps baked in, −1 for the exact kernel)."""
    loops = make_loops(d.prep, d.f, d.grad, len(param_names), tag=name, k=k)
    label = name if k < 0 else f"{name}[newton={k}]"
    return FusedKernel(label, loops.forward, loops.backward, param_names, backward_input=loops.backward_input,
                       output_grad=d.output_grad, loops=(loops.serial[:2], loops.parallel[:2]), native_op=d.native,
                       triton=d.triton, simd=d.simd)


_DEFS: dict[str, tuple[KernelDef, tuple[str, ...]]] = {}
KERNELS: dict[str, FusedKernel] = {}


def add_kernel(name: str, d: KernelDef, param_names: tuple[str, ...]) -> FusedKernel:
    """Enter description ``d`` under ``name`` (the activations registry calls this once per fused activation)."""
    key = name.lower()
    if key in _DEFS:
        raise ValueError(f"kernel {key!r} is defined twice")
    if d.module_native and d.native is None:
        raise ValueError(f"kernel {key!r}: module_native needs the native op it names (native=)")
    _DEFS[key] = (d, tuple(param_names))
    KERNELS[key] = build_kernel(key, d, tuple(param_names))
    return KERNELS[key]


@lru_cache(maxsize=None)
def _newton_kernel(name: str, k: int) -> FusedKernel:
    d, params = _DEFS[name]
    return build_kernel(name, d, params, k)


def get_kernel(name: str, newton: int | None = None) -> FusedKernel | None:
    """The fused kernel called ``name``, or ``None`` if there is none.

    Args:
        name: kernel name (a key of :data:`KERNELS`: the name of the activation that defines it).
        newton: ``None`` for the exact inverse square root; ``k`` in 0..8 for the fast bit-level guess
            (0x5f3759df / 0x5fe6eb50c7b537a9) plus ``k`` Newton steps. Only kernels defined with ``newton=True``.
    """
    key = name.lower()
    if key not in _DEFS:
        return None
    if newton is None:
        return KERNELS[key]
    if not _DEFS[key][0].newton:
        newton_ok = ", ".join(n for n, (d, _) in _DEFS.items() if d.newton)
        raise ValueError(f"kernel {key!r} has no fast inverse square root mode; newton= applies to {newton_ok}")
    if isinstance(newton, bool) or not isinstance(newton, int) or not 0 <= newton <= NEWTON_MAX:
        raise ValueError(f"newton must be an int in 0..{NEWTON_MAX} (Newton steps), got {newton!r}")
    return _newton_kernel(key, newton)


def closest(name: str) -> list[str]:
    """Kernel names close to ``name``, for error messages."""
    return difflib.get_close_matches(name.lower(), list(_DEFS), n=4, cutoff=0.5)
