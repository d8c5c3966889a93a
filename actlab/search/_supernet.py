"""The relaxed core-unit space that the ``dnas`` strategy trains: every slot a softmax/Gumbel mixture.

A k-unit candidate is one choice per slot of :meth:`actlab.expr.Space.slots` (per unit: two input wires, two unaries,
one binary). Relaxed, unit i is ``binary(unary1(in1), unary2(in2))`` with each operator slot a mixture over the
operator table (:data:`actlab.expr.OPERATORS`) and each input wire a mixture over the sources ``x, u1 … u(i-1)``
(unit 1's wires have only ``x``). One set of logits (``arch`` parameters) is shared by every activation layer of
the task's network, and :meth:`Supernet.choices` lists them in the slots' order, so a discrete candidate is one
index per entry.

Numerics (what keeps one operator from poisoning the mixture), the same for one or two units:

* operators with a restricted domain or a pole (an ``invalid`` predicate or a ``pole`` in the table: ``sqrt``,
  the division) are **masked** out of the mixture, for the prefilter's reasons ``out_of_domain``/``non_finite``.
  Clamping alone is not enough for the division: the supernet saw ``x / (relu(x) + ε)`` clamped to ±``CLIP_OUT``
  and made it its argmax, while the discrete function (−x/ε below 0) trains to chance accuracy;
* every operand is **clamped** to ±``CLIP_IN`` (so exp/sinh/cosh/cube stay below e¹⁰ ≈ 2·10⁴) and every operator's
  output to ±``CLIP_OUT`` (the ε-guarded division's pole, log near 0). A unit's output is thus at most
  ``CLIP_OUT`` in size, and the second unit clamps it again to ±``CLIP_IN`` as its operand;
* the network's weights train with the task's own optimizer and schedule, so that the mixture favours what a child
  can train: with Adam in place of an SGD task's optimizer, growth (x³ + sinh x) looked harmless to the supernet and
  its argmax diverged as a child;
* a non-finite loss ends the supernet training with status ``"diverged"``: the logits of the last finite step are
  kept (the strategy still proposes from them, flagged), and the search goes on.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Supernet", "MixedUnit", "train_supernet", "CLIP_IN", "CLIP_OUT"]

CLIP_IN = 10.0
CLIP_OUT = 1e3
#: Adam learning rate of the mixture logits. 3e-3 left the 1-unit mixtures near uniform after 300-1000 steps (the
#: argmax barely above the runners-up); 0.03 gave a clear argmax on mnist1d-mlp (400 steps) and mnist1d-cnn (1000
#: steps, whose first proposal ranks in the table's top 10 %): benchmarks/RESULTS.md, DNAS sections.
ARCH_LR = 0.03


class _Choice(nn.Module):
    """One slot's logits (an ``arch`` parameter) over ``names``, with masked entries held at weight 0."""

    def __init__(self, names: tuple[str, ...], mask: list[bool] | None = None) -> None:
        super().__init__()
        self.names = names
        self.mask: torch.Tensor  # a buffer, so it follows the logits to the training device
        self.register_buffer("mask", torch.tensor(mask if mask is not None else [False] * len(names)))
        self.logits = nn.Parameter(torch.zeros(len(names)))

    def weights(self, tau: float, gen: torch.Generator | None) -> torch.Tensor:
        if len(self.names) == 1:   # nothing to choose (unit 1's wires): no draw, so the random stream is the slots'
            return torch.ones(1, device=self.logits.device)
        z = self.logits.masked_fill(self.mask, -math.inf)
        if gen is not None:   # Gumbel-softmax; masked entries stay at weight 0
            # drawn on the CPU, so a seed gives the same draws on every device
            u = torch.rand(z.shape, generator=gen).clamp(1e-9, 1 - 1e-9).to(z.device)
            z = z - torch.log(-torch.log(u))
        return F.softmax(z / tau, dim=0)

    def probs(self) -> torch.Tensor:
        return F.softmax(self.logits.detach().masked_fill(self.mask, -math.inf), dim=0)


class _Wire(_Choice):
    """An input wire: a mixture of the sources ``x, u1, …`` already computed."""

    def forward(self, w: torch.Tensor, sources: list[torch.Tensor]) -> torch.Tensor:
        out = w[0] * sources[0]
        for i in range(1, len(sources)):
            out = out + w[i] * sources[i]
        return out


class _Mixture(_Choice):
    """An operator slot: its operators (domain-restricted ones masked) and one β per operator."""

    def __init__(self, names: tuple[str, ...]) -> None:
        from actlab.expr import operator

        ops = [operator(n) for n in names]
        super().__init__(names, [op.invalid is not None or op.pole is not None for op in ops])
        self.ops = ops
        self.betas = nn.Parameter(torch.ones(len(names)))

    def forward(self, w: torch.Tensor, a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        a = a.clamp(-CLIP_IN, CLIP_IN)
        b = b.clamp(-CLIP_IN, CLIP_IN) if b is not None else None
        out = torch.zeros_like(a)
        for i, op in enumerate(self.ops):
            if bool(self.mask[i]):
                continue
            args = [v for h, v in (("a", a), ("b", b)) if h in op.holes]
            if op.uses_beta:
                args.append(self.betas[i])
            out = out + w[i] * (op.torch(*args) + torch.zeros_like(a)).clamp(-CLIP_OUT, CLIP_OUT)
        return out


class MixedUnit(nn.Module):
    """Relaxed unit number ``index`` (1-based): ``b(u1(in1), u2(in2))``, its wires over ``index`` sources."""

    def __init__(self, unary: tuple[str, ...], binary: tuple[str, ...], index: int = 1) -> None:
        super().__init__()
        sources = ("x",) + tuple(f"u{j}" for j in range(1, index))
        self.in1, self.in2 = _Wire(sources), _Wire(sources)
        self.u1, self.u2, self.b = _Mixture(unary), _Mixture(unary), _Mixture(binary)

    def choices(self) -> list[_Choice]:
        """In the order of :meth:`actlab.expr.Space.slots`: in1, in2, unary1, unary2, binary."""
        return [self.in1, self.in2, self.u1, self.u2, self.b]

    def forward(self, w: list[torch.Tensor], sources: list[torch.Tensor]) -> torch.Tensor:
        w1, w2, wu1, wu2, wb = w
        return self.b(wb, self.u1(wu1, self.in1(w1, sources)), self.u2(wu2, self.in2(w2, sources)))


class Supernet(nn.Module):
    """The relaxed k-unit activation; every layer shares it and reads its current temperature and draw."""

    def __init__(self, unary: tuple[str, ...], binary: tuple[str, ...], units: int = 1) -> None:
        super().__init__()
        self.unit_list = [MixedUnit(unary, binary, i) for i in range(1, units + 1)]  # typed view of cells
        self.cells = nn.ModuleList(self.unit_list)
        self.tau = 1.0   # set by the trainer each step
        self.gen: torch.Generator | None = None
        self._w: list[list[torch.Tensor]] | None = None

    def choices(self) -> list[_Choice]:
        """Every slot's logits, in the order of :meth:`actlab.expr.Space.slots`."""
        return [c for cell in self.unit_list for c in cell.choices()]

    def resample(self) -> None:
        """Draw this step's mixture weights (one draw shared by every layer)."""
        self._w = [[c.weights(self.tau, self.gen) for c in cell.choices()] for cell in self.unit_list]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._w is None:
            self.resample()
        assert self._w is not None
        outputs = [x]
        for cell, w in zip(self.unit_list, self._w, strict=True):
            outputs.append(cell(w, outputs))
        return outputs[-1]

    def arch_parameters(self) -> list[nn.Parameter]:
        return [c.logits for c in self.choices()]


class _Layer(nn.Module):
    """What build_model places at each activation site: a view onto the one shared supernet."""

    def __init__(self, net: Supernet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _GatedLayer(nn.Module):
    """The supernet as the gate f of f(g)·a (the gated space): the layer before it produces both halves."""

    gated = True

    def __init__(self, net: Supernet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from actlab.kernels import split_gate

        a, g = split_gate(x)
        return a * self.net(g)


def train_supernet(unary: tuple[str, ...], binary: tuple[str, ...], task: Any, steps: int, seed: int,
                   arch_lr: float = ARCH_LR, tau0: float = 5.0, tau1: float = 0.2, units: int = 1,
                   data_dir: str | None = None, device: str | None = None,
                   gated: bool = False) -> tuple[Supernet, str, float]:
    """Train the relaxed network of ``task``; return the supernet, ``"ok"`` or ``"diverged"``, and wall seconds.
    With ``gated`` the supernet is the gate of every gated activation f(g)·a (``--space gated``), as a found gate
    trains (the task's model must take a gated activation).

    The weights train in the one training loop (:func:`actlab.train.train_one` with :class:`~actlab.train.StepHooks`),
    exactly as a child of the task trains: its data order, batch schedule, optimizer and learning-rate schedule,
    augmentation, device, and a user's model function or dataset. After each weight step the logits take one step
    of their own Adam on a random validation batch of the task's batch size (first-order alternating, as DARTS'
    first-order variant and FBNet); the Gumbel temperature anneals geometrically from ``tau0`` to ``tau1``.
    """
    from actlab.train import StepHooks, get_task, task_loss, train_one

    task = get_task(task)
    if task.objective is not None:
        raise ValueError(f"dnas trains a supernet of task {task.name!r}, which trains through its own objective; it "
                         f"needs a task with a dataset and a model")
    t0 = time.perf_counter()
    net = Supernet(unary, binary, units)
    net.gen = torch.Generator().manual_seed(seed + 1)
    g = torch.Generator().manual_seed(seed + 2)
    arch = net.arch_parameters()
    a_opt = torch.optim.Adam(arch, lr=arch_lr, betas=(0.5, 0.999))
    last = [p.detach().clone() for p in arch]  # the logits of the last finite step (kept if training diverges)

    def before(t: int) -> None:
        net.tau = tau0 * (tau1 / tau0) ** (t / max(steps - 1, 1))
        net.resample()

    def after(t: int, model: nn.Module, ds: Any) -> bool:
        idx = torch.randint(0, len(ds.y_val), (min(task.batch_size, len(ds.y_val)),), generator=g)
        idx = idx.to(ds.y_val.device)
        net.resample()
        loss = task_loss(model(ds.x_val[idx]), ds.y_val[idx])
        if not torch.isfinite(loss):
            return False
        a_opt.zero_grad(set_to_none=True)
        loss.backward()  # the weights' gradients it leaves are cleared before the next weight step
        a_opt.step()
        if not all(bool(torch.isfinite(p).all()) for p in arch):
            return False
        for keep, p in zip(last, arch, strict=True):
            keep.copy_(p.detach())
        return True

    # The weights start as a child's of this seed would (the trainer's seeding); the draws of the mixture and of
    # the validation batches have their own streams.
    layer = _GatedLayer if gated else _Layer
    run = train_one(lambda: layer(net), task, seed, steps=steps, threads=1, data_dir=data_dir, device=device,
                    hooks=StepHooks(frozen=arch, before=before, after=after))
    net.cpu()
    with torch.no_grad():
        for p, v in zip(arch, last, strict=True):
            p.copy_(v)
    return net, "diverged" if run.diverged else "ok", time.perf_counter() - t0
