"""``dnas``: differentiable activation search over the relaxed 1- or 2-unit space (DARTS/FBNet-style, GRAFS for
activations).

The strategy trains one supernet (:mod:`._supernet`: every slot of the space a softmax/Gumbel mixture over its
operators or sources, domain-restricted operators masked, operands and outputs clamped) on the study's task, then
proposes the most probable discrete choices (the argmax first), each an ordinary candidate: the engine prefilters,
trains, records and re-evaluates it like any other trial. The supernet trains once per study and protocol, in the
driver process on one thread (its heartbeat goes on meanwhile), and its mixture probabilities are stored in the
study (user attribute ``dnas:{...}``): like every strategy, DNAS reads its state from the study, so a resumed or a
second driver proposes from the same supernet without training it again.

The ranking multiplies the slots' probabilities over the product of each slot's most probable choices, as many per
slot as keep that product under ``MAX_RANKED`` (every choice of the 1-unit space's 6 250; the top 6 per slot of the
2-unit space's 156 million).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from typing import Any

import optuna

from ._space import Candidate, SearchSpace
from ._strategies import Strategy, register
from ._study import seen_identities
from ._supernet import ARCH_LR, CLIP_IN, CLIP_OUT, MixedUnit, Supernet, train_supernet

__all__ = ["DNAS", "MixedUnit", "Supernet", "train_supernet", "CLIP_IN", "CLIP_OUT", "MAX_RANKED", "rank_choices"]

#: The most discrete candidates ranked (the product of the per-slot shortlists stays below it).
MAX_RANKED = 200_000


def rank_choices(probs: list[list[float]], limit: int = MAX_RANKED) -> list[tuple[tuple[int, ...], float]]:
    """Index tuples (one per slot) by descending product of probabilities, over each slot's top-m choices with the
    largest m whose product of shortlist sizes is at most ``limit``; zero-probability (masked) choices left out."""
    order = [sorted(range(len(p)), key=p.__getitem__, reverse=True) for p in probs]
    m = 1
    while m < max(len(p) for p in probs) and math.prod(min(m + 1, len(p)) for p in probs) <= limit:
        m += 1
    short = [[i for i in o[:m] if p[i] > 0] for o, p in zip(order, probs, strict=True)]
    combos = [(idx, math.prod(p[i] for p, i in zip(probs, idx, strict=True))) for idx in itertools.product(*short)]
    combos.sort(key=lambda c: -c[1])
    return combos


@register
class DNAS(Strategy):
    """Trains one relaxed supernet of the space's units, then proposes the most probable discrete candidates.

    Options (``--extra``): ``task`` and ``steps`` (supernet steps; default: the study's task and child budget, read
    from the study's stored configuration, else ``mnist1d-mlp`` and its budget), ``arch_lr`` (``ARCH_LR`` = 0.03),
    ``tau0`` (5), ``tau1`` (0.2). One supernet step costs two passes through every operator of the table per unit
    (about 25× a child step for one unit).
    """

    name = "dnas"
    #: it relaxes actlab.expr's operator table, so it needs a space whose slots name those operators
    needs_operators = True
    #: it trains a supernet on the study's task, which a table cannot stand in for
    replayable = False
    summary = "differentiable search: one softmax-relaxed supernet, then its most probable units"

    def __init__(self, space: SearchSpace, seed: int = 0, task: str | None = None, steps: int | None = None,
                 arch_lr: float = ARCH_LR, tau0: float = 5.0, tau1: float = 0.2) -> None:
        super().__init__(space, seed=seed)
        slots = space.slots
        self.units = len(slots) // 5
        shape_ok = len(slots) % 5 == 0 and 1 <= self.units <= 2 and all(
            slots[5 * i].name == f"u{i + 1}.in1" and slots[5 * i + 4].name == f"u{i + 1}.binary"
            and slots[5 * i + 2].choices == slots[2].choices and slots[5 * i + 4].choices == slots[4].choices
            for i in range(self.units))
        if not shape_ok:
            raise ValueError("strategy 'dnas' searches the core-unit expression spaces (--space 1, 2 or gated)")
        self.gated = bool(getattr(space, "gated", False))  # the supernet then trains as the gate f of f(g)·a
        self.task, self.steps = task, steps
        self.hp: dict[str, Any] = dict(arch_lr=float(arch_lr), tau0=float(tau0), tau1=float(tau1))
        self.status, self.wall_time = "", 0.0  # the supernet's, as last read from the study

    def _supernet(self, study: optuna.Study) -> dict[str, Any]:
        """The study's record of this protocol's supernet (probabilities per slot, status, seconds): read, or trained
        and written."""
        from actlab.train import get_task, task_spec

        cfg = study.user_attrs.get("config") or {}
        name = self.task or cfg.get("task") or "mnist1d-mlp"
        task = get_task(name)
        steps = int(self.steps or cfg.get("steps") or task.steps)
        spec = dict(task=task_spec(name), steps=steps, seed=self.seed, units=self.units, **self.hp,
                    **({"gated": True} if self.gated else {}))
        key = "dnas:" + json.dumps(spec, sort_keys=True)
        rec = study.user_attrs.get(key)
        if rec is None:
            s = self.space.slots
            net, status, wall = train_supernet(s[2].choices, s[4].choices, task, steps, self.seed, units=self.units,
                                               gated=self.gated, **self.hp)
            choices = net.choices()
            if [c.names for c in choices] != [slot.choices for slot in s]:  # the relaxation must be the space itself
                raise RuntimeError("dnas: the supernet's slots differ from the search space's")
            rec = {"probs": [c.probs().tolist() for c in choices], "status": status, "wall_time": wall}
            study.set_user_attr(key, rec)
        self.status, self.wall_time = rec["status"], float(rec["wall_time"])
        return rec

    def propose(self, study: optuna.Study, n: int) -> list[Candidate]:
        probs = tuple(tuple(p) for p in self._supernet(study)["probs"])
        s = self.space.slots
        taken = set(seen_identities(study.get_trials(deepcopy=False)))
        out: list[Candidate] = []
        for idx, p in _ranked(probs):
            tokens = {slot.name: slot.choices[i] for slot, i in zip(s, idx, strict=True)}
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


@functools.lru_cache(maxsize=4)
def _ranked(probs: tuple[tuple[float, ...], ...]) -> list[tuple[tuple[int, ...], float]]:
    # rank_choices of a stored supernet: a pure function of the study's record, computed once per process
    return rank_choices([list(p) for p in probs])
