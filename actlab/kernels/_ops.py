"""Fused kernels as registered torch operators, and :func:`apply`, the one entry point that picks the path.

Every :class:`~actlab.kernels.FusedKernel` gets an operator ``actlab::<name>(Tensor x, Tensor[] params) -> Tensor``
(and ``actlab::<name>_backward``) through ``torch.library.custom_op``, created on first use and keyed on the kernel's
name only (this module knows no activation names). Each has:

* an implementation for every device and dtype: the kernel's numba loops where :func:`supports` holds (CPU
  float32/float64, scalar parameters), else the composite reference evaluated without a graph;
* a fake (meta) implementation, so ``torch.compile``, ``torch.export`` and ``jit.trace`` see shapes without data;
* an autograd formula that saves one tensor (x, or y for ``output_grad`` kernels) plus the parameters, with a
  differentiable torch formula under ``create_graph=True`` (double backward).

:func:`apply` sends a call to the operator while a graph is being captured (``jit.trace``, ``torch.compile``,
``torch.export``, fake or functional tensors), so the graph records ``actlab::<name>`` instead of the data-pointer
calls inside. Eager calls skip the dispatcher: ``custom_op``'s Python dispatch costs more per call than the C++
node (:mod:`._native`) that serves small CPU tensors, so those keep the node or the Python Function
(:mod:`._fused`), and every other device and dtype takes the one-tensor recompute path (:mod:`._generic`). All
paths give the same values (the routes' per-call costs: "Registered operators" in the git history of
benchmarks/RESULTS.md).

ONNX has no ``actlab`` domain: :func:`decompositions` maps every operator created so far to its composite
reference, for ``ExportedProgram.run_decompositions`` before ``torch.onnx.export``.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable

import torch

from ._fused import (FusedKernel, apply_fused, backend, backend_values, eager, fused_backward, fused_forward,
                     param_grad)
from . import _triton_op
from ._generic import graph_grads, op_grads, recompute

__all__ = ["apply", "capturing", "operator", "decompositions", "add_decomposition", "SCRIPT_ERROR"]

_LIB = "actlab"


@dataclass(frozen=True)
class KernelOp:
    """The registered operators of one kernel: ``forward(x, params)`` and ``backward(s, grad, params, want)``."""

    kernel: FusedKernel
    reference: Callable[..., torch.Tensor] | None
    forward: Any  # torch.library.CustomOpDef
    backward: Any
    overload: Any  # torch.ops.actlab.<name>.default: what a graph calls (dynamo traces an OpOverload directly)


_OPS: dict[str, KernelOp] = {}
_lock = threading.Lock()
# Composites of operators registered elsewhere in the engine (the gated kernels, :mod:`._gated`), for
# decompositions().
_EXTRA_DECOMPOSITIONS: dict[Any, Callable[..., torch.Tensor]] = {}


def add_decomposition(overload: Any, composite: Callable[..., torch.Tensor]) -> None:
    """Enter another engine operator's composite into :func:`decompositions` (ONNX export)."""
    _EXTRA_DECOMPOSITIONS[overload] = composite


def op_name(kernel_name: str) -> str:
    """The operator name of a kernel: the name itself when it is an identifier, else a sanitised form plus a hash
    (``expr:x * sigmoid(beta0 * x)`` → ``expr_x___sigmoid_beta0___x___1a2b3c4d``)."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", kernel_name) and len(kernel_name) <= 64:
        return kernel_name
    base = re.sub(r"\W", "_", kernel_name)[:40]
    return f"{base}_{hashlib.sha256(kernel_name.encode()).hexdigest()[:8]}"


def _own(t: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
    # A custom op's outputs may not alias its inputs; an identity-like formula could return one of them.
    t = t.contiguous()
    return t.clone() if any(t.data_ptr() == i.data_ptr() for i in inputs if i.numel()) else t


def _register(kernel: FusedKernel, reference: Callable[..., torch.Tensor] | None) -> KernelOp:
    name = op_name(kernel.name)
    ref = reference if reference is not None else kernel.reference
    out_grad = kernel.output_grad

    def forward_impl(x: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
        if backend(kernel, x, *params) is not None:
            return fused_forward(kernel, x, backend_values(kernel, x, params))
        if ref is None:
            raise RuntimeError(f"kernel {kernel.name!r} has no composite reference for {x.device}/{x.dtype}")
        with torch.no_grad():
            return _own(ref(x, *params), x)

    def backward_impl(s: torch.Tensor, grad: torch.Tensor, params: list[torch.Tensor],
                      want: bool) -> list[torch.Tensor]:
        if backend(kernel, s, *params) is not None:
            grad_in, sums = fused_backward(kernel, s, grad, backend_values(kernel, s, params), want)
            return [grad_in, *([param_grad(p, v) for p, v in zip(params, sums, strict=False)] if want else [])]
        if out_grad is None and ref is None:
            raise RuntimeError(f"kernel {kernel.name!r} has no composite reference for {s.device}/{s.dtype}")
        g = op_grads(ref, out_grad, s, grad, list(params), want)
        return [_own(g[0], s, grad), *[_own(t, *params) for t in g[1:]]]

    fwd = torch.library.custom_op(f"{_LIB}::{name}", forward_impl, mutates_args=(),
                                  schema="(Tensor x, Tensor[] params) -> Tensor")
    bwd = torch.library.custom_op(f"{_LIB}::{name}_backward", backward_impl, mutates_args=(),
                                  schema="(Tensor saved, Tensor grad, Tensor[] params, bool want) -> Tensor[]")

    @fwd.register_fake
    def _(x: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
        return torch.empty_like(x, memory_format=torch.contiguous_format)

    @bwd.register_fake
    def _(s: torch.Tensor, grad: torch.Tensor, params: list[torch.Tensor], want: bool) -> list[torch.Tensor]:
        return [torch.empty_like(s, memory_format=torch.contiguous_format),
                *([torch.empty_like(p) for p in params] if want else [])]

    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        x, params = inputs
        ctx.save_for_backward(output if out_grad is not None else x, *params)

    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        s, *params = ctx.saved_tensors
        want_x, want_p = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if torch.is_grad_enabled():  # create_graph=True: a differentiable formula (higher derivatives)
            if out_grad is None and ref is None:
                raise RuntimeError(f"kernel {kernel.name!r} has no reference; double backward is unavailable")
            g = graph_grads(ref, out_grad, s, grad, params, create_graph=True)
            return (g[0] if want_x else None), list(g[1:])
        want = any(want_p)
        r = bwd(s, grad, params, want)
        return (r[0] if want_x else None), (list(r[1:]) if want else [None] * len(params))

    fwd.register_autograd(backward, setup_context=setup_context)
    return KernelOp(kernel, ref, fwd, bwd, getattr(getattr(torch.ops, _LIB), name).default)


def operator(kernel: FusedKernel, reference: Callable[..., torch.Tensor] | None = None) -> KernelOp:
    """The registered operators of ``kernel`` (created on first use; ``reference`` is kept from the first call)."""
    op = _OPS.get(kernel.name)
    if op is None:
        with _lock:
            op = _OPS.get(kernel.name)
            if op is None:
                op = _OPS[kernel.name] = _register(kernel, reference)
    return op


@torch.compiler.assume_constant_result
def _registered(kernel: FusedKernel, reference: Callable[..., torch.Tensor] | None) -> str:
    # Under torch.compile, dynamo runs this (registering the operator on first use) instead of tracing it, and gets
    # the name as a constant; the operator is then looked up on torch.ops, which dynamo traces directly.
    return op_name(operator(kernel, reference).kernel.name)


def capturing(x: torch.Tensor) -> bool:
    """Whether ``x`` is being captured into a graph (jit.trace, torch.compile, torch.export, fake/functional
    tensors) rather than computed eagerly: then there is no data to hand to a numba loop."""
    return (type(x) is not torch.Tensor and type(x) is not torch.nn.Parameter) or torch.jit.is_tracing() \
        or torch.compiler.is_compiling()


SCRIPT_ERROR = ("{name} cannot be compiled by torch.jit.script: its forward picks a kernel in Python. Use "
                "torch.jit.trace (which records the actlab operators), torch.compile or torch.export instead")


def _tensor_params(params: tuple[Any, ...]) -> list[torch.Tensor]:
    # Fixed hyperparameters travel as float64 scalars: a 0-dim tensor does not change the result's dtype, and
    # float64 keeps the value exact (a bf16 α would be rounded).
    return [p if isinstance(p, torch.Tensor) else torch.scalar_tensor(float(p), dtype=torch.float64) for p in params]


def apply(kernel: FusedKernel, x: torch.Tensor, *params: torch.Tensor | float,
          reference: Callable[..., torch.Tensor] | None = None) -> torch.Tensor:
    """Run ``kernel`` on ``x`` with autograd on any device and dtype, saving one tensor (x, or y; see
    :class:`FusedKernel`) plus the tensor parameters.

    ``reference(x, *params)`` is the composite torch form (default ``kernel.reference``): it serves devices and
    dtypes without the numba loops and double backward. Under graph capture the call is the registered operator;
    eagerly it is the fused node (CPU float32/float64/bf16/fp16, scalar parameters), the fused kernel of
    :func:`backend`, or the one-tensor recompute path.
    """
    if len(params) != len(kernel.param_names):
        raise TypeError(f"kernel {kernel.name!r} takes {len(kernel.param_names)} parameters "
                        f"{kernel.param_names}, got {len(params)}")
    y = eager(kernel, x, params, reference)  # the common small-tensor case first: its per-call cost is the budget
    if y is not None:
        return y
    if capturing(x):
        if _triton_op.serves(kernel, x, params):  # opt-in: inductor sees the Triton kernels themselves
            return _triton_op.call(kernel, x, params)
        overload = getattr(getattr(torch.ops, _LIB), _registered(kernel, reference)).default
        return overload(x, _tensor_params(params))
    if backend(kernel, x, *params) is not None:
        return apply_fused(kernel, x, *params, reference=reference)
    ref = reference if reference is not None else kernel.reference
    if ref is None:
        raise RuntimeError(f"kernel {kernel.name!r} has no composite reference for {x.device}/{x.dtype}")
    return recompute(ref, x, *params, output_grad=kernel.output_grad)


def decompositions() -> dict[Any, Callable[..., torch.Tensor]]:
    """``{operator: composite}`` for every operator created so far, for ``ExportedProgram.run_decompositions``
    (e.g. before ONNX export, which has no ``actlab`` operators)."""
    table: dict[Any, Callable[..., torch.Tensor]] = dict(_EXTRA_DECOMPOSITIONS)
    for op in list(_OPS.values()):
        ref = op.reference
        if ref is None:
            continue

        def composite(x: torch.Tensor, params: list[torch.Tensor], ref: Callable[..., torch.Tensor] = ref
                      ) -> torch.Tensor:
            return ref(x, *params)

        table[op.overload] = composite
    return table

