"""The FFN block (plain and gated, parameter-matched) and the transformer language model."""

from __future__ import annotations

import pytest
import torch

import actlab
from actlab.models import MLP, CNN1D, FeedForward, TransformerLM, build_model, init_weights, is_gated


def _n(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name", actlab.names("gated"))
def test_a_gated_ffn_has_the_plain_ffns_parameters(name: str) -> None:
    # Shazeer's rule: 3 matrices of d x 2h/3 hold as many weights as 2 of d x h (3072 -> 2048 in T5-base)
    plain, gated = FeedForward(768, 3072, "relu"), FeedForward(768, 3072, name)
    assert gated.gated and not plain.gated and gated.hidden == 2048
    assert _n(gated) == _n(plain)
    x = torch.randn(2, 5, 768)
    assert gated(x).shape == plain(x).shape == x.shape


def test_act_layer_takes_every_form() -> None:
    for act in ("swiglu", actlab.SwiGLU, lambda: actlab.GEGLU(gate_last=False), "x * sigmoid(x)", torch.nn.GELU):
        assert FeedForward(8, 16, act)(torch.randn(3, 8)).shape == (3, 8)
    assert is_gated(FeedForward(8, 12, "glu").act) and FeedForward(8, 12, "glu").hidden == 8


def test_transformer_lm_predicts_every_position_and_is_causal() -> None:
    torch.manual_seed(0)
    m = TransformerLM((16,), 256, dim=32, depth=2, heads=4, act="swiglu")
    init_weights(m, torch.Generator().manual_seed(0))
    x = torch.randint(0, 256, (3, 16)).float()  # byte values as actlab.data stores them
    y = m(x)
    assert y.shape == (3, 16, 256)
    x2 = x.clone()
    x2[:, 10:] = 0  # the future must not change the past
    torch.testing.assert_close(m(x2)[:, :10], y[:, :10])


def test_same_seed_same_weights_whatever_the_activation() -> None:
    # common random numbers: only the FFN's width differs between plain and gated, so compare two plain ones
    a, b = TransformerLM(act="relu"), TransformerLM(act="gelu")
    for m in (a, b):
        init_weights(m, torch.Generator().manual_seed(3))
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert na == nb and torch.equal(pa, pb)
    assert isinstance(build_model("transformer", "relu", (64,), 256), TransformerLM)


def test_models_with_unary_slots_reject_a_gated_activation_in_one_line() -> None:
    with pytest.raises(ValueError, match="CNN1D takes a unary activation; 'swiglu' is gated") as e:
        CNN1D(act="swiglu")
    assert "\n" not in str(e.value)
    assert MLP((10,), 3, hidden=(8,), act="swiglu")(torch.randn(2, 10)).shape == (2, 3)  # the MLP widens its Linear


def test_bad_shapes_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="multiple of heads"):
        TransformerLM(dim=30, heads=4)
    with pytest.raises(ValueError, match=r"token sequences of shape \(T,\)"):
        TransformerLM(in_shape=(1, 28, 28))
