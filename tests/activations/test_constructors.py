"""torch.nn-style constructors over the registry: positional hyperparameters, keyword-only options, act_layer slots."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import actlab

NAMES = actlab.names("unary")


class Block(nn.Module):
    """A torchvision/timm-style block: the activation class comes in as ``act_layer`` and is built in place."""

    def __init__(self, act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.act = act_layer(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


@pytest.mark.parametrize("act_layer", [actlab.ISRLU, *[actlab.spec(n).cls for n in NAMES]],
                         ids=["ISRLU", *NAMES])
def test_drops_into_an_act_layer_slot(act_layer: type[nn.Module]) -> None:
    block = Block(act_layer=act_layer)
    x = torch.randn(2, 3, 5, 5, requires_grad=True)
    y = block(x)
    y.sum().backward()
    ref = act_layer().spec.reference(block.bn(block.conv(x)).detach())
    torch.testing.assert_close(y.detach(), ref)
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert "inplace=True" in repr(block.act)


def test_hyperparameters_are_positional_in_documented_order() -> None:
    for name in NAMES:
        cls = actlab.spec(name).cls
        values = [1.5 + i for i in range(len(cls.defaults))]
        m = cls(*values)
        assert m.params() == tuple(values), name
        assert cls(**dict(zip(cls.defaults, values, strict=False))).params() == tuple(values)
        with pytest.raises(TypeError, match="positional"):
            cls(*values, 1.0)
        if cls.defaults:
            first = next(iter(cls.defaults))
            with pytest.raises(TypeError, match="both"):
                cls(1.0, **{first: 1.0})
    assert actlab.ISRLU(3.0).alpha == 3.0 and actlab.Swish(1.5).beta == 1.5


def test_options_are_keyword_only_and_unknown_keywords_name_the_allowed_ones() -> None:
    for name in NAMES:
        cls = actlab.spec(name).cls
        with pytest.raises(TypeError, match=r"unknown keyword.*allowed: .*trainable, fused, inplace"):
            cls(bogus=1)
        m = cls(fused=False, inplace=True)
        assert not m.fused and m.inplace
        if cls.trainable:
            assert isinstance(getattr(cls(trainable=True), cls.trainable[0]), nn.Parameter)


def test_docstrings_and_repr() -> None:
    for name in NAMES:
        cls = actlab.spec(name).cls
        doc = cls.__doc__ or ""
        for section in (".. math::", "Args:", "Shape:", "Examples::", "inplace"):
            assert section in doc, (name, section)
        for key in cls.defaults:
            assert f"{key}=" in repr(cls()), name
