"""The memory-efficient path for every device and dtype without a fused kernel (CUDA, MPS, bf16, fp16).

A composite formula under autograd keeps every intermediate it needs for backward: a safe-``where`` reference with a
square root keeps up to 18 input-sized tensors per call. :func:`recompute` runs the same formula with no graph
instead, saves one tensor (the input x, or the output y when ``output_grad`` gives f′ as a function of y) plus the
tensor parameters, and recomputes f′ with torch ops in backward (timm's memory-efficient pattern). It costs one more
evaluation of the formula in backward and saves the memory of all the intermediates. The same formula also serves
double backward (``create_graph=True``), because backward is itself built from differentiable torch ops.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

__all__ = ["recompute", "graph_grads", "op_grads"]

OutputGrad = Callable[..., tuple[torch.Tensor, ...]]


def _sum_to(g: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    # A parameter broadcast against x (a per-channel β) gets its gradient summed back to its own shape.
    return g.sum().reshape(p.shape) if p.numel() == 1 else g.sum_to_size(p.shape)


def graph_grads(reference: Callable[..., torch.Tensor] | None, output_grad: OutputGrad | None, s: torch.Tensor,
                grad_out: torch.Tensor, params: list[Any], create_graph: bool) -> list[torch.Tensor | None]:
    """[∂L/∂x, ∂L/∂p₁, …] from torch ops, given what was saved: ``s`` is y for ``output_grad`` formulas, else x.

    Parameter gradients are computed only for tensor parameters that require grad (``None`` for the others). With
    ``create_graph`` the result carries a graph (double backward); ``s`` then keeps its own graph back to x.
    """
    learn = [isinstance(p, torch.Tensor) and p.requires_grad for p in params]
    if output_grad is not None:
        with torch.set_grad_enabled(create_graph):
            fprime, *dps = output_grad(s if create_graph else s.detach(), *params)
            grads: list[torch.Tensor | None] = [grad_out * fprime]
            grads += [_sum_to(grad_out * d, p) if w else None for d, p, w in zip(dps, params, learn, strict=False)]
        return grads
    if reference is None:
        raise RuntimeError("no composite reference to differentiate; double backward is unavailable")
    with torch.enable_grad():
        xg = s if create_graph and s.requires_grad else s.detach().requires_grad_(True)
        ps = [p if create_graph or not w else p.detach().requires_grad_(True)
              for p, w in zip(params, learn, strict=False)]
        y = reference(xg, *ps)
        wrt = [xg] + [p for p, w in zip(ps, learn, strict=False) if w]
        g = torch.autograd.grad(y, wrt, grad_out, create_graph=create_graph, allow_unused=True)
    rest = iter(g[1:])
    out: list[torch.Tensor | None] = [g[0] if g[0] is not None else torch.zeros_like(s)]
    for p, w in zip(params, learn, strict=False):
        gp = next(rest) if w else None
        out.append(torch.zeros_like(p) if w and gp is None else gp)
    return out


def op_grads(reference: Callable[..., torch.Tensor] | None, output_grad: OutputGrad | None, s: torch.Tensor,
             grad_out: torch.Tensor, params: list[torch.Tensor], want: bool) -> list[torch.Tensor]:
    """[∂L/∂x, ∂L/∂p₁, … (if ``want``)] inside an operator's implementation, where autograd is off.

    A custom op's implementation runs below the Autograd dispatch key, so ``torch.autograd.grad`` finds no graph
    there (compiled bf16 models failed with "element 0 of tensors does not require grad"). ``output_grad`` needs no
    autograd; a reference is differentiated with ``torch.func.vjp``, which has its own transform layer.
    """
    if output_grad is not None:
        fprime, *dps = output_grad(s, *params)
        rest = [_sum_to(grad_out * d, p).to(p.dtype) for d, p in zip(dps, params, strict=False)] if want else []
        return [grad_out * fprime, *rest]
    if reference is None:
        raise RuntimeError("no composite reference to differentiate")
    if want:
        vjp = torch.func.vjp(reference, s, *params)[1]
        return list(vjp(grad_out))
    vjp = torch.func.vjp(lambda t: reference(t, *params), s)[1]
    return [vjp(grad_out)[0]]


class _Recompute(torch.autograd.Function):
    @staticmethod
    def forward(ctx, reference: Callable[..., torch.Tensor], output_grad: OutputGrad | None, x: torch.Tensor,
                *params: Any) -> torch.Tensor:  # type: ignore[override]
        y = reference(x, *params)
        if y is x:  # an identity-like formula: the output must be a tensor of its own
            y = y.clone()
        ctx.reference, ctx.output_grad = reference, output_grad
        ctx.kinds = tuple(isinstance(p, torch.Tensor) for p in params)
        ctx.values = tuple(None if k else p for p, k in zip(params, ctx.kinds, strict=False))
        ctx.save_for_backward(y if output_grad is not None else x, *[p for p in params if isinstance(p, torch.Tensor)])
        return y

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        s, *tensors = ctx.saved_tensors
        it = iter(tensors)
        params = [next(it) if k else v for v, k in zip(ctx.values, ctx.kinds, strict=False)]
        grads = graph_grads(ctx.reference, ctx.output_grad, s, grad_out, params, torch.is_grad_enabled())
        grad_x, *gp = grads
        return (None, None, grad_x, *[g if ctx.needs_input_grad[3 + i] else None for i, g in enumerate(gp)])


def recompute(reference: Callable[..., torch.Tensor], x: torch.Tensor, *params: Any,
              output_grad: OutputGrad | None = None) -> torch.Tensor:
    """``reference(x, *params)`` under autograd, saving one tensor and recomputing f′ in backward.

    ``reference`` is any differentiable composite torch formula; ``output_grad(y, *params) -> (f′, ∂f/∂p₁, …)`` is
    given when the derivatives are functions of the output (then y is saved instead of x, which the next layer
    keeps anyway). Without autograd (no input requires grad) this is just ``reference(x, *params)``.
    """
    if not (x.requires_grad or any(isinstance(p, torch.Tensor) and p.requires_grad for p in params)) \
            or not torch.is_grad_enabled():
        return reference(x, *params)
    return _Recompute.apply(reference, output_grad, x, *params)
