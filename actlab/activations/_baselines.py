"""The PyTorch ops the fused kernels stand in for (:class:`~actlab.kernels.NativeOp`), and the constants the
kernels, the references in ``_zoo`` and these baselines share (defined once, here).

Each op is the aten op with preallocated outputs (``.out`` / ``grad_input=`` overloads) at the default
hyperparameters, as ``actlab bench speed`` times it; the kernel descriptions in ``_kernels.py`` point at them.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F

from ..kernels import NativeOp

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)  # gelu_tanh(x) = x·σ(2√(2/π)(x + 0.044715x³))
GELU_TANH_CUBIC = 0.044715


def _elu_op(name: str, functional: Callable, alpha: float, scale: float = 1.0, input_scale: float = 1.0) -> NativeOp:
    def fwd(x, out):
        torch.ops.aten.elu.out(x, alpha, scale, input_scale, out=out)

    def bwd(x, y, gy, gx):  # from the input (is_result=False), as autograd's F.elu backward does
        return torch.ops.aten.elu_backward.grad_input(gy, alpha, scale, input_scale, False, x, grad_input=gx)

    def bwd_y(x, y, gy, gx):  # from the output (is_result=True), what F.elu(inplace=True) saves
        return torch.ops.aten.elu_backward.grad_input(gy, alpha, scale, input_scale, True, y, grad_input=gx)
    return NativeOp(name, functional, fwd, bwd, bwd_y)


def _from_output_op(name: str, functional: Callable, op: Any, op_bwd: Any) -> NativeOp:
    # aten's sigmoid/tanh backward read the forward output.
    def fwd(x, out):
        op.out(x, out=out)

    def bwd(x, y, gy, gx):
        return op_bwd.grad_input(gy, y, grad_input=gx)
    return NativeOp(name, functional, fwd, bwd)


def _gelu_op(name: str, approximate: str) -> NativeOp:
    def fwd(x, out):
        torch.ops.aten.gelu.out(x, approximate=approximate, out=out)

    def bwd(x, y, gy, gx):
        return torch.ops.aten.gelu_backward.grad_input(gy, x, approximate=approximate, grad_input=gx)
    return NativeOp(name, lambda t: F.gelu(t, approximate=approximate), fwd, bwd)


def _mish_bwd(x, y, gy, gx):
    # aten has no out= overload of mish_backward, so it allocates its result; it is no longer copied into gx (the
    # copy cost a third of the time at 16M). Keeping freed blocks mapped around the call (tune_allocator) was tried
    # and did not remove the page faults, so this one baseline still pays for its fresh output.
    return torch.ops.aten.mish_backward.default(gy, x)


ELU_OP = _elu_op("elu", F.elu, 1.0)
CELU_OP = _elu_op("celu", F.celu, 1.0)
SELU_OP = _elu_op("selu", F.selu, SELU_ALPHA, SELU_SCALE)
GELU_OP = _gelu_op("gelu", "none")
GELU_TANH_OP = _gelu_op("gelu_tanh", "tanh")
TANH_OP = _from_output_op("tanh", torch.tanh, torch.ops.aten.tanh, torch.ops.aten.tanh_backward)
SIGMOID_OP = _from_output_op("sigmoid", torch.sigmoid, torch.ops.aten.sigmoid, torch.ops.aten.sigmoid_backward)

def _silu_fwd(x, out):
    torch.ops.aten.silu.out(x, out=out)


def _silu_bwd(x, y, gy, gx):
    return torch.ops.aten.silu_backward.grad_input(gy, x, grad_input=gx)


def _softplus_fwd(x, out):
    torch.ops.aten.softplus.out(x, 1.0, 20.0, out=out)


def _softplus_bwd(x, y, gy, gx):
    return torch.ops.aten.softplus_backward.grad_input(gy, x, 1.0, 20.0, grad_input=gx)


def _mish_fwd(x, out):
    torch.ops.aten.mish.out(x, out=out)


SILU_OP = NativeOp("silu", F.silu, _silu_fwd, _silu_bwd)
SOFTPLUS_OP = NativeOp("softplus", F.softplus, _softplus_fwd, _softplus_bwd)
MISH_OP = NativeOp("mish", F.mish, _mish_fwd, _mish_bwd)


def _relu_fwd(x, out):
    torch.ops.aten.relu.out(x, out=out)


def _relu_bwd(x, y, gy, gx):  # reads the output, as autograd's F.relu backward does
    return torch.ops.aten.threshold_backward.grad_input(gy, y, 0.0, grad_input=gx)


def _leaky_relu_fwd(x, out):
    torch.ops.aten.leaky_relu.out(x, 0.01, out=out)


def _leaky_relu_bwd(x, y, gy, gx):
    return torch.ops.aten.leaky_relu_backward.grad_input(gy, x, 0.01, False, grad_input=gx)


def _hardswish_fwd(x, out):
    torch.ops.aten.hardswish.out(x, out=out)


def _hardswish_bwd(x, y, gy, gx):
    return torch.ops.aten.hardswish_backward.out(gy, x, out=gx)


# ReLU and leaky ReLU modules are the native op (module_native) and call it without F's Python frame. F.leaky_relu
# itself calls torch._C._nn.leaky_relu; tests/kernels/test_lowp.py holds each module to its functional.
RELU_OP = NativeOp("relu", F.relu, _relu_fwd, _relu_bwd, direct=torch.relu)
LEAKY_RELU_OP = NativeOp("leaky_relu", F.leaky_relu, _leaky_relu_fwd, _leaky_relu_bwd,
                         direct=torch._C._nn.leaky_relu)
HARDSWISH_OP = NativeOp("hardswish", F.hardswish, _hardswish_fwd, _hardswish_bwd)
