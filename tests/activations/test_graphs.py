"""Every activation in a captured graph: jit.trace, jit.script, torch.compile(fullgraph=True), torch.export, ONNX.

One model holds every registry activation in sequence (plus generated expression kernels, fixed and trainable), so
each capture runs once for the whole registry; a gated activation gets a Linear to twice the width before it.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import actlab
from actlab import kernels
from actlab.expr import ExprActivation, compile_kernel

# A generated kernel with a trainable β, and one without β.
EXPRS = ("x * sigmoid(beta * x)", "x * tanh(x)")


def _acts() -> list[nn.Module]:
    acts: list[nn.Module] = [actlab.get(n) for n in actlab.names()]
    acts.append(actlab.get("swiglu", gate_last=False))
    acts += [actlab.spec(n).cls(trainable=True) for n in actlab.names() if actlab.spec(n).trainable]
    acts += [ExprActivation(e) for e in EXPRS]
    return acts


class Chain(nn.Module):
    """Linear layers between the activations keep the values in a sensible range along the chain."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.acts = nn.ModuleList(_acts())
        self.lins = nn.ModuleList(nn.Linear(width, 2 * width if getattr(a, "gated", False) else width)
                                  for a in self.acts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for lin, act in zip(self.lins, self.acts, strict=False):
            x = act(lin(x))
        return x


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain()


def _grads(m: nn.Module, f, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    m.zero_grad(set_to_none=True)
    xg = x.clone().requires_grad_(True)
    y = f(xg)
    (y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum().backward()
    return y.detach(), [xg.grad, *[p.grad.clone() for p in m.parameters()]]


def _kernel_ops() -> set[str]:
    # The operators the chain's fused activations must appear as: one per kernel, except where the module is
    # PyTorch's own op (KernelDef.module_native: ReLU, leaky ReLU), which graphs then record as that op.
    names = [kernels.get_kernel(s.kernel).name for n in actlab.names()
             if (s := actlab.spec(n)).kernel and not s.native_module]
    names += [kernels.get_gated(n).name for n in actlab.names("gated")]
    names += [compile_kernel(e).name for e in EXPRS]
    return {kernels.op_name(n) for n in names}


def test_trace_records_the_operators_and_reproduces_eager(chain: Chain) -> None:
    x = torch.randn(16, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", torch.jit.TracerWarning)  # nothing may be silently baked in
        traced = torch.jit.trace(chain, x)
    kinds = {n.kind() for n in traced.inlined_graph.nodes()}
    assert "aten::empty_like" not in kinds
    assert {k for k in kinds if k.startswith("actlab::")} == {f"actlab::{name}" for name in _kernel_ops()}
    x2 = torch.randn(16, 8) * 3
    y, g = _grads(chain, chain, x2)
    yt, gt = _grads(chain, traced, x2)
    torch.testing.assert_close(yt, y)
    for a, b in zip(gt, g, strict=False):
        torch.testing.assert_close(a, b)


def test_script_raises_a_clear_error(chain: Chain) -> None:
    with pytest.raises(TypeError, match="torch.jit.trace"):
        torch.jit.script(chain)


def test_compile_fullgraph_matches_eager(chain: Chain) -> None:
    torch._dynamo.reset()
    # aot_eager runs dynamo (graph breaks fail under fullgraph) and AOTAutograd (fake tensors, the backward graph)
    # without inductor's code generation, which compiled.py and test_compile_inductor exercise.
    compiled = torch.compile(chain, backend="aot_eager", fullgraph=True)
    x = torch.randn(16, 8) * 2
    y, g = _grads(chain, chain, x)
    yc, gc = _grads(chain, compiled, x)
    torch.testing.assert_close(yc, y)
    for a, b in zip(gc, g, strict=False):
        torch.testing.assert_close(a, b)
    assert all(t.abs().sum() > 0 for t in gc)  # trainable α/β and every layer get gradients


@pytest.mark.slow
def test_compile_inductor_matches_eager() -> None:
    torch._dynamo.reset()
    m = nn.Sequential(nn.Linear(8, 8), actlab.ISRLU(3.0), nn.Linear(8, 8), actlab.Swish(trainable=True),
                      ExprActivation(EXPRS[0]))
    compiled = torch.compile(m, fullgraph=True)
    x = torch.randn(32, 8)
    y, g = _grads(m, m, x)
    yc, gc = _grads(m, compiled, x)
    torch.testing.assert_close(yc, y)
    for a, b in zip(gc, g, strict=False):
        torch.testing.assert_close(a, b)


def test_export_matches_eager(chain: Chain) -> None:
    x = torch.randn(16, 8)
    ep = torch.export.export(chain, (x,))
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert any(t.startswith("actlab.") for t in targets)
    x2 = torch.randn(16, 8) * 3
    torch.testing.assert_close(ep.module()(x2), chain(x2))


def test_onnx_runs_in_onnxruntime(chain: Chain) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    x = torch.randn(16, 8)
    ep = torch.export.export(chain, (x,)).run_decompositions(kernels.decompositions())
    assert not any(str(n.target).startswith("actlab.") for n in ep.graph.nodes if n.op == "call_function")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(ep, (x,), dynamo=True, verbose=False)
    assert program is not None
    sess = ort.InferenceSession(program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    x2 = torch.randn(16, 8)
    (out,) = sess.run(None, {sess.get_inputs()[0].name: x2.numpy()})
    torch.testing.assert_close(torch.from_numpy(out), chain(x2).detach(), rtol=1e-4, atol=1e-5)
