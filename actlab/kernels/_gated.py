"""Gated kernels: y = f(g)·a over the two halves of the last dimension, built from a unary kernel's description.

A gated activation (GLU, SwiGLU, GEGLU, …) takes a last dimension of 2H and returns H: one half is the *gate* g,
passed through a unary function f, the other the *value* a. Which half is the gate is a call argument
(``gate_last``: the second half, as ``torch.nn.functional.glu`` and timm's ``GluMlp`` do, or the first).

The engine derives the gated kernel from the gate's :class:`~actlab.kernels.KernelDef` (the same ``prep``/``f``/
``grad`` element functions its unary kernel is built from, and the same Triton pair), so the gate's math has one
home. The kernels:

* forward: read g and a, write y = f(g)·a (three passes over H per row);
* backward: read the packed input x and dy, write both halves of dx in one pass: ∂/∂a = dy·f(g) and
  ∂/∂g = dy·a·f′(g), with f′ read from f(g) where the description's ``grad`` reads the output;
* saved for backward: the packed input only, no intermediate (Liger-Kernel's recompute-in-backward choice).

Gate hyperparameters (ISRU's α) are fixed numbers here: a gated kernel computes no parameter gradient.

:func:`apply_gated` is the one entry: the registered operator ``actlab::<name>`` under graph capture (with a fake
implementation returning the half-width shape and an autograd formula), the numba or Triton kernel eagerly where
:func:`gated_backend` says one serves, and otherwise the composite formula through the one-tensor recompute path.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

import torch
from numba import njit, prange
from numba.extending import register_jitable

from . import _triton
from ._gated_triton import rows as _rows, triton_gated
from ._drivers import SERIAL_MAX, fingerprint
from ._fused import _flat, empty_output, supports, sync_threads
from ._half import bits_view, load, store
from ._generic import graph_grads, recompute
from ._math import SAFE_FASTMATH
from ._ops import _LIB, _own, _tensor_params, add_decomposition, capturing, op_name

__all__ = ["GatedKernel", "GATED", "add_gated", "get_gated", "apply_gated", "gated_backend", "gated_operator",
           "split_gate",
           "gated_reference", "make_gated_loops"]

_OPTS: dict[str, Any] = dict(cache=True, fastmath=SAFE_FASTMATH, nogil=True, error_model="numpy")


def split_gate(x: torch.Tensor, gate_last: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """``(value, gate)``: the halves of ``x``'s last dimension, the gate second when ``gate_last``.

    An odd (or empty) last dimension is a one-line error.
    """
    # Under jit.trace the size is a traced value; the operator's implementation checks the real tensor instead.
    if not torch.jit.is_tracing() and (x.dim() == 0 or x.shape[-1] % 2 or x.shape[-1] == 0):
        raise ValueError(f"a gated activation needs an even last dimension (2H in, H out), got shape "
                         f"{tuple(x.shape)}")
    a, b = x.chunk(2, dim=-1)
    return (a, b) if gate_last else (b, a)


def gated_reference(gate: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """The composite form ``ref(x, *params, gate_last=True) = gate(g, *params) · a`` of a gate function."""

    def reference(x: torch.Tensor, *params: Any, gate_last: bool = True) -> torch.Tensor:
        a, g = split_gate(x, gate_last)
        return a * gate(g, *params)

    return reference


@register_jitable(inline="always")
def _output(y, g):
    return y


@register_jitable(inline="always")
def _input(y, g):
    return g


def make_gated_loops(prep: Callable, f: Callable, grad: Callable, reads_y: bool, tag: str, k: int = -1
                     ) -> tuple[Callable[..., None], Callable[..., None]]:
    """``forward(x, out, h, gate_first, *p)`` and ``backward(x, gy, gx, h, gate_first, *p)`` over flat contiguous
    arrays (rows × 2h in, rows × h out), each choosing a serial or a row-parallel numba loop by size. Each row's
    halves are taken as 1-D slices and the inner loop indexes them from 0, as the unary loops do: with 2-D or offset
    indexing numba kept the inner loop scalar (the fused GLU ran at half the composite's speed at 2048 × 171).

    The element functions are a :class:`~actlab.kernels.KernelDef`'s; ``reads_y``: its ``grad`` reads f's output.
    """
    if not tag.isidentifier():
        raise ValueError(f"kernel tag must be an identifier, got {tag!r}")
    K, FP = k, fingerprint(prep, f, grad)
    # f′ from f's output or from the gate input, chosen here: a conditional inside the loop kept it scalar
    S = _output if reads_y else _input

    # Serial and parallel bodies are written out (no shared helper): see _drivers.make_loops for why the closures
    # hold only plain functions, bools and ints.
    def fwd_serial(x, out, h, gate_first, *p):
        FP  # noqa: B018  (a closure constant: part of numba's cache key)
        c = prep(x, p, K)
        go = 0 if gate_first else h
        ao = h - go
        for r in range(out.size // h):
            xa, xg, o = x[r * 2 * h + ao:r * 2 * h + ao + h], x[r * 2 * h + go:r * 2 * h + go + h], out[r * h:r * h + h]
            for j in range(h):
                o[j] = store(load(xa[j]) * f(load(xg[j]), c, K), o)

    def fwd_parallel(x, out, h, gate_first, *p):
        FP  # noqa: B018
        c = prep(x, p, K)
        go = 0 if gate_first else h
        ao = h - go
        for r in prange(out.size // h):
            xa, xg, o = x[r * 2 * h + ao:r * 2 * h + ao + h], x[r * 2 * h + go:r * 2 * h + go + h], out[r * h:r * h + h]
            for j in range(h):
                o[j] = store(load(xa[j]) * f(load(xg[j]), c, K), o)

    def bwd_serial(x, gy, gx, h, gate_first, *p):
        FP  # noqa: B018
        c = prep(x, p, K)
        go = 0 if gate_first else h
        ao = h - go
        for r in range(gy.size // h):
            xa, xg, dy = x[r * 2 * h + ao:r * 2 * h + ao + h], x[r * 2 * h + go:r * 2 * h + go + h], gy[r * h:r * h + h]
            da, dg = gx[r * 2 * h + ao:r * 2 * h + ao + h], gx[r * 2 * h + go:r * 2 * h + go + h]
            for j in range(h):
                g = load(xg[j])
                y = f(g, c, K)
                d = grad(S(y, g), c, K)[0]
                dyj = load(dy[j])
                da[j] = store(dyj * y, da)
                dg[j] = store(dyj * load(xa[j]) * d, dg)

    def bwd_parallel(x, gy, gx, h, gate_first, *p):
        FP  # noqa: B018
        c = prep(x, p, K)
        go = 0 if gate_first else h
        ao = h - go
        for r in prange(gy.size // h):
            xa, xg, dy = x[r * 2 * h + ao:r * 2 * h + ao + h], x[r * 2 * h + go:r * 2 * h + go + h], gy[r * h:r * h + h]
            da, dg = gx[r * 2 * h + ao:r * 2 * h + ao + h], gx[r * 2 * h + go:r * 2 * h + go + h]
            for j in range(h):
                g = load(xg[j])
                y = f(g, c, K)
                d = grad(S(y, g), c, K)[0]
                dyj = load(dy[j])
                da[j] = store(dyj * y, da)
                dg[j] = store(dyj * load(xa[j]) * d, dg)

    t = tag if k < 0 else f"{tag}_k{k}"
    jitted = []
    for fn, par in ((fwd_serial, False), (fwd_parallel, True), (bwd_serial, False), (bwd_parallel, True)):
        fn.__qualname__ = f"{fn.__qualname__}_gated_{t}"  # own cache index and symbols per kernel (see _drivers)
        jitted.append(njit(parallel=par, **_OPTS)(fn))
    fs, fp, bs, bp = jitted

    def forward(x: Any, out: Any, h: int, gate_first: bool, *p: float) -> None:
        (fs if out.size <= SERIAL_MAX else fp)(x, out, h, gate_first, *p)

    def backward(x: Any, gy: Any, gx: Any, h: int, gate_first: bool, *p: float) -> None:
        (bs if gy.size <= SERIAL_MAX else bp)(x, gy, gx, h, gate_first, *p)

    return forward, backward


@dataclass(frozen=True)
class GatedKernel:
    """A gated activation's kernels: numba ``forward``/``backward`` (see :func:`make_gated_loops`), its parameter
    names (the gate's hyperparameters), the composite ``reference(x, *params, gate_last=True)``, and the gate's
    Triton element functions (``"module:name"``, as :class:`~actlab.kernels.FusedKernel`), if any."""

    name: str
    forward: Callable[..., None]
    backward: Callable[..., None]
    param_names: tuple[str, ...]
    reference: Callable[..., torch.Tensor]
    reads_y: bool = False
    triton: str | Callable[[], str] | None = None  # as FusedKernel.triton: a reference or a function returning one
    native_op: Any = None  # the gate's NativeOp (F.silu for SwiGLU): the speed benchmark's a·native(g)


GATED: dict[str, GatedKernel] = {}


def add_gated(name: str, d: Any, param_names: tuple[str, ...], gate_reference: Callable[..., torch.Tensor]
              ) -> GatedKernel:
    """Enter the gated kernel of gate description ``d`` (a :class:`~actlab.kernels.KernelDef`) under ``name``."""
    key = name.lower()
    if key in GATED:
        raise ValueError(f"gated kernel {key!r} is defined twice")
    fwd, bwd = make_gated_loops(d.prep, d.f, d.grad, d.output_grad is not None, tag=key)
    GATED[key] = GatedKernel(key, fwd, bwd, tuple(param_names), gated_reference(gate_reference),
                             d.output_grad is not None, d.triton, d.native)
    return GATED[key]


def get_gated(name: str) -> GatedKernel | None:
    """The gated kernel called ``name``, or ``None``."""
    return GATED.get(name.lower())


def gated_backend(kernel: GatedKernel, x: torch.Tensor, *params: Any) -> str | None:
    """``"triton"``, ``"numba"`` or ``None`` (the composite), as :func:`~actlab.kernels.backend` decides for unary
    kernels."""
    if kernel.triton is not None and _triton.serves(x) and all(not isinstance(p, torch.Tensor) or p.numel() == 1
                                                               for p in params):
        return "triton"
    return "numba" if supports(x, *params) else None


def gated_forward(kernel: GatedKernel, x: torch.Tensor, values: tuple[float, ...], gate_last: bool) -> torch.Tensor:
    """y through the kernel's backend (no autograd); bf16/fp16 read and written as 16 bits (:mod:`._half`)."""
    h = x.shape[-1] // 2
    if gated_backend(kernel, x) == "triton":
        return triton_gated(kernel).forward(x, values, gate_last)
    x2 = _rows(x)
    out = empty_output(x2[:, :h])
    sync_threads()
    if out.numel():
        kernel.forward(_flat(bits_view(x2)), _flat(bits_view(out)), h, not gate_last, *values)
    return out.view(*x.shape[:-1], h)


def gated_backward(kernel: GatedKernel, x: torch.Tensor, grad_out: torch.Tensor, values: tuple[float, ...],
                   gate_last: bool) -> torch.Tensor:
    """dx (both halves, packed like x) through the kernel's backend."""
    if gated_backend(kernel, x) == "triton":
        return triton_gated(kernel).backward(x, grad_out, values, gate_last)
    x2 = _rows(x)
    gy = _rows(grad_out).to(x2.dtype)
    gx = empty_output(x2)
    sync_threads()
    if gx.numel():
        kernel.backward(_flat(bits_view(x2)), _flat(bits_view(gy)), _flat(bits_view(gx)), x2.shape[1] // 2,
                        not gate_last, *values)
    return gx.view(x.shape)


class _GatedFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kernel: GatedKernel, gate_last: bool, x: torch.Tensor,  # type: ignore[override]
                *values: float) -> torch.Tensor:
        ctx.kernel, ctx.gate_last, ctx.values = kernel, gate_last, values
        ctx.save_for_backward(x)
        return gated_forward(kernel, x, values, gate_last)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        k: GatedKernel = ctx.kernel
        if torch.is_grad_enabled():  # create_graph=True: the composite's derivative, as a graph
            gx = _composite_grad(k, x, grad_out, list(ctx.values), ctx.gate_last, create_graph=True)
        else:
            gx = gated_backward(k, x, grad_out, ctx.values, ctx.gate_last)
        return (None, None, gx, *[None] * len(ctx.values))


def _composite_grad(kernel: GatedKernel, x: torch.Tensor, grad_out: torch.Tensor, params: list[Any],
                    gate_last: bool, create_graph: bool) -> torch.Tensor:
    def ref(t: torch.Tensor, *p: Any) -> torch.Tensor:
        return kernel.reference(t, *p, gate_last=gate_last)

    g = graph_grads(ref, None, x, grad_out, params, create_graph=create_graph)[0]
    assert g is not None
    return g


# ------------------------------------------------------------------------------------------- operators
@dataclass(frozen=True)
class _GatedOp:
    forward: Any
    backward: Any


_OPS: dict[str, _GatedOp] = {}
_lock = threading.Lock()


def _register(kernel: GatedKernel) -> _GatedOp:
    name = op_name(kernel.name)

    def forward_impl(x: torch.Tensor, params: list[torch.Tensor], gate_last: bool) -> torch.Tensor:
        split_gate(x, gate_last)  # the one-line shape error, also under capture
        if gated_backend(kernel, x, *params) is not None:
            return gated_forward(kernel, x, tuple(float(p) for p in params), gate_last)
        with torch.no_grad():
            return _own(kernel.reference(x, *params, gate_last=gate_last), x)

    def backward_impl(x: torch.Tensor, grad: torch.Tensor, params: list[torch.Tensor],
                      gate_last: bool) -> torch.Tensor:
        if gated_backend(kernel, x, *params) is not None:
            return gated_backward(kernel, x, grad, tuple(float(p) for p in params), gate_last)
        vjp = torch.func.vjp(lambda t: kernel.reference(t, *params, gate_last=gate_last), x)[1]
        return _own(vjp(grad)[0], x, grad)

    fwd = torch.library.custom_op(f"{_LIB}::{name}", forward_impl, mutates_args=(),
                                  schema="(Tensor x, Tensor[] params, bool gate_last) -> Tensor")
    bwd = torch.library.custom_op(f"{_LIB}::{name}_backward", backward_impl, mutates_args=(),
                                  schema="(Tensor x, Tensor grad, Tensor[] params, bool gate_last) -> Tensor")

    @fwd.register_fake
    def _(x: torch.Tensor, params: list[torch.Tensor], gate_last: bool) -> torch.Tensor:
        split_gate(x, gate_last)
        return x.new_empty((*x.shape[:-1], x.shape[-1] // 2))

    @bwd.register_fake
    def _(x: torch.Tensor, grad: torch.Tensor, params: list[torch.Tensor], gate_last: bool) -> torch.Tensor:
        return torch.empty_like(x, memory_format=torch.contiguous_format)

    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        x, params, gate_last = inputs
        ctx.gate_last = gate_last
        ctx.save_for_backward(x, *params)

    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        x, *params = ctx.saved_tensors
        none = [None] * len(params)  # fixed hyperparameters: no gradient (the structure must match the inputs)
        if torch.is_grad_enabled():  # create_graph=True
            return _composite_grad(kernel, x, grad, params, ctx.gate_last, create_graph=True), none, None
        return bwd(x, grad, params, ctx.gate_last), none, None

    fwd.register_autograd(backward, setup_context=setup_context)
    overload = getattr(getattr(torch.ops, _LIB), name).default

    def composite(x: torch.Tensor, params: list[torch.Tensor], gate_last: bool) -> torch.Tensor:
        return kernel.reference(x, *params, gate_last=gate_last)

    add_decomposition(overload, composite)
    return _GatedOp(fwd, bwd)


def gated_operator(kernel: GatedKernel) -> _GatedOp:
    """The registered operators of ``kernel`` (created on first use)."""
    op = _OPS.get(kernel.name)
    if op is None:
        with _lock:
            op = _OPS.get(kernel.name)
            if op is None:
                op = _OPS[kernel.name] = _register(kernel)
    return op


@torch.compiler.assume_constant_result
def _registered(kernel: GatedKernel) -> str:
    gated_operator(kernel)  # under torch.compile dynamo runs this instead of tracing it (see _ops._registered)
    return op_name(kernel.name)


def apply_gated(kernel: GatedKernel, x: torch.Tensor, *params: Any, gate_last: bool = True) -> torch.Tensor:
    """``f(g)·a`` with autograd on any device and dtype, saving the packed input only (see the module docstring)."""
    if len(params) != len(kernel.param_names):
        raise TypeError(f"gated kernel {kernel.name!r} takes {len(kernel.param_names)} parameters "
                        f"{kernel.param_names}, got {len(params)}")
    if any(isinstance(p, torch.Tensor) and p.requires_grad for p in params):
        raise ValueError(f"{kernel.name}: gated activations take fixed hyperparameters (no gradient to α/β)")
    if capturing(x):
        overload = getattr(getattr(torch.ops, _LIB), _registered(kernel)).default
        return overload(x, _tensor_params(params), bool(gate_last))
    split_gate(x, gate_last)
    if gated_backend(kernel, x, *params) is not None:
        values = tuple(float(p) for p in params)
        if not (x.requires_grad and torch.is_grad_enabled()):
            return gated_forward(kernel, x, values, gate_last)
        return _GatedFunction.apply(kernel, bool(gate_last), x, *values)

    def ref(t: torch.Tensor, *p: Any) -> torch.Tensor:
        return kernel.reference(t, *p, gate_last=gate_last)

    return recompute(ref, x, *params)
