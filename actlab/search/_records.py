"""The typed records that cross the worker/driver/final-stage boundary, and the one list of trial attribute keys.

A worker returns a :class:`JobResult` (picklable; it travels over a pipe or through Ray); the driver stores it on the
trial through :meth:`JobResult.to_attrs`, and the final stage and the leaderboard read it back with
:meth:`SeedResult.from_attr`. Every user-attribute name is an :class:`Attr` constant, so a key is spelled once.

Trial states in both studies (what optuna-dashboard and ``study.best_trials`` see):

- COMPLETE: a training that ran to its end (its value is a real result). Nothing else is COMPLETE.
- PRUNED: a training stopped early by the pruner.
- FAIL: a training that failed (``failure`` says why), **or** a proposal that was never trained. Those carry
  ``outcome`` = ``"skipped"`` (the prefilter or validation rejected it; ``skipped`` holds the reason) or
  ``"duplicate"`` (``duplicate_of`` names the trial whose function it is); filter them by that attribute.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["Attr", "SeedResult", "JobResult", "Outcomes", "AttackSpec"]


class Attr:
    """User-attribute keys of search and final-stage trials (and the study's own)."""

    # what the candidate is
    EXPRESSION = "expression"      # the text, readable in the dashboard's trial table
    IDENTITY = "identity"          # the dedupe key (numeric fingerprint)
    CANONICAL = "canonical"        # sympy canonical form
    PROPERTIES = "properties"
    COST = "cost"                  # fused forward+backward ns/element (actlab.expr.kernel_ns_per_element)
    ADV_ACC = "adv_acc"            # median adversarial validation accuracy over the seeds (robustness objective)
    # what happened
    OUTCOME = "outcome"            # Outcomes.*: trained, skipped, duplicate
    SKIPPED = "skipped"            # the reason a proposal was not trained
    DUPLICATE_OF = "duplicate_of"  # trial number of the same function
    FAILURE = "failure"
    TRACEBACK = "traceback"
    PRUNER_ERROR = "pruner_error"
    PER_SEED = "per_seed"          # list of SeedResult dicts (search seeds, then racing seeds)
    TEST_ACC = "test_acc"          # median test accuracy over the seeds (for display only)
    RACED = "raced"                # seeds added because the candidate entered the running top-k
    RACE_FAILURE = "race_failure"  # why its racing seeds gave no result (the value is then the search seeds')
    POPULATION_ERROR = "population_error"  # why its population failed to train together (it then trained alone)
    WALL = "wall"
    CPU = "cpu"
    ATTEMPTS = "attempts"
    # bookkeeping
    DRIVER = "driver"
    NODE = "node"
    REQUEUED = "requeued"
    REQUEUED_FROM = "requeued_from"
    # final-stage trials
    KEY = "key"
    ROLE = "role"                  # "top", "baseline" or "check"
    ACT = "act"
    TASK = "task"
    SEED = "seed"
    RESULT = "result"              # one SeedResult dict
    # study attrs
    CONFIG = "config"


@dataclass(frozen=True)
class AttackSpec:
    """The attack of the robustness objective: an ``actlab.train.ATTACKS`` name, its budget ε and norm, run on the
    trained child network's validation split (the split the search selects on; test stays for the final board)."""

    name: str = "fgsm"
    eps: float = 0.1
    norm: str = "linf"


class Outcomes:
    """Values of :attr:`Attr.OUTCOME`."""

    TRAINED = "trained"
    SKIPPED = "skipped"
    DUPLICATE = "duplicate"


@dataclass
class SeedResult:
    """One child training (what an evaluator returns, as a dict with these keys, plus its seed)."""

    seed: int
    val_acc: float | None = None
    test_acc: float | None = None
    val_loss: float | None = None
    test_loss: float | None = None
    train_loss: float | None = None
    wall_time: float | None = None
    steps_done: int | None = None
    diverged: bool = False
    pruned: bool = False
    adv_acc: float | None = None      # adversarial validation accuracy (only when an AttackSpec was given)

    @classmethod
    def from_attr(cls, d: dict[str, Any], seed: int | None = None) -> "SeedResult":
        """From an evaluator's dict or a stored attribute; unknown keys (e.g. curves) are ignored."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names and v is not None}
        if seed is not None:
            kw["seed"] = seed
        kw.setdefault("seed", -1)
        return cls(**kw)

    def to_attr(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class JobResult:
    """What a worker returns for one :class:`~actlab.search._objective.Job` (never raised: failures are data)."""

    status: str = "ok"                  # "ok", "pruned" or "fail"
    reason: str | None = None           # why it failed
    per_seed: list[SeedResult] = field(default_factory=list)
    intermediate: list[tuple[int, float]] = field(default_factory=list)  # (step, search metric) of the first seed
    value: float | None = None          # median of the search metric (validation) over the seeds (status "ok")
    cost: float | None = None
    adv_value: float | None = None      # median adversarial validation accuracy over the seeds (status "ok")
    properties: dict[str, Any] | None = None
    canonical: str | None = None
    pruner_attrs: dict[str, Any] = field(default_factory=dict)
    pruner_error: str | None = None
    traceback: str | None = None
    wall: float = 0.0
    cpu: float = 0.0
    raced: int = 0                      # racing seeds merged into per_seed and value
    race_failure: str | None = None
    timed_out: bool = False             # stopped by its (batch's) timeout: a population's members retry alone
    population_error: str | None = None  # why training its population failed, so it trained alone

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_attrs(self) -> dict[str, Any]:
        """The user attributes a trial stores for this result (None values left out)."""
        out: dict[str, Any] = {Attr.PER_SEED: [s.to_attr() for s in self.per_seed], Attr.WALL: self.wall,
                               Attr.CPU: self.cpu}
        for key, v in ((Attr.COST, self.cost), (Attr.ADV_ACC, self.adv_value), (Attr.PROPERTIES, self.properties),
                       (Attr.CANONICAL, self.canonical),
                       (Attr.PRUNER_ERROR, self.pruner_error), (Attr.RACED, self.raced or None),
                       (Attr.RACE_FAILURE, self.race_failure), (Attr.POPULATION_ERROR, self.population_error)):
            if v is not None:
                out[key] = v
        tests = sorted(s.test_acc for s in self.per_seed if s.test_acc is not None)
        if tests:
            out[Attr.TEST_ACC] = tests[len(tests) // 2]
        return out
