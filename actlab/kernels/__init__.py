"""Fused numba CPU kernels and the memory-efficient autograd path.

``KERNELS`` is the one table of hand-written kernels; ``get_kernel(name, newton=None)`` returns one (or ``None``);
``apply(kernel, x, *params, reference=...)`` runs it under autograd on any device and dtype, saving one tensor (the
input, or the output where f′ is a function of it) plus the parameters; under graph capture it is the registered
operator ``actlab::<name>`` (``operator``, ``decompositions``: :mod:`._ops`); off the fused path it is
``recompute`` (one saved tensor, f′ recomputed with torch ops). On small tensors it goes through a C++ autograd node
(``_native``; ``build_native``, ``use_native``, ``native_status``) that calls the same numba loops. The vectorisable scalar
building blocks for kernels (``vexp``, ``vtanh``, ``verf``, ``fast_rsqrt``, ...) live in :mod:`actlab.kernels._math` and
:mod:`actlab.kernels._special`.
"""

from . import _cachelock

_cachelock.install()  # before anything compiles: see _cachelock for the race it closes

from ._alloc import tune_allocator  # noqa: E402
from ._native import build_native, native_enabled, native_status, use_native  # noqa: E402
from ._fused import FusedKernel, empty_output, supports, sync_threads, use_hugepage_outputs  # noqa: E402
from ._generic import recompute  # noqa: E402
from ._ops import SCRIPT_ERROR, KernelOp, apply, capturing, decompositions, op_name, operator  # noqa: E402
from ._table import KERNELS, NEWTON_MAX, KernelRow, get_kernel  # noqa: E402

__all__ = ["FusedKernel", "apply", "supports", "recompute", "capturing", "operator", "KernelOp", "op_name",
           "decompositions", "SCRIPT_ERROR", "sync_threads", "get_kernel", "KERNELS", "KernelRow", "NEWTON_MAX",
           "tune_allocator", "empty_output", "use_hugepage_outputs", "build_native", "use_native", "native_enabled",
           "native_status"]
