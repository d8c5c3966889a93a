"""``nn.Module`` form of an expression: trainable β, a generated fused kernel, a composite fallback."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from ._expr import Expr, parse

__all__ = ["ExprActivation", "GatedExprActivation"]


class ExprActivation(nn.Module):
    r"""Applies an activation expression elementwise, :math:`f(x; \beta_1, \dots, \beta_k)`.

    Each β of the expression is a trainable parameter initialised to 1.0, stored together in ``beta`` (shape
    ``(k,)``, or ``(k, channels)`` per channel, broadcast along dim 1 of the input); without β, ``beta`` is ``None``
    and the module has no parameters. On CPU float32/float64 with per-module β, the forward runs the generated fused
    kernel, which saves only the input and β for backward; per channel β, other devices and dtypes use the
    composite torch form, which gives the same values.

    Args:
        expr: an :class:`Expr` or its text, e.g. ``"x * sigmoid(beta * x)"``.
        per_channel: one β per channel instead of one per module. Default: ``False``.
        channels: number of channels; required when ``per_channel`` is true.
        fused: use the generated fused kernel when possible. Default: ``True``.

    Shape:
        - Input: :math:`(*)`; with ``per_channel``, :math:`(N, C, *)`.
        - Output: same shape as the input.

    Example:
        >>> act = ExprActivation("x * sigmoid(beta * x)")
        >>> act
        ExprActivation(x * sigmoid(beta * x), betas=1)
        >>> act(torch.randn(4, 8)).shape
        torch.Size([4, 8])
    """

    def __init__(self, expr: Expr | str, per_channel: bool = False, channels: int | None = None,
                 fused: bool = True) -> None:
        super().__init__()
        self.expr = parse(expr) if isinstance(expr, str) else expr
        if not isinstance(self.expr, Expr):
            raise TypeError(f"expected an Expr or expression text, got {type(expr).__name__}")
        if per_channel and (channels is None or int(channels) < 1):
            raise ValueError(f"per_channel=True needs channels >= 1, got {channels!r}")
        if not per_channel and channels is not None:
            raise ValueError("channels is only used with per_channel=True")
        self.per_channel, self.channels, self.fused = per_channel, channels, fused
        k = self.expr.betas
        shape = (k, int(channels)) if per_channel else (k,)  # type: ignore[arg-type]
        # No empty parameter for β-free expressions: it would show up in parameters() and state_dict() as noise.
        self.beta: nn.Parameter | None
        self.register_parameter("beta", nn.Parameter(torch.ones(shape)) if k else None)
        self._composite = self.expr.torch_fn()
        self._kernel: Any = None

    def _betas(self, x: torch.Tensor) -> list[torch.Tensor]:
        rows = [] if self.beta is None else list(self.beta.unbind(0))
        if not self.per_channel:
            return rows
        if x.dim() < 2 or x.shape[1] != self.channels:
            raise ValueError(f"per-channel β expects input of shape (N, {self.channels}, ...), got "
                             f"{tuple(x.shape)}")
        view = (1, self.channels) + (1,) * (x.dim() - 2)
        return [b.view(view) for b in rows]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        betas = [b.to(x.dtype) for b in self._betas(x)]
        if not self.fused:
            return self._composite(x, *betas)
        from actlab import kernels

        # The generated kernel serves per-module β on every path (numba loops, registered operator, recompute);
        # per-channel β and kernel-less expressions keep one saved tensor through the recompute path.
        kernel = self._get_kernel() if not self.per_channel else None
        if kernel is not None:
            return kernels.apply(kernel, x, *betas, reference=self._composite)
        if kernels.capturing(x):
            return self._composite(x, *betas)
        return kernels.recompute(self._composite, x, *betas)

    def __prepare_scriptable__(self) -> nn.Module:
        from actlab.kernels import SCRIPT_ERROR

        raise TypeError(SCRIPT_ERROR.format(name="ExprActivation"))

    def _get_kernel(self) -> Any:
        if self._kernel is None:
            from ._codegen import KernelCodegenError, compile_kernel

            try:
                self._kernel = compile_kernel(self.expr)
            except KernelCodegenError as err:  # keep training: the composite form is always available
                warnings.warn(f"no fused kernel for {self.expr}: {err}; using the composite form", stacklevel=3)
                self._kernel = False
        return self._kernel or None

    def extra_repr(self) -> str:
        s = f"{self.expr}, betas={self.expr.betas}"
        if self.per_channel:
            s += f", per_channel=True, channels={self.channels}"
        if not self.fused:
            s += ", fused=False"
        return s

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        # Closures and numba dispatchers do not pickle; both are rebuilt (the kernel from the on-disk cache).
        state["_kernel"] = None
        state.pop("_composite", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._composite = self.expr.torch_fn()


class GatedExprActivation(nn.Module):
    r"""``glu(expr)``: any expression as the gate of a gated activation, :math:`f(g)\cdot a` over the two halves of
    the last dimension (the gate second unless ``gate_last=False``), as the zoo's SwiGLU gates with Swish.

    Without β the forward is one generated gated kernel (:func:`actlab.expr.compile_gated`: the expression's element
    functions in the gated loop template, saving only the packed input). With β (trainable, as in
    :class:`ExprActivation`) the gate is an :class:`ExprActivation` and the product a torch op, so β gets its
    gradient.

    Shape:
        - Input: :math:`(*, 2H)`. Output: :math:`(*, H)`.

    Example:
        >>> GatedExprActivation("x * sigmoid(x)")(torch.randn(4, 8)).shape
        torch.Size([4, 4])
    """

    gated = True

    def __init__(self, expr: Expr | str, gate_last: bool = True, fused: bool = True) -> None:
        super().__init__()
        self.expr = parse(expr) if isinstance(expr, str) else expr
        self.gate_last, self.fused = bool(gate_last), fused
        self.gate = ExprActivation(self.expr, fused=fused) if self.expr.betas else None
        self._composite = self.expr.torch_fn()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from actlab import kernels

        if self.gate is not None:
            a, g = kernels.split_gate(x, self.gate_last)
            return a * self.gate(g)
        if not self.fused:
            a, g = kernels.split_gate(x, self.gate_last)
            return a * self._composite(g)
        from ._codegen import compile_gated

        return kernels.apply_gated(compile_gated(self.expr), x, gate_last=self.gate_last)

    def extra_repr(self) -> str:
        return f"glu({self.expr})" + ("" if self.gate_last else ", gate_last=False")
