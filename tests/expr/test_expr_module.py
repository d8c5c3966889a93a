"""Expressions as nn.Modules: trainable β, per-channel β, fused and composite paths agree, pickling."""

import copy
import pickle

import pytest
import torch
from torch import nn

from actlab.expr import ExprActivation, parse

pytestmark = pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaIRAssumptionWarning")

SWISH = "x * sigmoid(beta * x)"


def test_module_has_trainable_beta_and_repr():
    m = parse(SWISH).to_module()
    assert isinstance(m, nn.Module)
    (p,) = list(m.parameters())
    assert p.shape == (1,) and float(p.detach()) == 1.0 and p.requires_grad
    assert repr(m) == "ExprActivation(x * sigmoid(beta * x), betas=1)"
    assert "per_channel=True, channels=3" in repr(ExprActivation(SWISH, per_channel=True, channels=3))


def test_fused_and_composite_agree_and_train():
    torch.manual_seed(0)
    fused, comp = ExprActivation(SWISH), ExprActivation(SWISH, fused=False)
    x = torch.randn(4, 5, requires_grad=True)
    y1, y2 = fused(x), comp(x)
    torch.testing.assert_close(y1, y2)
    assert y1.grad_fn is not None and "Fused" in y1.grad_fn.name()
    g1 = torch.autograd.grad(y1.square().sum(), [x, fused.beta])
    g2 = torch.autograd.grad(y2.square().sum(), [x, comp.beta])
    for a, b in zip(g1, g2, strict=False):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    opt = torch.optim.SGD(fused.parameters(), lr=0.1)
    fused(x).square().sum().backward()
    opt.step()
    assert float(fused.beta.detach()) != 1.0


def test_per_channel_beta_broadcasts_along_dim_1():
    m = ExprActivation(SWISH, per_channel=True, channels=3)
    assert m.beta.shape == (1, 3)
    with torch.no_grad():
        m.beta.copy_(torch.tensor([[0.5, 1.0, 2.0]]))
    x = torch.randn(2, 3, 4, 4)
    y = m(x)
    for c, b in enumerate([0.5, 1.0, 2.0]):
        torch.testing.assert_close(y[:, c], x[:, c] * torch.sigmoid(b * x[:, c]))
    y.sum().backward()
    assert m.beta.grad.shape == (1, 3)
    with pytest.raises(ValueError, match=r"\(N, 3, \.\.\.\)"):
        m(torch.randn(2, 4))


def test_bad_arguments():
    with pytest.raises(ValueError, match="channels"):
        ExprActivation(SWISH, per_channel=True)
    with pytest.raises(ValueError, match="per_channel"):
        ExprActivation(SWISH, channels=3)
    with pytest.raises(ValueError, match="sigmod"):
        ExprActivation("x * sigmod(x)")


def test_no_beta_expression_and_float64_and_fallback_dtype():
    m = ExprActivation("max(x, tanh(x))")
    assert m.beta is None and not list(m.parameters()) and not m.state_dict()  # no empty β parameter
    m.load_state_dict(ExprActivation("max(x, tanh(x))").state_dict())
    pc = ExprActivation("max(x, tanh(x))", per_channel=True, channels=3)
    assert pc.beta is None and pc(torch.ones(2, 3)).shape == (2, 3)
    x = torch.randn(7, dtype=torch.float64)
    torch.testing.assert_close(m(x), torch.maximum(x, torch.tanh(x)))
    xh = torch.randn(7, dtype=torch.bfloat16)  # no fused path: composite
    assert m(xh).dtype == torch.bfloat16


def test_pickle_and_deepcopy_round_trip():
    m = ExprActivation(SWISH)
    with torch.no_grad():
        m.beta.fill_(1.5)
    x = torch.randn(6)
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        torch.testing.assert_close(clone(x), m(x))
        assert str(clone.expr) == SWISH


def test_inside_a_network():
    net = nn.Sequential(nn.Linear(3, 8), parse(SWISH).to_module(), nn.Linear(8, 1))
    out = net(torch.randn(5, 3))
    out.sum().backward()
    assert net[1].beta.grad is not None
