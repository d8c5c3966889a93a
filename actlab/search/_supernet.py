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
        self.mask = torch.tensor(mask if mask is not None else [False] * len(names))
        self.logits = nn.Parameter(torch.zeros(len(names)))

    def weights(self, tau: float, gen: torch.Generator | None) -> torch.Tensor:
        if len(self.names) == 1:   # nothing to choose (unit 1's wires): no draw, so the random stream is the slots'
            return torch.ones(1)
        z = self.logits.masked_fill(self.mask, -math.inf)
        if gen is not None:   # Gumbel-softmax; masked entries stay at weight 0
            u = torch.rand(z.shape, generator=gen).clamp(1e-9, 1 - 1e-9)
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


def train_supernet(unary: tuple[str, ...], binary: tuple[str, ...], task: Any, steps: int, seed: int,
                   arch_lr: float = ARCH_LR, tau0: float = 5.0, tau1: float = 0.2, units: int = 1,
                   data_dir: str | None = None) -> tuple[Supernet, str, float]:
    """Train the relaxed network of ``task``; return the supernet, ``"ok"`` or ``"diverged"``, and wall seconds.

    Weights train on the training split with the task's optimizer and learning-rate schedule (at the task's batch
    size: a batch-size schedule is not followed), the logits on the validation split with their own Adam,
    alternating one step each (first-order, as DARTS' first-order variant and FBNet); the Gumbel temperature anneals
    geometrically from ``tau0`` to ``tau1``.
    """
    from actlab.data import load
    from actlab.models import build_model, init_weights
    from actlab.train import apply_schedule, get_task, make_optimizer, make_schedule

    t0 = time.perf_counter()
    task = get_task(task)
    ds = load(task.dataset, data_dir)
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        net = Supernet(unary, binary, units)
        model = build_model(task.model, lambda: _Layer(net), ds.shape, ds.n_classes, **task.model_kwargs)
        init_weights(model, torch.Generator().manual_seed(seed))
        arch = {id(p) for p in net.arch_parameters()}
        weights = [p for p in model.parameters() if id(p) not in arch]
        # The weights train as the task's children do (its optimizer, schedule and LEGW batch rule): under Adam at
        # 1e-3 on digits-mlp, an SGD task, the supernet's argmax was x^3 + sinh(x), which diverges under the
        # task's own SGD; with the task's optimizer it is a bump exp(-beta*(...)^2) (benchmarks/RESULTS.md, DNAS).
        w_opt = make_optimizer(task, weights)
        a_opt = torch.optim.Adam(net.arch_parameters(), lr=arch_lr, betas=(0.5, 0.999))
        net.gen = torch.Generator().manual_seed(seed + 1)
        g = torch.Generator().manual_seed(seed + 2)
        n, nv, b = len(ds.y_train), len(ds.y_val), min(task.batch_size, len(ds.y_train), len(ds.y_val))
        sched = make_schedule(task.schedule, task.lr, steps, batch_size=b, steps_per_epoch=max(1, n // b),
                              **task.schedule_kwargs)
        last = [p.detach().clone() for p in net.arch_parameters()]
        status = "ok"
        for t in range(steps):
            net.tau = tau0 * (tau1 / tau0) ** (t / max(steps - 1, 1))
            apply_schedule(w_opt, sched, t, b)
            for opt, x, y, nn_ in ((w_opt, ds.x_train, ds.y_train, n), (a_opt, ds.x_val, ds.y_val, nv)):
                idx = torch.randint(0, nn_, (b,), generator=g)
                net.resample()
                loss = F.cross_entropy(model(x[idx]), y[idx])
                if not torch.isfinite(loss):
                    status = "diverged"
                    break
                w_opt.zero_grad(set_to_none=True)
                a_opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if status == "diverged" or not all(bool(torch.isfinite(p).all()) for p in net.arch_parameters()):
                status = "diverged"
                break
            last = [p.detach().clone() for p in net.arch_parameters()]
        with torch.no_grad():
            for p, v in zip(net.arch_parameters(), last, strict=True):
                p.copy_(v)
    finally:
        torch.set_num_threads(prev)
    return net, status, time.perf_counter() - t0
