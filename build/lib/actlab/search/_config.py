"""The search configuration (one commented dataclass) and the budget syntax."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ._objective import DEFAULT_EVALUATOR

__all__ = ["SearchConfig", "parse_budget", "BASELINES", "OBJECTIVES"]

#: Always on the leaderboard, trained under the identical protocol.
BASELINES: tuple[str, ...] = ("relu", "swish", "isrlu", "elu", "gelu")
#: Objective name -> optimisation direction.
OBJECTIVES: dict[str, str] = {"accuracy": "maximize", "speed": "minimize"}


@dataclass
class SearchConfig:
    """Everything that defines a search; the protocol fields must match when a study is resumed."""

    # protocol (stored in the study; resuming with different values is refused)
    task: str = "mnist1d-cnn"          # actlab.train TASKS preset the children train on
    space: str = "1"                   # core units: "1" or "2" (also "1-unit", "units=2")
    seeds: int = 1                     # seeds per candidate during the search; objective = median val accuracy
    steps: int | None = 1000           # child training steps (default fidelity); None = the task preset's
    objective: str = "accuracy"        # "accuracy" or "accuracy,speed" (Pareto front with fused fwd+bwd ns/elem)
    # how to search
    strategy: str = "evolution"        # a key of STRATEGIES
    budget: str | int = "5m"           # trials evaluated in total ("150") or wall time of this run ("5m", "90s")
    controller_algo: str = "ppo"       # controller strategy: "ppo" or "reinforce"
    pruner: str = "halving"            # "halving", "hyperband" or "none" (single objective only)
    seed: int = 0                      # base seed of the strategy's randomness
    # fidelity of the final leaderboard
    top_k: int = 5                     # candidates re-evaluated with more seeds
    reeval_seeds: int = 3              # seeds of every leaderboard row (top-k and baselines)
    check_task: str | None = None      # second task for the generalization check (e.g. "fashion-cnn")
    check_seeds: int = 1
    baselines: tuple[str, ...] = BASELINES
    # execution
    workers: int | None = None         # local worker processes; default one per core
    ray_address: str | None = None     # "auto" or "HOST:PORT": evaluate on Ray instead
    timeout: float = 300.0             # seconds per trial before it is killed and recorded as failed
    storage: str | None = None         # SQLAlchemy URL or a file path; default sqlite runs/<study>.db
    study: str | None = None           # study name; default derived from the protocol and strategy
    runs_dir: str = "runs"
    evaluator: str = DEFAULT_EVALUATOR  # "module:function" evaluating one (expression, task, seed)
    analyse: bool = True               # measure cost and properties of every candidate
    extra: dict[str, Any] = field(default_factory=dict)  # strategy options, e.g. {"population": 16}

    def __post_init__(self) -> None:
        names = [o.strip() for o in self.objective.split(",") if o.strip()]
        bad = [o for o in names if o not in OBJECTIVES]
        if not names or bad or len(set(names)) != len(names) or names[0] != "accuracy":
            raise ValueError(f"--objective must be 'accuracy' or 'accuracy,speed', got {self.objective!r}")
        self.objective = ",".join(names)
        if self.seeds < 1 or self.reeval_seeds < 1 or self.check_seeds < 1:
            raise ValueError("seeds, reeval_seeds and check_seeds must be >= 1")
        if self.reeval_seeds < self.seeds:  # every leaderboard row must have the same seeds
            raise ValueError(f"--reeval-seeds ({self.reeval_seeds}) must be >= --seeds ({self.seeds})")
        if self.pruner not in ("halving", "hyperband", "none"):
            raise ValueError(f"--pruner must be halving, hyperband or none, got {self.pruner!r}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"--steps must be >= 1, got {self.steps}")
        parse_budget(self.budget)
        self.units  # validates the space

    @property
    def units(self) -> int:
        m = re.fullmatch(r"(?:units=)?([12])(?:-?units?)?", str(self.space).strip().lower())
        if not m:
            raise ValueError(f"--space must be 1 or 2 (core units), got {self.space!r}")
        return int(m.group(1))

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o] for o in self.objective.split(",")]

    @property
    def multi(self) -> bool:
        return len(self.directions) > 1

    def study_name(self) -> str:
        if self.study:
            return self.study
        obj = "" if not self.multi else "-speed"
        return f"{self.strategy}-{self.task}-u{self.units}{obj}"

    def protocol(self) -> dict[str, Any]:
        d = asdict(self)
        d["space"] = self.units
        d["baselines"] = list(self.baselines)
        return d


def parse_budget(budget: str | int) -> tuple[int | None, float | None]:
    """``"150"`` -> (150 trials, None); ``"10m"``/``"90s"``/``"1h"`` -> (None, seconds)."""
    if isinstance(budget, int):
        if budget < 1:
            raise ValueError(f"--budget must be >= 1 trial, got {budget}")
        return budget, None
    s = str(budget).strip().lower()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)", s)
    if m:
        scale = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[m.group(2)]
        return None, float(m.group(1)) * scale
    if s.isdigit() and int(s) >= 1:
        return int(s), None
    raise ValueError(f"--budget must be a number of trials (e.g. 150) or a time (e.g. 10m, 90s), got {budget!r}")
