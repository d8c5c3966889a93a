"""The search space as the strategies see it: a fixed list of categorical slots.

A candidate with ``units`` core units is exactly one choice per slot, so the slots *are* the expression tree
(:meth:`actlab.expr.Space.slots`: per unit, two input wires, two unaries and a binary). Mutating a slot mutates one
node of the tree, the controller emits one slot per step, and TPE/NSGA-II see one categorical parameter per slot.
Only :class:`SearchSpace` subclasses know how tokens become text, so a synthetic space can replace the real one
(``actlab.expr``) in the engine's unit tests.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["Slot", "SearchSpace", "Candidate"]


@dataclass(frozen=True)
class Slot:
    """One categorical decision: a node of the tree (unary, binary) or an input wire."""

    name: str
    choices: tuple[str, ...]


@dataclass
class Candidate:
    """A proposal: one token per slot, plus attributes stored on its trial (e.g. the controller's log-prob)."""

    tokens: dict[str, str]
    attrs: dict[str, Any] = field(default_factory=dict)
    trial: Any = None  # an already-asked optuna Trial (sampler-based strategies), else None


class SearchSpace(ABC):
    """Token-level view of an expression space.

    Subclasses give the slots and turn tokens into expression text; the engine asks them for a candidate's identity
    (:meth:`identity`) and for the reason to reject it before training (:meth:`check`).
    """

    name: str
    slots: tuple[Slot, ...]

    @abstractmethod
    def render(self, tokens: Mapping[str, str]) -> str:
        """The expression text of a token assignment (parseable by the evaluator)."""

    @abstractmethod
    def identity(self, text: str) -> str:
        """The dedupe key of a candidate: equal functions give equal strings (cheap; called for every proposal)."""

    @abstractmethod
    def check(self, text: str) -> str | None:
        """Why ``text`` must not be trained (prefilter reason), or None if it may."""

    @abstractmethod
    def enumerate(self) -> tuple[list[dict[str, str]], dict[str, int]]:
        """The deduplicated, prefiltered space, simplest first, and counts (raw size, removed per reason)."""

    def complexity(self, tokens: Mapping[str, str]) -> float:
        """A rough size used to order candidates simplest first (default: rendered length)."""
        return float(len(self.render(tokens)))

    # Helpers shared by every strategy.
    def sample(self, rng: random.Random) -> dict[str, str]:
        """A uniformly random token assignment."""
        return {s.name: rng.choice(s.choices) for s in self.slots}

    def validate(self, tokens: Mapping[str, Any]) -> dict[str, str]:
        """Tokens as a plain dict, checking every slot is present and legal."""
        out: dict[str, str] = {}
        for s in self.slots:
            if s.name not in tokens:
                raise ValueError(f"candidate lacks slot {s.name!r}; slots are {[t.name for t in self.slots]}")
            v = str(tokens[s.name])
            if v not in s.choices:
                raise ValueError(f"slot {s.name!r} got {v!r}, not one of its {len(s.choices)} choices")
            out[s.name] = v
        return out
