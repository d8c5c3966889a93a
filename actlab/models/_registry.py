"""The model registry and the activation-independent weight initialisation used for common random numbers."""

from __future__ import annotations

import difflib
import math
from typing import Any, Sequence

import torch
from torch import nn

from ._act import ActSpec, is_act_module
from ._nets import CNN1D, CNN2D, MLP, ResNet20
from ._rnn import GatedRNN
from ._transformer import TransformerLM

__all__ = ["MODELS", "build_model", "init_weights"]

MODELS: dict[str, type[nn.Module]] = {
    "mlp": MLP,
    "cnn1d": CNN1D,
    "cnn2d": CNN2D,
    "resnet20": ResNet20,
    "rnn": GatedRNN,
    "transformer": TransformerLM,
}


def build_model(name: str, act: ActSpec, in_shape: Sequence[int], n_classes: int, **kwargs: Any) -> nn.Module:
    """Build ``MODELS[name](in_shape=..., n_classes=..., act=..., **kwargs)``; unknown names list close ones."""
    if name not in MODELS:
        close = difflib.get_close_matches(name, list(MODELS), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown model {name!r}{hint} (known: {', '.join(MODELS)})")
    return MODELS[name](in_shape=tuple(in_shape), n_classes=n_classes, act=act, **kwargs)


def _fan_in(w: torch.Tensor) -> int:
    return w.shape[1] * (math.prod(w.shape[2:]) if w.dim() > 2 else 1)


@torch.no_grad()
def init_weights(model: nn.Module, generator: torch.Generator) -> None:
    """(Re-)initialise every layer's weights from ``generator``, in module order, skipping activation modules.

    Draws match PyTorch's defaults (Linear/Conv: U(±1/√fan_in) for weight and bias; BatchNorm: 1 and 0; GatedRNN:
    U(±1/√hidden)) but come from one dedicated generator. Because activation modules are skipped, two models that
    differ only in their activation (even one with trainable parameters) get identical weights from the same seed:
    the common random numbers that make paired comparisons fair.
    """
    skip: set[int] = set()
    for m in model.modules():
        if id(m) in skip:
            continue
        if is_act_module(m):
            skip.update(id(s) for s in m.modules())
            continue
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            bound = 1 / math.sqrt(_fan_in(m.weight))
            m.weight.uniform_(-bound, bound, generator=generator)
            if m.bias is not None:
                m.bias.uniform_(-bound, bound, generator=generator)
        elif isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm)):
            m.reset_parameters()
        elif isinstance(m, nn.Embedding):  # PyTorch's default N(0, 1), from the generator
            m.weight.normal_(0.0, 1.0, generator=generator)
        elif isinstance(m, GatedRNN):
            m.reset_parameters(generator)
