"""The transformer feed-forward block (plain or gated) and a small decoder-only language model around it.

Shazeer 2020 compared FFN activations at equal parameters and compute: a gated activation f(xW)·(xV) needs two input
projections, so its hidden width is scaled by 2/3 (3072 → 2048 in T5-base). :class:`FeedForward` does the same for
any gated zoo activation (``actlab.spec(name).gated``) and is timm's ``Mlp``/``GluMlp`` pair in one module.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._act import ActSpec, resolve_act

__all__ = ["FeedForward", "TransformerLM", "is_gated", "GATED_WIDTH"]

#: The hidden-width factor of a gated FFN, so that its three d×h matrices hold as many weights as the plain FFN's two.
GATED_WIDTH = 2.0 / 3.0


def is_gated(module: nn.Module) -> bool:
    """Whether an activation module is gated (last dimension 2H in, H out), as the zoo's GLU family is."""
    return bool(getattr(module, "gated", False))


class FeedForward(nn.Module):
    r"""The transformer FFN: ``Linear(dim, h) → act → Linear(h, dim)``, or for a gated activation
    ``Linear(dim, 2h') → act → Linear(h', dim)`` with :math:`h' = \mathrm{round}(\tfrac23 h)` (parameter-matched).

    Args:
        dim: model width.
        hidden: the plain FFN's hidden width (``4 * dim`` in most transformers).
        act_layer: the activation (anything :func:`~actlab.models.resolve_act` accepts: a zoo name such as
            ``"swiglu"``, an expression, a module class). Default ``"gelu"``.
        bias: biases in both projections (T5 and LLaMA use none). Default ``False``.
        gated_scale: the hidden-width factor for a gated activation. Default :data:`GATED_WIDTH`.

    Shape:
        - Input: :math:`(*, dim)`. Output: :math:`(*, dim)`.
    """

    def __init__(self, dim: int, hidden: int, act_layer: ActSpec = "gelu", bias: bool = False,
                 gated_scale: float = GATED_WIDTH) -> None:
        super().__init__()
        self.act = resolve_act(act_layer)()
        self.gated = is_gated(self.act)
        self.hidden = max(1, round(hidden * gated_scale)) if self.gated else int(hidden)
        self.fc1 = nn.Linear(dim, 2 * self.hidden if self.gated else self.hidden, bias=bias)
        self.fc2 = nn.Linear(self.hidden, dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))

    def extra_repr(self) -> str:
        return f"hidden={self.hidden}, gated={self.gated}"


class _Block(nn.Module):
    # pre-norm: x + attn(ln(x)), then x + ffn(ln(x)) (GPT-2 and LLaMA order)
    def __init__(self, dim: int, heads: int, hidden: int, act: ActSpec) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim, bias=False)
        self.ffn = FeedForward(dim, hidden, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        return x + self.ffn(self.ln2(x))


class TransformerLM(nn.Module):
    r"""A small decoder-only, pre-norm transformer language model over byte (or character) tokens.

    Token and learned position embeddings, ``depth`` blocks of causal self-attention and a :class:`FeedForward`
    with the activation under test, a final LayerNorm and a linear head to ``n_classes`` tokens.

    Args:
        in_shape: ``(T,)``, the context length; inputs are token ids (any dtype; a float tensor of byte values, as
            :mod:`actlab.data` stores them, is converted).
        n_classes: vocabulary size (256 for bytes).
        dim: model width.
        depth: number of blocks.
        heads: attention heads (``dim`` must be a multiple).
        ffn: the plain FFN's hidden width (gated activations get 2/3 of it, parameter-matched). Default ``4 * dim``.
        act: the FFN's activation. Default ``"gelu"``.

    Shape:
        - Input: :math:`(N, T)`. Output: :math:`(N, T, n\_classes)` logits for the next token at each position.
    """

    token_input = True  # inputs are token ids (not features), outputs one prediction per position

    def __init__(self, in_shape: Sequence[int] = (64,), n_classes: int = 256, dim: int = 64, depth: int = 2,
                 heads: int = 4, ffn: int | None = None, act: ActSpec = "gelu") -> None:
        super().__init__()
        if len(in_shape) != 1:
            raise ValueError(f"TransformerLM takes token sequences of shape (T,), got in_shape={tuple(in_shape)}")
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be a multiple of heads ({heads})")
        self.context = int(in_shape[0])
        self.tok = nn.Embedding(n_classes, dim)
        self.pos = nn.Embedding(self.context, dim)
        self.blocks = nn.ModuleList(_Block(dim, heads, ffn or 4 * dim, act) for _ in range(depth))
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ids = x.long()
        h = self.tok(ids) + self.pos.weight[: ids.shape[1]]
        for blk in self.blocks:
            h = blk(h)
        return self.head(self.ln(h))

    def extra_repr(self) -> str:
        return f"context={self.context}"
