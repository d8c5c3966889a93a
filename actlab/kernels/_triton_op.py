"""The Triton kernels as ``torch.library.triton_op`` operators, so that a compiled graph sees them (opt-in).

The registered operator ``actlab::<name>`` (:mod:`._ops`) is opaque to ``torch.compile``: inductor calls it as a
black box. A ``triton_op`` is an operator whose implementation is a Python function launching Triton kernels through
``torch.library.wrap_triton``; under ``torch.compile`` AOT autograd decomposes it, so inductor sees the user kernels
themselves (it can schedule them with the graph's own kernels and skip the Python launch). Each kernel with Triton
element functions gets two: ``actlab::<name>_tl(x, params)`` (the forward kernel) and
``actlab::<name>_tl_backward(saved, grad, params)`` (the input gradient), with the same autograd formula as the
opaque operator (one saved tensor).

:func:`use_triton_op` turns them on for graphs being captured on a Triton device (CUDA; CPU tensors under the
interpreter inside :func:`~actlab.kernels.use_triton_on_cpu`, which is how the tests run them). It is off by default:
which of the two is faster inside a compiled model is a GPU measurement (``benchmarks/gpu_activations.py`` times
both), and none has been made. Parameters that need a gradient keep the opaque operator (its backward reduces
them); the others travel as one-element device tensors that the kernels' pointer variant loads.
"""

from __future__ import annotations

import threading
from typing import Any

import torch

from . import _triton
from ._fused import FusedKernel

__all__ = ["use_triton_op", "triton_op_enabled", "serves", "call"]

_state = {"on": False}
_lock = threading.Lock()
_DONE: dict[str, str] = {}


def use_triton_op(enable: bool = True) -> None:
    """Capture Triton-served activations as ``triton_op`` operators (inductor sees the kernels) instead of the opaque
    ``actlab::<name>`` operator. Off by default; see the module docstring."""
    _state["on"] = bool(enable)


def triton_op_enabled() -> bool:
    return _state["on"]


def serves(kernel: FusedKernel, x: torch.Tensor, params: tuple[Any, ...]) -> bool:
    """Whether a graph capturing ``kernel`` on ``x`` takes the ``triton_op`` form: turned on, a Triton device and
    kernel, and no parameter that needs a gradient."""
    return (_state["on"] and kernel.triton is not None and _triton.serves(x)
            and not any(isinstance(p, torch.Tensor) and p.requires_grad for p in params))


def _register(kernel: FusedKernel) -> str:
    from torch.library import triton_op, wrap_triton  # only here: the CPU library never needs them

    from ._ops import op_name

    mod = _triton._module(kernel)
    name = f"{op_name(kernel.name)}_tl"
    fwd_kernel = mod.fwd_p if kernel.param_names else mod.fwd
    bwd_kernel = mod.bwd_p if kernel.param_names else mod.bwd
    block = _triton.BLOCK

    @triton_op(f"actlab::{name}", mutates_args=())
    def forward(x: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
        xc = x.contiguous()
        y = torch.empty_like(xc)
        n = xc.numel()
        if n:
            wrap_triton(fwd_kernel)[((n + block - 1) // block,)](xc, y, *params, n, BLOCK=block)
        return y

    @triton_op(f"actlab::{name}_backward", mutates_args=())
    def backward_op(s: torch.Tensor, grad: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
        sc = s.contiguous()
        go = grad.to(sc.dtype).contiguous()
        dx = torch.empty_like(sc)
        part = torch.empty((1, 1), dtype=torch.float32, device=sc.device)  # WANT=False: never written
        n = sc.numel()
        if n:
            wrap_triton(bwd_kernel)[((n + block - 1) // block,)](sc, go, dx, part, *params, n, BLOCK=block,
                                                                   WANT=False)
        return dx

    saves_output = kernel.output_grad is not None

    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        x, params = inputs
        ctx.save_for_backward(output if saves_output else x, *params)

    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        s, *params = ctx.saved_tensors
        return backward_op(s, grad, params), [None] * len(params)

    forward.register_autograd(backward, setup_context=setup_context)
    return name


@torch.compiler.assume_constant_result
def _registered(kernel: FusedKernel) -> str:
    # Under torch.compile dynamo runs this (registering on first use) and gets the name as a constant.
    name = _DONE.get(kernel.name)
    if name is None:
        with _lock:
            name = _DONE.get(kernel.name)
            if name is None:
                name = _DONE[kernel.name] = _register(kernel)
    return name


def call(kernel: FusedKernel, x: torch.Tensor, params: tuple[Any, ...]) -> torch.Tensor:
    """``kernel`` on ``x`` as its ``triton_op`` (:func:`serves` has said yes)."""
    values = [p.detach().to(device=x.device, dtype=torch.float32).reshape(1) if isinstance(p, torch.Tensor)
              else torch.full((1,), float(p), dtype=torch.float32, device=x.device) for p in params]
    return getattr(torch.ops.actlab, _registered(kernel)).default(x, values)
