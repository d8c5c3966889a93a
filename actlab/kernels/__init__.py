"""Fused numba CPU kernels and the memory-efficient autograd path: an engine that knows no activation by name.

An activation describes its kernel once, as a :class:`KernelDef` (element functions, the output-derivative form,
the PyTorch op it stands in for) in its registry entry; the registry enters it with :func:`add_kernel`.
``KERNELS`` then holds the built kernels by activation name and ``get_kernel(name, newton=None)`` returns one (or
``None``). ``apply(kernel, x, *params, reference=...)`` runs a kernel under autograd on any device and dtype, saving
one tensor (the input, or the output where f′ is a function of it) plus the parameters. Under graph capture it is the
registered operator ``actlab::<name>`` (``operator``, ``decompositions``: :mod:`._ops`); off the fused path it is
``recompute`` (one saved tensor, f′ recomputed with torch ops). :func:`backend` is the one place that picks numba
(CPU; bf16/fp16 computed in float32) or Triton (CUDA, :mod:`._triton`; :func:`use_triton_on_cpu` under
``TRITON_INTERPRET=1`` for tests) for a kernel. On small tensors it goes through a C++ autograd node
(``_native``; ``build_native``, ``use_native``, ``native_status``) that calls the same numba loops.
:func:`make_loops` is the one loop template, shared by these kernels and the ones :mod:`actlab.expr` generates.
The vectorisable scalar building blocks for element functions (``vexp``, ``vtanh``, ``verf``, ``fast_rsqrt``,
``select``, ``cast_like``, ...) are exported here too (implemented in ``_math`` and ``_special``).
"""

from . import _cachelock

_cachelock.install()  # before anything compiles: see _cachelock for the race it closes

from ._alloc import tune_allocator  # noqa: E402
from ._native import build_native, eager_entry, native_enabled, native_status, use_native  # noqa: E402
from ._fused import (  # noqa: E402
    FusedKernel, backend, eager, empty_output, supports, sync_threads, use_hugepage_outputs)
from ._triton import load_triton_source, use_triton_on_cpu  # noqa: E402
from ._triton_op import triton_op_enabled, use_triton_op  # noqa: E402
from ._generic import recompute  # noqa: E402
from ._ops import SCRIPT_ERROR, KernelOp, apply, capturing, decompositions, op_name, operator  # noqa: E402
from ._gated import (  # noqa: E402
    GATED, GatedKernel, add_gated, apply_gated, gated_backend, gated_operator, gated_reference, get_gated,
    make_gated_loops, split_gate)
from ._drivers import CHUNK, SERIAL_MAX, SOURCE_FINGERPRINT, Loops, fingerprint, make_loops  # noqa: E402
from ._table import (  # noqa: E402
    KERNELS, NEWTON_MAX, KernelDef, NativeOp, add_kernel, build_kernel, get_kernel)
from ._math import (  # noqa: E402
    FAST_RSQRT_MAX_REL, SAFE_FASTMATH, cast_like, exp_expm1, fast_rsqrt, select, vexp, vexp_neg, vexpm1, vlog,
    vlog1p)
from ._special import ndtr_exp, sigmoid_pair, verf, verfc, vsigmoid, vsoftplus, vtanh  # noqa: E402
from ._trig import vasinh_wide, vatan, vcos, vsin  # noqa: E402

__all__ = ["FusedKernel", "apply", "eager", "eager_entry", "supports", "backend",
           "use_triton_on_cpu", "use_triton_op", "triton_op_enabled",
           "load_triton_source",
           "recompute", "capturing", "operator",
           "GATED", "GatedKernel", "add_gated", "apply_gated", "gated_backend", "gated_operator", "gated_reference",
           "get_gated", "make_gated_loops", "split_gate",
           "KernelOp", "op_name", "decompositions", "SCRIPT_ERROR", "sync_threads", "get_kernel", "KERNELS",
           "KernelDef", "NativeOp",
           "add_kernel", "build_kernel", "make_loops", "Loops", "SERIAL_MAX", "CHUNK", "SOURCE_FINGERPRINT",
           "fingerprint", "NEWTON_MAX", "tune_allocator", "empty_output", "use_hugepage_outputs", "build_native",
           "use_native", "native_enabled", "native_status",
           # vectorisable building blocks for element functions
           "SAFE_FASTMATH", "FAST_RSQRT_MAX_REL", "cast_like", "select", "exp_expm1", "fast_rsqrt", "vexp",
           "vexp_neg", "vexpm1", "vlog", "vlog1p", "ndtr_exp", "sigmoid_pair", "verf", "verfc", "vsigmoid",
           "vsoftplus", "vtanh", "vatan", "vsin", "vcos", "vasinh_wide"]
