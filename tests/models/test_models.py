from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

import actlab.activations as A
from actlab.models import MODELS, GatedRNN, build_model, init_weights, parse_act_string, resolve_act


def _default_shape(cls: type[nn.Module]) -> tuple[int, ...]:
    return tuple(inspect.signature(cls).parameters["in_shape"].default)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("act", ["relu", "isrlu:alpha=3", "x * sigmoid(x)"])
def test_every_model_runs_forward_and_backward(name: str, act: str) -> None:
    shape = _default_shape(MODELS[name])
    m = build_model(name, act, shape, n_classes=7)
    tokens = getattr(MODELS[name], "token_input", False)  # a language model: token ids in, one prediction a position
    x = torch.randint(0, 7, (3, *shape)).float() if tokens else torch.randn(3, *shape)
    out = m(x)
    assert out.shape == ((3, *shape, 7) if tokens else (3, 7))
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in m.parameters() if p.requires_grad and p.numel())


@pytest.mark.parametrize("name", list(MODELS))
def test_common_random_numbers_same_init_across_activations(name: str) -> None:
    """Weights drawn from one seed do not depend on the activation, even one with trainable parameters."""
    shape = _default_shape(MODELS[name])
    a = build_model(name, "relu", shape, 10)
    b = build_model(name, "swish:trainable=true", shape, 10)
    init_weights(a, torch.Generator().manual_seed(3))
    torch.randn(100)  # the global stream must not matter
    init_weights(b, torch.Generator().manual_seed(3))
    pa = {k: v for k, v in a.named_parameters()}
    pb = {k: v for k, v in b.named_parameters() if not k.endswith("beta")}
    assert set(pa) == set(pb) and len(pa) > 0
    for k in pa:
        assert torch.equal(pa[k], pb[k]), k
    c = build_model(name, "relu", shape, 10)
    init_weights(c, torch.Generator().manual_seed(4))
    assert any(not torch.equal(pa[k], v) for k, v in c.named_parameters())


def test_models_build_one_activation_per_layer() -> None:
    m = build_model("cnn1d", "swish:trainable=true", (40,), 10)
    betas = [p for n, p in m.named_parameters() if n.endswith("beta")]
    assert len(betas) == 3 and len({id(b) for b in betas}) == 3


@pytest.mark.parametrize("text, expected", [
    ("relu", ("relu", {})),
    ("isrlu:alpha=3", ("isrlu", {"alpha": 3})),
    ("isrlu(alpha=3)", ("isrlu", {"alpha": 3})),
    ("swish( beta = 1.5 , trainable = true )", ("swish", {"beta": 1.5, "trainable": True})),
    ("x * sigmoid(x)", None),
    ("sigmoid(x)", None),
])
def test_parse_act_string(text: str, expected) -> None:
    assert parse_act_string(text) == expected


def test_resolve_act_forms() -> None:
    m = resolve_act("isrlu:alpha=3")()
    assert isinstance(m, A.ISRLU) and m.alpha == 3
    assert isinstance(resolve_act("ISRLU(alpha=3)")(), A.ISRLU)
    assert isinstance(resolve_act(nn.ReLU)(), nn.ReLU)
    assert isinstance(resolve_act(lambda: nn.LeakyReLU(0.2))(), nn.LeakyReLU)
    proto = A.Swish(trainable=True)
    one, two = resolve_act(proto)(), resolve_act(proto)()
    assert one is not two and one.beta is not two.beta


def test_resolve_act_errors() -> None:
    with pytest.raises(KeyError, match="isrlu"):
        resolve_act("isrlux")
    with pytest.raises(KeyError, match="invalid activation expression"):
        resolve_act("x * sigmoidd(x)")
    with pytest.raises(TypeError, match="alpa"):
        resolve_act("isrlu:alpa=3")
    with pytest.raises(ValueError, match="alpha"):
        resolve_act("isrlu:alpha=-1")
    with pytest.raises(ValueError, match="not a number"):
        resolve_act("isrlu:alpha=big")
    with pytest.raises(TypeError, match="not an nn.Module"):
        resolve_act(int)
    with pytest.raises(TypeError, match="expected an nn.Module"):
        resolve_act(lambda: 3)()


def _copy_torch_rnn(mine: GatedRNN, ref: nn.Module, order: list[int]) -> None:
    h = mine.hidden
    perm = torch.cat([torch.arange(i * h, (i + 1) * h) for i in order])
    with torch.no_grad():
        mine.w_ih.copy_(ref.weight_ih_l0[perm].t())
        mine.w_hh.copy_(ref.weight_hh_l0[perm].t())
        mine.b_ih.copy_(ref.bias_ih_l0[perm])
        mine.b_hh.copy_(ref.bias_hh_l0[perm])


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_standard_cell_matches_torch(cell: str) -> None:
    """With act=tanh (gates derived: σ(x) = (1 + tanh(x/2))/2) the cell computes torch's GRU / LSTM."""
    torch.manual_seed(0)
    mine = GatedRNN((12,), 4, hidden=5, cell=cell, act="tanh").double()
    ref = (nn.GRU if cell == "gru" else nn.LSTM)(1, 5, batch_first=True).double()
    # our gate order: GRU r,z,n (= torch); LSTM i,f,o,c (torch: i,f,g,o)
    _copy_torch_rnn(mine, ref, [0, 1, 2] if cell == "gru" else [0, 1, 3, 2])
    x = torch.randn(3, 12, dtype=torch.float64)
    hs, _ = ref(x[..., None])
    expected = mine.classifier(hs.reshape(3, -1))
    torch.testing.assert_close(mine(x), expected)


def test_isru_gates_are_the_zoo_isru_sigmoid() -> None:
    m = GatedRNN(act="isru")
    x = torch.linspace(-6, 6, 101)
    torch.testing.assert_close(m.gate(x), A.get("isru_sigmoid")(x))
    torch.testing.assert_close(m.cand(x), A.get("isru")(x))


def test_unknown_model_suggests() -> None:
    with pytest.raises(KeyError, match="cnn1d"):
        build_model("cnn1", "relu", (40,), 10)
