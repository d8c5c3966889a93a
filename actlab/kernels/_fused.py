"""The memory-efficient autograd path shared by every fused kernel.

A :class:`FusedKernel` is a pair of numba functions over flat arrays:

* ``forward(x, out, *params)`` writes f(x) into ``out``;
* ``backward(s, grad_out, grad_in, *params)`` writes f'·grad_out into ``grad_in`` and returns a tuple with one
  float per parameter: Σ grad_out·∂f/∂param (the gradient of a scalar parameter).

:func:`apply` wraps a kernel in an ``autograd.Function`` that saves one tensor of the input's size plus the
parameters, and recomputes f' in backward (timm's memory-efficient pattern). Which tensor ``s`` is depends on the
kernel: the input x in general, or the output y when f' is a cheap function of y (declared by the kernel's
description, as PyTorch does for its rectifier, tanh and σ). Saving y costs no memory in a network, because the next
layer saves the same tensor as its input; saving x keeps a second tensor per activation alive until backward.
Hand-written kernels and kernels generated from expressions all go through :func:`apply`.

The same contract has a C++ implementation (:mod:`._native`), which :func:`apply` prefers for tensors under 32 MB
whose parameters need no gradient: there the Python Function's fixed cost per call is larger than the kernel. Both
call the same numba loops and give bit-identical results.
"""

from __future__ import annotations

import mmap
import os
import sys
import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import numba
import torch

from . import _native, _triton
from ._generic import graph_grads
from ._half import bits_view

__all__ = ["FusedKernel", "apply_fused", "backend_values", "eager", "fused_forward", "fused_backward", "supports",
           "backend", "sync_threads", "empty_output", "use_hugepage_outputs"]

_FLOAT_DTYPES = (torch.float32, torch.float64)
# bf16 and fp16 run the same loops, reading and writing 16 bits and computing in float32 (_half.py).
_LOWP_DTYPES = (torch.bfloat16, torch.float16)
_NODE_DTYPES = _FLOAT_DTYPES + _LOWP_DTYPES  # what the C++ node's loops take (bf16/fp16 as 16 bits, see _half)


@dataclass(frozen=True)
class FusedKernel:
    """A fused forward/backward pair over flat contiguous arrays.

    Args:
        name: registry key, the name of the activation that defines it.
        forward: numba function ``(x, out, *params) -> None``.
        backward: numba function ``(x, grad_out, grad_in, *params) -> tuple[float, ...]`` (one entry per param).
        param_names: names of the scalar parameters, in call order (e.g. ``("alpha",)``).
        static: extra compile-time-like arguments appended after the parameters (e.g. Newton steps); they get no
            gradient.
        reference: default composite torch form ``reference(x, *params)`` for double backward, used when
            :func:`apply` gets none.
        backward_input: optional ``(x, grad_out, grad_in, *params) -> ()`` that skips the parameter-gradient
            reduction; :func:`apply` uses it when no parameter needs a gradient.
        output_grad: set for kernels whose ``backward``/``backward_input`` read the saved *output* y instead of x:
            the torch form ``output_grad(y, *params) -> (f′, ∂f/∂p₁, …)`` of the same derivatives, differentiated
            for double backward (y's own graph then carries the chain to x). Such a kernel's output must not be
            modified in place before backward, as with ``torch.tanh`` or torch's rectifier; autograd reports it.
        loops: for kernels whose ``forward``/``backward_input`` are Python functions choosing between a serial and a
            parallel numba loop (generated expression kernels compile the parallel one only when a large input
            arrives): ``((forward, backward_input) serial, (forward, backward_input) parallel)``, the numba loops
            themselves, so that the C++ node (:mod:`._native`) can call them too. Every kernel built by
            :mod:`._drivers` sets it.
        native_op: the PyTorch op the kernel stands in for (a :class:`~actlab.kernels.NativeOp`), for benchmarks.
        triton: ``"package.module:name"``, the Triton element functions ``name_f``/``name_grad`` of the same
            function (:mod:`._triton` builds the GPU kernels from them), a zero-argument function returning that
            reference on first use (generated kernels write their Triton module only when a GPU call needs it), or
            ``None`` for a CPU-only kernel.
        simd: whether the loops vectorise (see :class:`~actlab.kernels.KernelDef`).
    """

    name: str
    forward: Callable[..., Any]
    backward: Callable[..., Any]
    param_names: tuple[str, ...] = ()
    static: tuple[Any, ...] = field(default=())
    reference: Callable[..., torch.Tensor] | None = None
    backward_input: Callable[..., Any] | None = None
    output_grad: Callable[..., tuple[torch.Tensor, ...]] | None = None
    loops: tuple[tuple[Callable[..., Any], Callable[..., Any]], tuple[Callable[..., Any], Callable[..., Any]]] | None \
        = None
    native_op: Any = None
    triton: str | Callable[[], str] | None = None
    simd: bool = True

    @property
    def saves_output(self) -> bool:
        return self.output_grad is not None

    @cached_property
    def native(self) -> bool:
        """Whether the C++ autograd node can run this kernel (see :mod:`._native`)."""
        return _native.supported(self)


def _scalar_params(params: tuple[Any, ...], device: torch.device) -> bool:
    return all(not isinstance(p, torch.Tensor) or (p.numel() == 1 and (p.is_cpu or p.device == device))
               for p in params)


def supports(x: torch.Tensor, *params: torch.Tensor | float, lowp: bool = True) -> bool:
    """Whether the numba loops can run: a CPU float32/float64 tensor (bf16/fp16 too with ``lowp``, read and written
    as 16 bits and computed in float32) and scalar parameters on the CPU."""
    if not x.is_cpu or not (x.dtype in _FLOAT_DTYPES or (lowp and x.dtype in _LOWP_DTYPES)):
        return False
    return all(not isinstance(p, torch.Tensor) or (p.numel() == 1 and p.is_cpu) for p in params)


def backend(kernel: FusedKernel, x: torch.Tensor, *params: torch.Tensor | float) -> str | None:
    """The one place that picks a fused kernel's backend for ``x``: ``"triton"``, ``"numba"`` or ``None`` (no fused
    kernel serves it; the caller runs the composite reference).

    Triton serves CUDA float32/bf16/fp16 tensors of kernels with Triton element functions (and CPU tensors under
    the interpreter inside :func:`~actlab.kernels.use_triton_on_cpu`, for tests); numba serves the CPU, bf16 and
    fp16 included (read and written as 16 bits, :mod:`._half`).
    """
    if _use_triton(kernel, x) and _scalar_params(params, x.device):
        return "triton"
    return "numba" if supports(x, *params) else None


def _use_triton(kernel: FusedKernel, x: torch.Tensor) -> bool:
    return kernel.triton is not None and _triton.serves(x)


def backend_values(kernel: FusedKernel, x: torch.Tensor, params: Any) -> tuple[Any, ...]:
    """The scalar parameters as the backend takes them: floats, except that the Triton kernels take a one-element
    tensor on x's device as it is (loaded inside the kernel), so a learnable α/β on the GPU is never read back."""
    if _use_triton(kernel, x):
        return tuple(p.detach() if isinstance(p, torch.Tensor) and p.device == x.device else float(p) for p in params)
    return tuple(float(p) for p in params)


_local = threading.local()


def sync_threads() -> None:
    """Make numba use as many threads as torch does, so worker processes pinned to one thread stay at one.

    Both settings are per thread in numba and torch, so the last value is remembered per thread too.
    """
    n = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    if getattr(_local, "n", -1) != n:
        numba.set_num_threads(n)
        _local.n = n


# Outputs at least this large get their own 2 MB-page mapping (see empty_output). 32 MB is glibc's ceiling for its
# dynamic mmap threshold: below it freed blocks go back to the heap and torch.empty reuses them without faults, so a
# fresh mapping per call only adds faults. At 8 MB (the old threshold) Swish forward+backward at 2M float32 took a
# median 15.6 ms against 3.6 ms without it (bimodal, minimum 4.6 ms); at 32 MB it took 17 ms against 44 ms
# (benchmarks/RESULTS.md, "Mid-sized tensors").
HUGEPAGE_MIN_BYTES = 32 << 20
# On by default where Linux offers MADV_HUGEPAGE: measured on a quiet machine, it took a fused module's
# forward+backward at 16M float32 from 72–76 ms to 32–33 ms (its torch baseline: 100–110 ms), see
# benchmarks/RESULTS.md. ACTLAB_HUGEPAGES=0 (or
# use_hugepage_outputs(False)) turns it off, e.g. where THP defrag stalls on a fragmented machine.
HUGEPAGES_DEFAULT = os.environ.get("ACTLAB_HUGEPAGES", "1") != "0"
_hugepages = [False]


def use_hugepage_outputs(enable: bool = True) -> None:
    """Turn :func:`empty_output`'s huge-page mapping of large outputs on or off (Linux only; on by default).

    It affects only the outputs and gradients actlab's kernels allocate (≥ :data:`HUGEPAGE_MIN_BYTES`), never
    process-wide settings. Where the kernel's THP ``defrag`` policy compacts memory on fault for madvised regions, a
    badly fragmented machine can stall on these allocations; turn it off there.
    """
    _hugepages[0] = bool(enable) and sys.platform.startswith("linux") and hasattr(mmap, "MADV_HUGEPAGE")


use_hugepage_outputs(HUGEPAGES_DEFAULT)


def empty_output(like: torch.Tensor) -> torch.Tensor:
    """An uninitialised contiguous tensor shaped like ``like``, for a kernel's output.

    A fresh large output costs more in page faults than the arithmetic (one fault per 4 KB page, every step,
    because glibc maps and unmaps blocks above 32 MB). Outputs of at least :data:`HUGEPAGE_MIN_BYTES` therefore get
    their own anonymous mapping with ``MADV_HUGEPAGE`` (unless :func:`use_hugepage_outputs` turned it off), which
    faults 2 MB at a time where the kernel allows transparent huge pages. Only these outputs are affected; no
    process-wide allocator setting changes. The mapping is released with the tensor. Otherwise this is ``torch.empty``.
    """
    if not _hugepages[0]:
        return torch.empty_like(like, memory_format=torch.contiguous_format)
    nbytes = like.numel() * like.element_size()
    if nbytes < HUGEPAGE_MIN_BYTES:
        return torch.empty_like(like, memory_format=torch.contiguous_format)
    m = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    m.madvise(mmap.MADV_HUGEPAGE)
    return torch.frombuffer(m, dtype=like.dtype, count=like.numel()).view(like.shape)


def _flat(t: torch.Tensor) -> Any:
    # numpy's reshape of a contiguous array is a view and costs less than torch's view + numpy per call.
    a = t.numpy()
    return a if a.ndim == 1 else a.reshape(-1)


def _contiguous(t: torch.Tensor) -> torch.Tensor:
    t = t.detach()
    return t if t.is_contiguous() else t.contiguous()


def fused_forward(kernel: FusedKernel, x: torch.Tensor, values: tuple[float, ...]) -> torch.Tensor:
    """f(x) through the kernel's backend (:func:`backend` has said it serves ``x``; ``values`` the scalar
    parameters), no autograd. bf16/fp16 are read and written as 16-bit by the loops, computed in float32 and rounded
    once (:mod:`._half`)."""
    if _use_triton(kernel, x):
        return _triton.forward(kernel, x, values)
    xc = _contiguous(x)
    out = empty_output(xc)
    nat = _native.loops(kernel, xc.dtype)
    if nat is not None:  # the serial loops over torch's own threads (see _native.PARALLEL_GRAIN)
        nat[0].forward_loop(xc, out, nat[1], list(values), _native.PARALLEL_GRAIN)
        return out
    sync_threads()
    kernel.forward(_flat(bits_view(xc)), _flat(bits_view(out)), *values, *kernel.static)
    return out


def fused_backward(kernel: FusedKernel, s: torch.Tensor, grad_out: torch.Tensor, values: tuple[float, ...],
                   want_params: bool) -> tuple[torch.Tensor, tuple[Any, ...]]:
    """(f′·grad_out, (Σ grad_out·∂f/∂p, …) if ``want_params`` else ()) through the kernel's backend; ``s`` is what
    the kernel saves (x, or y for output-saving kernels). The sums are floats from numba and float64 0-dim tensors
    from Triton (no device synchronisation)."""
    if _use_triton(kernel, s):
        return _triton.backward(kernel, s, grad_out, values, want_params)
    sc = _contiguous(s)
    go = _contiguous(grad_out if grad_out.dtype == sc.dtype else grad_out.to(sc.dtype))
    grad_in = empty_output(sc)
    nat = None if want_params else _native.loops(kernel, sc.dtype)
    if nat is not None:
        nat[0].backward_loop(sc, go, grad_in, nat[2], list(values), _native.PARALLEL_GRAIN)
        return grad_in, ()
    sync_threads()
    bwd = kernel.backward if want_params or kernel.backward_input is None else kernel.backward_input
    sums = bwd(_flat(bits_view(sc)), _flat(bits_view(go)), _flat(bits_view(grad_in)), *values, *kernel.static)
    return grad_in, (tuple(sums) if want_params else ())


def param_grad(p: torch.Tensor, v: Any) -> torch.Tensor:
    """A scalar parameter's gradient, shaped and typed like ``p``, from a float or a 0-dim tensor sum."""
    if isinstance(v, torch.Tensor):
        return v.to(device=p.device, dtype=p.dtype).expand(p.shape).clone()
    return torch.full_like(p, float(v))


class _FusedFunction(torch.autograd.Function):
    # Kept lean: on the small activations of a child network the Python around the kernel costs more than the
    # kernel itself (benchmarks/RESULTS.md, "Memory of a training step").
    @staticmethod
    def forward(ctx, kernel: FusedKernel, reference: Callable[..., torch.Tensor] | None, x: torch.Tensor,
                *params: torch.Tensor | float) -> torch.Tensor:  # type: ignore[override]
        values = backend_values(kernel, x, params)
        out = fused_forward(kernel, x, values)
        ctx.kernel = kernel
        ctx.reference = reference
        ctx.values = values
        ctx.param_kinds = tuple(isinstance(p, torch.Tensor) for p in params)
        ctx.save_for_backward(out if kernel.output_grad is not None else x,
                              *[p for p in params if isinstance(p, torch.Tensor)])
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        s, *tensors = ctx.saved_tensors
        if torch.is_grad_enabled():
            return _FusedFunction._double_backward(ctx, s, tensors, grad_out)
        kinds = ctx.param_kinds
        want = any(ctx.needs_input_grad[3 + i] for i, t in enumerate(kinds) if t)
        grad_in, sums = fused_backward(ctx.kernel, s, grad_out, ctx.values, want)
        grads: list[torch.Tensor | None] = []
        it = iter(tensors)
        for i, is_tensor in enumerate(kinds):
            p = next(it) if is_tensor else None
            grads.append(param_grad(p, sums[i]) if p is not None and ctx.needs_input_grad[3 + i] else None)
        return (None, None, grad_in if ctx.needs_input_grad[2] else None, *grads)

    @staticmethod
    def _double_backward(ctx, s: torch.Tensor, tensors: list[torch.Tensor], grad_out: torch.Tensor):
        it = iter(tensors)
        params = [next(it) if is_t else v for v, is_t in zip(ctx.values, ctx.param_kinds, strict=False)]
        grad_x, *grads = _graph_grads(ctx.kernel, ctx.reference, s, grad_out, params)
        return (None, None, grad_x, *grads)


def _graph_grads(kernel: FusedKernel, reference: Callable[..., torch.Tensor] | None, s: torch.Tensor,
                 grad_out: torch.Tensor, params: list[Any]) -> list[torch.Tensor | None]:
    """[∂/∂x, ∂/∂p₁, …] built from differentiable torch ops, for create_graph=True (higher derivatives).

    ``s`` is what the kernel saved (x, or y for output-saving kernels); ``params`` are floats or tensors.
    """
    reference = reference if reference is not None else kernel.reference
    if kernel.output_grad is None and reference is None:
        raise RuntimeError(f"fused kernel {kernel.name!r} got no reference; double backward is unavailable")
    return graph_grads(reference, kernel.output_grad, s, grad_out, params, create_graph=True)


def native_double_backward(key: int, s: torch.Tensor, grad_out: torch.Tensor, values: list[float]) -> torch.Tensor:
    """The C++ node's backward under create_graph=True (it calls back here): the input gradient as a graph."""
    kernel, reference = _native.KEYS[key]
    grad = _graph_grads(kernel, reference, s, grad_out, list(values))[0]
    assert grad is not None  # graph_grads always returns the input gradient
    return grad


_native.set_double_backward(native_double_backward)


def apply_fused(kernel: FusedKernel, x: torch.Tensor, *params: torch.Tensor | float,
                reference: Callable[..., torch.Tensor] | None = None) -> torch.Tensor:
    """Run ``kernel`` eagerly under autograd on an ``x`` that :func:`backend` serves (``kernels.apply`` routes
    here); saves ``x`` (or the output, see :class:`FusedKernel`) and the tensor parameters.

    ``reference(x, *params)`` is the composite torch form of the same function; it is differentiated only for double
    backward (``create_graph=True``), which the flat kernels do not provide. The caller has checked :func:`backend`
    and the parameter count. The autograd node is the C++ one (:mod:`._native`) when it is
    built and can serve the call (:func:`eager`), else the Python ``autograd.Function``; the results are the same.
    """
    values = _fixed_values(params)
    if values is not None:
        y = eager(kernel, x, values, reference)
        if y is not None:
            return y
    return _FusedFunction.apply(kernel, reference, x, *params)


def eager(kernel: FusedKernel, x: torch.Tensor, values: tuple[Any, ...],
          reference: Callable[..., torch.Tensor] | None = None) -> torch.Tensor | None:
    """``kernel`` on ``x`` through the C++ node, or None where that is not the path (then :func:`apply` decides).

    The node serves an eagerly computed CPU float32/float64/bfloat16/float16 tensor under
    :data:`HUGEPAGE_MIN_BYTES` whose parameters ``values`` are all Python floats (none needs a gradient: the node
    computes the input gradient only). Larger tensors keep the Python Function, whose fixed cost is negligible
    there and whose outputs get huge pages (:func:`empty_output`).

    This is the whole per-call cost of a small fused activation beyond the kernels (an activation module calls it
    first), so the checks are ordered cheapest first and nothing else runs: at 1K elements the Python around the
    node was a quarter of a forward+backward (benchmarks/RESULTS.md, "Small tensors, in the user view").
    """
    # is_compiling before kernel.native: a first read of that cached_property takes a lock dynamo cannot trace
    if (type(x) is not torch.Tensor or x.dtype not in _NODE_DTYPES or not x.is_cpu or torch.compiler.is_compiling()
            or not kernel.native or torch.jit.is_tracing() or _triton.on_cpu()):
        return None
    for v in values:
        if type(v) is not float:
            return None
    if _hugepages[0] and x.numel() * x.element_size() >= HUGEPAGE_MIN_BYTES:
        return None
    if kernel.loops is None:
        sync_threads()  # a kernel of its own loops may use numba's pool; the node splits the template's serial ones
    if not _native.enabled():
        return None
    return _native.node(kernel, reference, x, values)


def _fixed_values(params: tuple[torch.Tensor | float, ...]) -> tuple[float, ...] | None:
    # The parameters as floats, or None if one needs a gradient.
    out = []
    for p in params:
        if isinstance(p, torch.Tensor) and p.requires_grad:
            return None
        out.append(float(p))
    return tuple(out)
