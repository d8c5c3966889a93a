"""``dnas``: differentiable activation search over the relaxed 1-unit space (DARTS/FBNet-style, GRAFS for activations).

Every slot of the core unit ``binary(unary1(x), unary2(x))`` becomes a softmax mixture over its operators
(:data:`actlab.expr.OPERATORS`), one set of mixture logits shared by every activation layer of the task's network.
The network's weights train on the training split and the logits on the validation split with their own Adam,
alternating one step each (first-order, as DARTS' first-order variant and FBNet). The mixture weights are a
Gumbel-softmax whose temperature anneals geometrically from ``tau0`` to ``tau1``, pushing each slot toward one
operator.

The strategy then proposes the most probable discrete choices (the argmax first), each an ordinary candidate: the
engine prefilters, trains, records and re-evaluates it like any other trial. The supernet is trained once per
strategy instance (in the driver process), on one thread.

Numerics (what keeps one operator from poisoning the mixture):

* operators with a restricted domain or a pole (an ``invalid`` predicate or a ``pole`` in the table: ``sqrt``,
  the division) are **masked** out of the mixture, for the prefilter's reasons ``out_of_domain``/``non_finite``.
  Clamping alone is not enough for the division: the supernet saw ``x / (relu(x) + ε)`` clamped to ±``CLIP_OUT``
  and made it its argmax, while the discrete function (−x/ε below 0) trains to chance accuracy;
* every operand is **clamped** to ±``CLIP_IN`` (so exp/sinh/cosh/cube stay below e¹⁰ ≈ 2·10⁴) and every operator's
  output to ±``CLIP_OUT`` (the ε-guarded division's pole, log near 0);
* a non-finite loss ends the supernet training with status ``"diverged"``: the logits of the last finite step are
  kept, proposals carry ``dnas_status="diverged"``, and the search goes on.
"""

from __future__ import annotations

import itertools
import math
import time
from typing import Any

import optuna
import torch
import torch.nn.functional as F
from torch import nn

from ._space import Candidate, SearchSpace
from ._strategies import Strategy, register
from ._study import seen_identities

__all__ = ["DNAS", "MixedUnit", "CLIP_IN", "CLIP_OUT"]

CLIP_IN = 10.0
CLIP_OUT = 1e3


class _Mixture(nn.Module):
    """One slot: its operators, their β's and the logits (a parameter tagged ``arch``)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        from actlab.expr import operator

        super().__init__()
        self.names = names
        self.ops = [operator(n) for n in names]
        self.mask = torch.tensor([op.invalid is not None or op.pole is not None for op in self.ops])
        self.logits = nn.Parameter(torch.zeros(len(names)))
        self.betas = nn.Parameter(torch.ones(len(names)))

    def weights(self, tau: float, gen: torch.Generator | None) -> torch.Tensor:
        z = self.logits.masked_fill(self.mask, -math.inf)
        if gen is not None:   # Gumbel-softmax; masked entries stay at weight 0
            u = torch.rand(z.shape, generator=gen).clamp(1e-9, 1 - 1e-9)
            z = z - torch.log(-torch.log(u))
        return F.softmax(z / tau, dim=0)

    def probs(self) -> torch.Tensor:
        return F.softmax(self.logits.detach().masked_fill(self.mask, -math.inf), dim=0)

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
    """The relaxed 1-unit activation; layers share ``mix`` (the logits) and read its current temperature."""

    def __init__(self, unary: tuple[str, ...], binary: tuple[str, ...]) -> None:
        super().__init__()
        self.u1, self.u2, self.b = _Mixture(unary), _Mixture(unary), _Mixture(binary)
        self.tau = 1.0   # set by the trainer each step
        self.gen: torch.Generator | None = None
        self._w: tuple[torch.Tensor, ...] | None = None

    def resample(self) -> None:
        """Draw this step's mixture weights (one draw shared by every layer)."""
        self._w = tuple(m.weights(self.tau, self.gen) for m in (self.u1, self.u2, self.b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._w is None:
            self.resample()
        assert self._w is not None
        w1, w2, wb = self._w
        return self.b(wb, self.u1(w1, x), self.u2(w2, x))

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.u1.logits, self.u2.logits, self.b.logits]


class _Layer(nn.Module):
    """What build_model places at each activation site: a view onto the one shared unit."""

    def __init__(self, unit: MixedUnit) -> None:
        super().__init__()
        self.unit = unit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.unit(x)


def train_supernet(unary: tuple[str, ...], binary: tuple[str, ...], task: Any, steps: int, seed: int,
                   arch_lr: float = 3e-3, tau0: float = 5.0, tau1: float = 0.2,
                   data_dir: str | None = None) -> tuple[MixedUnit, str, float]:
    """Train the relaxed network of ``task``; return the unit, ``"ok"`` or ``"diverged"``, and wall seconds."""
    from actlab.data import load
    from actlab.models import build_model, init_weights
    from actlab.train import get_task

    t0 = time.perf_counter()
    task = get_task(task)
    ds = load(task.dataset, data_dir)
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        unit = MixedUnit(unary, binary)
        model = build_model(task.model, lambda: _Layer(unit), ds.shape, ds.n_classes, **task.model_kwargs)
        init_weights(model, torch.Generator().manual_seed(seed))
        arch = {id(p) for p in unit.arch_parameters()}
        weights = [p for p in model.parameters() if id(p) not in arch]
        w_opt = torch.optim.Adam(weights, lr=task.lr if task.optimizer == "adam" else 1e-3)
        a_opt = torch.optim.Adam(unit.arch_parameters(), lr=arch_lr, betas=(0.5, 0.999))
        unit.gen = torch.Generator().manual_seed(seed + 1)
        g = torch.Generator().manual_seed(seed + 2)
        n, nv, b = len(ds.y_train), len(ds.y_val), min(task.batch_size, len(ds.y_train), len(ds.y_val))
        last = [p.detach().clone() for p in unit.arch_parameters()]
        status = "ok"
        for t in range(steps):
            unit.tau = tau0 * (tau1 / tau0) ** (t / max(steps - 1, 1))
            for opt, x, y, nn_ in ((w_opt, ds.x_train, ds.y_train, n), (a_opt, ds.x_val, ds.y_val, nv)):
                idx = torch.randint(0, nn_, (b,), generator=g)
                unit.resample()
                loss = F.cross_entropy(model(x[idx]), y[idx])
                if not torch.isfinite(loss):
                    status = "diverged"
                    break
                w_opt.zero_grad(set_to_none=True)
                a_opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if status == "diverged" or not all(bool(torch.isfinite(p).all()) for p in unit.arch_parameters()):
                status = "diverged"
                break
            last = [p.detach().clone() for p in unit.arch_parameters()]
        with torch.no_grad():
            for p, v in zip(unit.arch_parameters(), last, strict=True):
                p.copy_(v)
    finally:
        torch.set_num_threads(prev)
    return unit, status, time.perf_counter() - t0


@register
class DNAS(Strategy):
    """Trains one relaxed supernet, then proposes the most probable discrete units (argmax first).

    Options (``--extra``): ``task`` and ``steps`` (supernet steps; default: the study's task and child budget, read
    from the study's stored configuration, else ``mnist1d-mlp`` and its budget), ``arch_lr`` (3e-3), ``tau0`` (5),
    ``tau1`` (0.2). One supernet step costs two passes through every operator of the table (about 25× a child step).
    """

    name = "dnas"
    #: it relaxes actlab.expr's operator table, so it needs a space whose slots name those operators
    needs_operators = True
    #: it trains a supernet on the study's task, which a table cannot stand in for
    replayable = False
    summary = "differentiable search: one softmax-relaxed supernet, then its most probable units"

    def __init__(self, space: SearchSpace, seed: int = 0, task: str | None = None, steps: int | None = None,
                 arch_lr: float = 3e-3, tau0: float = 5.0, tau1: float = 0.2) -> None:
        super().__init__(space, seed=seed)
        names = [s.name for s in space.slots]
        if len(names) != 5 or not names[0].startswith("u1.") or any(len(s.choices) != 1 for s in space.slots[:2]):
            raise ValueError("strategy 'dnas' searches the 1-unit space only (--space 1)")
        self.task, self.steps = task, steps
        self.hp: dict[str, Any] = dict(arch_lr=float(arch_lr), tau0=float(tau0), tau1=float(tau1))
        self._ranked: list[tuple[dict[str, str], float]] | None = None
        self.status, self.wall_time = "", 0.0

    def _rank(self, study: optuna.Study) -> list[tuple[dict[str, str], float]]:
        from actlab.train import get_task

        s = self.space.slots
        cfg = study.user_attrs.get("config") or {}
        task = get_task(self.task or cfg.get("task") or "mnist1d-mlp")
        steps = int(self.steps or cfg.get("steps") or task.steps)
        unit, self.status, self.wall_time = train_supernet(s[2].choices, s[4].choices, task, steps, self.seed,
                                                           **self.hp)
        p1, p2, pb = (m.probs().tolist() for m in (unit.u1, unit.u2, unit.b))
        combos = [(i, j, k, p1[i] * p2[j] * pb[k]) for i, j, k in itertools.product(
            range(len(p1)), range(len(p2)), range(len(pb)))]
        combos.sort(key=lambda c: -c[3])
        return [({s[0].name: "x", s[1].name: "x", s[2].name: s[2].choices[i], s[3].name: s[3].choices[j],
                  s[4].name: s[4].choices[k]}, p) for i, j, k, p in combos if p > 0]

    def propose(self, study: optuna.Study, n: int) -> list[Candidate]:
        if self._ranked is None:
            self._ranked = self._rank(study)
        taken = set(seen_identities(study.get_trials(deepcopy=False)))
        out: list[Candidate] = []
        for tokens, p in self._ranked:
            text = self.space.render(tokens)
            ident = self.space.identity(text)
            if ident in taken or self.space.check(text) is not None:
                continue
            taken.add(ident)
            out.append(Candidate(tokens, {"dnas_prob": p, "dnas_status": self.status,
                                          "dnas_wall_time": self.wall_time}))
            if len(out) == n:
                break
        return out
