"""GRU / LSTM written out, so that the gate nonlinearity (σ) and the candidate nonlinearity (tanh) can be replaced —
e.g. by the ISRU sigmoid and ISRU, as Carlile et al. 2017 propose for recurrent networks."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ._act import ActSpec, resolve_act, unary_act

__all__ = ["GatedRNN", "DerivedGate"]


class DerivedGate(nn.Module):
    r"""A gate from a tanh-like function :math:`c`: :math:`g(x) = (1 + c(x/2))/2` (σ from tanh, ISRU-σ from ISRU).

    Args:
        inner: the module computing :math:`c`.
    """

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 + 0.5 * self.inner(0.5 * x)


class GatedRNN(nn.Module):
    r"""A single-layer GRU or LSTM over a sequence, classified from all hidden states (as the MNIST-1D paper's GRU).

    GRU (Cho et al. 2014), with :math:`g` = ``gate_act`` and :math:`c` = ``act``:

    .. math::
        r = g(W_r x + U_r h + b_r),\ z = g(W_z x + U_z h + b_z),\
        n = c(W_n x + b_n + r \odot (U_n h + b_{hn})),\ h' = (1 - z) \odot n + z \odot h

    LSTM (Hochreiter & Schmidhuber 1997): :math:`i, f, o = g(\cdot)`, :math:`\tilde c = c(\cdot)`,
    :math:`c' = f \odot c + i \odot \tilde c`, :math:`h' = o \odot c(c')`.

    By default the gates are *derived* from the candidate nonlinearity, :math:`g(x) = (1 + c(x/2))/2`, the way
    :math:`\sigma(x) = (1 + \tanh(x/2))/2`: ``act="tanh"`` is the standard cell, ``act="isru"`` gives ISRU for tanh
    and exactly the zoo's ``isru_sigmoid`` for σ (the ISRU paper's RNN proposal), and any other activation gets a
    matching gate, so one ``act`` string names the whole cell variant. ``gate_act=`` overrides this.

    The input projections of all time steps are one matrix product before the loop; each step then costs one
    ``h @ U`` and the elementwise gates. One gate module serves all gates of a step (they are one tensor).

    Args:
        in_shape: ``(length,)`` (one feature per step) or ``(length, features)``. Default ``(40,)``.
        n_classes: number of outputs. Default 10.
        hidden: hidden units. Default 32.
        cell: ``"gru"`` or ``"lstm"``. Default ``"gru"``.
        act: the candidate nonlinearity, replacing tanh. Default ``"tanh"``.
        gate_act: replaces σ; ``None`` derives it from ``act`` as above. Default ``None``.

    Shape:
        - Input: :math:`(N, L)` or :math:`(N, L, F)`. Output: :math:`(N, n\_classes)`.

    Example::

        >>> GatedRNN(act="isru")(torch.randn(2, 40)).shape
        torch.Size([2, 10])
    """

    def __init__(self, in_shape: Sequence[int] = (40,), n_classes: int = 10, hidden: int = 32, cell: str = "gru",
                 act: ActSpec = "tanh", gate_act: ActSpec | None = None) -> None:
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
        self.length = in_shape[0]
        self.features = 1 if len(in_shape) == 1 else in_shape[1]
        self.cell, self.hidden = cell, hidden
        k = 3 if cell == "gru" else 4
        self.w_ih = nn.Parameter(torch.empty(self.features, k * hidden))
        self.w_hh = nn.Parameter(torch.empty(hidden, k * hidden))
        self.b_ih = nn.Parameter(torch.empty(k * hidden))
        self.b_hh = nn.Parameter(torch.empty(k * hidden))
        make = unary_act(act, "GatedRNN")
        self.cand = make()
        self.gate = resolve_act(gate_act)() if gate_act is not None else DerivedGate(make())
        self.classifier = nn.Linear(self.length * hidden, n_classes)
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """PyTorch's GRU/LSTM init: every weight and bias uniform in ±1/√hidden."""
        bound = 1 / math.sqrt(self.hidden)
        for p in (self.w_ih, self.w_hh, self.b_ih, self.b_hh):
            with torch.no_grad():
                p.uniform_(-bound, bound, generator=generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        xs = x.reshape(n, self.length, self.features)
        proj = torch.addmm(self.b_ih, xs.reshape(-1, self.features), self.w_ih).view(n, self.length, -1)
        # unbind/split (not indexing): their backward is one stack/cat, where per-step slicing would scatter into a
        # zero-filled copy of the whole tensor at every step (quadratic in the length).
        steps = proj.unbind(1)
        h = x.new_zeros(n, self.hidden)
        c = x.new_zeros(n, self.hidden)
        H = self.hidden
        outs = []
        for xt in steps:
            hh = torch.addmm(self.b_hh, h, self.w_hh)
            if self.cell == "gru":
                x_rz, x_n = xt.split((2 * H, H), dim=1)
                h_rz, h_n = hh.split((2 * H, H), dim=1)
                r, z = self.gate(x_rz + h_rz).split(H, dim=1)
                cand = self.cand(x_n + r * h_n)
                h = cand + z * (h - cand)
            else:
                g_ifo, g_c = (xt + hh).split((3 * H, H), dim=1)
                i, f, o = self.gate(g_ifo).split(H, dim=1)
                c = f * c + i * self.cand(g_c)
                h = o * self.cand(c)
            outs.append(h)
        return self.classifier(torch.cat(outs, dim=1))

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}, hidden={self.hidden}, length={self.length}"
