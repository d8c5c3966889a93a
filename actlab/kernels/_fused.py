"""The memory-efficient autograd path shared by every fused kernel.

A :class:`FusedKernel` is a pair of numba functions over flat arrays:

* ``forward(x, out, *params)`` writes f(x) into ``out``;
* ``backward(x, grad_out, grad_in, *params)`` writes f'(x)·grad_out into ``grad_in`` and returns a tuple with one
  float per parameter: Σ grad_out·∂f/∂param (the gradient of a scalar parameter).

:func:`apply` wraps a kernel in an ``autograd.Function`` that saves only the input and the parameters, and recomputes
f' in backward (timm's memory-efficient pattern). Hand-written zoo kernels and kernels generated from expressions
both go through it, so every fused activation shares one tested code path.
"""

from __future__ import annotations

import mmap
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numba
import torch

__all__ = ["FusedKernel", "apply", "supports", "sync_threads", "empty_output", "use_hugepage_outputs"]

_FLOAT_DTYPES = (torch.float32, torch.float64)


@dataclass(frozen=True)
class FusedKernel:
    """A fused forward/backward pair over flat contiguous arrays.

    Args:
        name: registry key, e.g. ``"isrlu"``.
        forward: numba function ``(x, out, *params) -> None``.
        backward: numba function ``(x, grad_out, grad_in, *params) -> tuple[float, ...]`` (one entry per param).
        param_names: names of the scalar parameters, in call order (e.g. ``("alpha",)``).
        static: extra compile-time-like arguments appended after the parameters (e.g. Newton steps); they get no
            gradient.
        reference: default composite torch form ``reference(x, *params)`` for double backward, used when
            :func:`apply` gets none.
        backward_input: optional ``(x, grad_out, grad_in, *params) -> ()`` that skips the parameter-gradient
            reduction; :func:`apply` uses it when no parameter needs a gradient.
    """

    name: str
    forward: Callable[..., Any]
    backward: Callable[..., Any]
    param_names: tuple[str, ...] = ()
    static: tuple[Any, ...] = field(default=())
    reference: Callable[..., torch.Tensor] | None = None
    backward_input: Callable[..., Any] | None = None


def supports(x: torch.Tensor, *params: torch.Tensor | float) -> bool:
    """Whether the fused path can run: a CPU float32/float64 tensor and scalar parameters on the CPU."""
    if x.device.type != "cpu" or x.dtype not in _FLOAT_DTYPES:
        return False
    for p in params:
        if isinstance(p, torch.Tensor) and (p.numel() != 1 or p.device.type != "cpu"):
            return False
    return True


_local = threading.local()


def sync_threads() -> None:
    """Make numba use as many threads as torch does, so worker processes pinned to one thread stay at one.

    Both settings are per thread in numba and torch, so the last value is remembered per thread too.
    """
    n = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    if getattr(_local, "n", -1) != n:
        numba.set_num_threads(n)
        _local.n = n


# Outputs at least this large get their own 2 MB-page mapping (see empty_output).
HUGEPAGE_MIN_BYTES = 8 << 20
_hugepages = [False]


def use_hugepage_outputs(enable: bool = True) -> None:
    """Opt in (or back out) of :func:`empty_output`'s huge-page mapping for large outputs (Linux only).

    Off by default: where the kernel's THP ``defrag`` policy compacts memory on fault for madvised regions, a
    fragmented machine can stall on these allocations, and the loaded-machine measurements were inconclusive.
    """
    _hugepages[0] = bool(enable) and sys.platform.startswith("linux") and hasattr(mmap, "MADV_HUGEPAGE")


def empty_output(like: torch.Tensor) -> torch.Tensor:
    """An uninitialised contiguous tensor shaped like ``like``, for a kernel's output.

    A fresh large output costs more in page faults than the arithmetic (one fault per 4 KB page, every step,
    because glibc maps and unmaps blocks above 32 MB). Outputs of at least :data:`HUGEPAGE_MIN_BYTES` therefore get
    their own anonymous mapping with ``MADV_HUGEPAGE`` once :func:`use_hugepage_outputs` is called, which faults
    2 MB at a time where the kernel allows transparent huge pages. Only these outputs are affected; no process-wide
    allocator setting changes. The mapping is released with the tensor. Otherwise this is ``torch.empty``.
    """
    nbytes = like.numel() * like.element_size()
    if not _hugepages[0] or nbytes < HUGEPAGE_MIN_BYTES:
        return torch.empty(like.shape, dtype=like.dtype)
    m = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    m.madvise(mmap.MADV_HUGEPAGE)
    return torch.frombuffer(m, dtype=like.dtype, count=like.numel()).view(like.shape)


def _scalar(p: torch.Tensor | float) -> float:
    return float(p.detach()) if isinstance(p, torch.Tensor) else float(p)


class _FusedFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kernel: FusedKernel, reference: Callable[..., torch.Tensor] | None, x: torch.Tensor,
                *params: torch.Tensor | float) -> torch.Tensor:  # type: ignore[override]
        xc = x.detach().contiguous()
        out = empty_output(xc)
        values = tuple(_scalar(p) for p in params)
        sync_threads()
        kernel.forward(xc.view(-1).numpy(), out.view(-1).numpy(), *values, *kernel.static)
        ctx.kernel = kernel
        ctx.reference = reference if reference is not None else kernel.reference
        ctx.values = values
        ctx.param_kinds = tuple(isinstance(p, torch.Tensor) for p in params)
        tensors = [p for p in params if isinstance(p, torch.Tensor)]
        ctx.save_for_backward(x, *tensors)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        x, *tensors = ctx.saved_tensors
        kernel: FusedKernel = ctx.kernel
        if torch.is_grad_enabled():
            return _FusedFunction._double_backward(ctx, x, tensors, grad_out)
        xc = x.detach().contiguous()
        go = grad_out.detach().to(xc.dtype).contiguous()
        grad_in = empty_output(xc)
        sync_threads()
        want = [ctx.needs_input_grad[3 + i] for i, t in enumerate(ctx.param_kinds) if t]
        bwd = kernel.backward if any(want) or kernel.backward_input is None else kernel.backward_input
        sums = bwd(xc.view(-1).numpy(), go.view(-1).numpy(), grad_in.view(-1).numpy(), *ctx.values, *kernel.static)
        grads: list[torch.Tensor | None] = []
        it = iter(tensors)
        for i, is_tensor in enumerate(ctx.param_kinds):
            if not is_tensor:
                grads.append(None)
                continue
            p = next(it)
            if ctx.needs_input_grad[3 + i]:
                grads.append(torch.full_like(p, float(sums[i])))
            else:
                grads.append(None)
        return (None, None, grad_in if ctx.needs_input_grad[2] else None, *grads)


    @staticmethod
    def _double_backward(ctx, x: torch.Tensor, tensors: list[torch.Tensor], grad_out: torch.Tensor):
        # create_graph=True: differentiate the composite reference so that higher derivatives exist.
        if ctx.reference is None:
            raise RuntimeError(f"fused kernel {ctx.kernel.name!r} got no reference; double backward is unavailable")
        it = iter(tensors)
        params = [next(it) if is_t else v for v, is_t in zip(ctx.values, ctx.param_kinds)]
        with torch.enable_grad():
            xg = x if x.requires_grad else x.detach().requires_grad_(True)
            y = ctx.reference(xg, *params)
            wrt = [xg] + [p for p in tensors if p.requires_grad]
            g = torch.autograd.grad(y, wrt, grad_out, create_graph=True, allow_unused=True)
        grad_x, rest = g[0], iter(g[1:])
        grads = []
        for is_t, p in zip(ctx.param_kinds, params):
            grads.append(next(rest) if is_t and p.requires_grad else None)
        return (None, None, grad_x, *grads)


def apply(kernel: FusedKernel, x: torch.Tensor, *params: torch.Tensor | float,
          reference: Callable[..., torch.Tensor] | None = None) -> torch.Tensor:
    """Run ``kernel`` on ``x`` with autograd support; saves only ``x`` and the tensor parameters.

    ``reference(x, *params)`` is the composite torch form of the same function; it is differentiated only for double
    backward (``create_graph=True``), which the flat kernels do not provide. The caller checks :func:`supports`
    first and falls back to the reference otherwise.
    """
    if len(params) != len(kernel.param_names):
        raise TypeError(f"kernel {kernel.name!r} takes {len(kernel.param_names)} parameters "
                        f"{kernel.param_names}, got {len(params)}")
    return _FusedFunction.apply(kernel, reference, x, *params)
