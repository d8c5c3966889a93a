"""What autograd saves: shared by the memory tests of the activations, the native node and exported modules."""

from __future__ import annotations

from typing import Callable

import torch


def saved_count(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """``fn(x)`` and how many input-sized tensors autograd saved for its backward (a trainable β is saved too, but
    it is a scalar)."""
    count = [0]

    def pack(t: torch.Tensor) -> torch.Tensor:
        count[0] += t.numel() == x.numel()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = fn(x)
    return y, count[0]
