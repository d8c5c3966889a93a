"""The search configuration (one commented dataclass) and the budget syntax."""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from ._objective import DEFAULT_EVALUATOR
from ._records import AttackSpec

__all__ = ["SearchConfig", "parse_budget", "BASELINES", "GATED_BASELINES", "OBJECTIVES", "SearchObjective",
           "FRESH_SEED_BASE", "DEFAULT_CHECK_TASK", "auto_check_task", "PRESET_STEPS"]

#: Always on the leaderboard, trained under the identical protocol.
BASELINES: tuple[str, ...] = ("relu", "swish", "isrlu", "elu", "gelu")
#: The gated space's board: the gated FFNs of Shazeer 2020 and the plain ReLU FFN (a FeedForward block gives the gated
#: ones 2/3 of the hidden width, so all are parameter-matched).
GATED_BASELINES: tuple[str, ...] = ("relu", "swiglu", "geglu", "reglu", "glu")
#: The final stage's fresh seeds are FRESH_SEED_BASE, +1, ...: disjoint from the search's seeds 0..seeds+race_seeds-1.
FRESH_SEED_BASE = 1000
#: The default generalization check: scikit-learn's digits ship with scikit-learn (no download, works on a fresh
#: machine, unlike Fashion-MNIST), it is a different dataset and architecture (MLP, SGD+LEGW) from the MNIST-1D CNN,
#: and a training takes about a second, so checking the top-k and baselines on 5 seeds adds well under +50 %.
DEFAULT_CHECK_TASK = "digits-mlp"
#: The search's default child training steps on a preset task (the presets' own budgets are full trainings).
PRESET_STEPS = 1000
_SECOND_CHECK_TASK = "mnist1d-mlp"  # when the search's own data is the default check task's


def _data_of(task: Any) -> Any:
    """The data set a task trains on, as comparable as it can be told without loading it: a registry name, a
    :class:`~actlab.data.Dataset`'s name, else the object itself (a callable is not called)."""
    from actlab.train import get_task

    try:
        d = get_task(task).dataset
    except (KeyError, ValueError):  # an objective-only task or a spec that fails later, with its own error
        return None
    return getattr(d, "name", d) if not isinstance(d, str) else d


def auto_check_task(task: Any) -> str:
    """``--check-task auto``: the default check task, unless the search trains on its data (compared by data set, not
    by task name: a user's task on ``digits`` must not be checked on digits), then the second one."""
    return DEFAULT_CHECK_TASK if _data_of(task) != _data_of(DEFAULT_CHECK_TASK) else _SECOND_CHECK_TASK


@dataclass(frozen=True)
class SearchObjective:
    """One axis the search can optimise: its direction, the metric name Optuna shows, and the
    :class:`~actlab.search._records.JobResult` field holding a trial's value."""

    name: str
    direction: str       # "maximize" or "minimize"
    metric: str
    result: str          # the JobResult attribute (None there: the trial fails, saying which was not measured)
    description: str


#: The one table of objectives; ``--objective`` is "accuracy" optionally followed by others (a Pareto front).
OBJECTIVES: dict[str, SearchObjective] = {o.name: o for o in [
    SearchObjective("accuracy", "maximize", "val_acc", "value", "median validation accuracy over the seeds"),
    SearchObjective("speed", "minimize", "ns_per_element", "cost", "fused forward+backward kernel ns/element"),
    SearchObjective("robustness", "maximize", "adv_acc", "adv_value",
                    "median validation accuracy under --attack at --eps (--norm) over the seeds"),
]}


@dataclass
class SearchConfig:
    """Everything that defines a search; the protocol fields must match when a study is resumed."""

    # protocol (stored in the study; resuming with different values is refused)
    task: Any = "mnist1d-cnn"          # a TASKS preset, "package.module:attr" or a module-level Task (stored as spec)
    space: str = "1"                   # core units: "1" or "2" (also "1-unit", "units=2"), or "gated": the gate f
                                       # of f(g)·a over the 1-unit space (transformer FFNs; baselines GATED_BASELINES)
    seeds: int = 1                     # seeds per candidate during the search; objective = median val accuracy
    # child training steps (the search fidelity): "auto" is PRESET_STEPS for a preset task and a task's own steps for
    # yours (so `python my_search.py` and `actlab search --task my_search:TASK` train alike); None: the task's own
    steps: int | None | str = "auto"
    objective: str = "accuracy"        # "accuracy", or a Pareto front: "accuracy,speed", "accuracy,robustness"...
    # what the first objective measures: a validation metric of actlab.train.METRICS; val_loss and val_bpb are
    # minimised (the study's direction follows the metric, and so do the reported curves the pruner compares)
    metric: str = "val_acc"
    attack: str = "fgsm"               # the robustness objective's attack (actlab.train.ATTACKS), on the val split
    eps: float = 0.1                   # its budget ε (as actlab bench robustness), in the input's units
    norm: str = "linf"                 # its norm: linf or l2
    # how to search
    strategy: str = "evolution"        # a key of STRATEGIES
    budget: str | int = "5m"           # trials evaluated in total ("150") or wall time of this run ("5m", "90s")
    controller_algo: str = "ppo"       # controller strategy: "ppo" or "reinforce"
    pruner: str = "halving"            # "halving", "hyperband" or "none" (single objective only)
    seed: int = 0                      # base seed of the strategy's randomness
    race_seeds: int = 2                # extra seeds for a candidate entering the running top-k (0: no racing)
    # fidelity of the final leaderboard (fresh seeds, disjoint from the search's; paired t-tests, Holm)
    top_k: int = 5                     # candidates re-evaluated on fresh seeds
    reeval_seeds: int = 5              # fresh seeds of every leaderboard row (top-k and baselines); >= 2
    check_task: str | None = "auto"    # generalization check task; "auto": digits-mlp (mnist1d-mlp on digits)
    check_seeds: int = 5               # fresh seeds on the check task; "none" as check_task turns it off
    baselines: tuple[str, ...] = BASELINES
    # execution
    workers: int | None = None         # local worker processes; default one per core
    # candidates a worker trains together as one population (actlab.train.train_population): the same results as
    # one at a time, so not part of the protocol (a study may resume with another value); 1: one at a time; "auto":
    # the driver probes the device (actlab.train.probe_population)
    population: int | str = 1
    ray_address: str | None = None     # "auto" or "HOST:PORT": evaluate on Ray instead
    timeout: float = 300.0             # seconds per trial before it is killed and recorded as failed
    device: str | None = None          # cpu, cuda, cuda:N, mps or auto; None: the task's own (presets: cpu)
    # SQLAlchemy URL or a file path; default sqlite runs/<study>.db. Never stored in the study (it may hold a
    # password) and masked in repr.
    storage: str | None = field(default=None, repr=False)
    study: str | None = None           # study name; default derived from the protocol and strategy
    runs_dir: str = "runs"
    evaluator: str = DEFAULT_EVALUATOR  # "module:function" evaluating one (expression, task, seed)
    analyse: bool = True               # measure cost and properties of every candidate
    extra: dict[str, Any] = field(default_factory=dict)  # strategy options, e.g. {"population": 16}

    def __post_init__(self) -> None:
        from actlab.train import parse_population

        self.population = parse_population(self.population)  # a number, or "auto" (the driver probes)
        if self.gated and tuple(self.baselines) == BASELINES:  # the gated board compares gated FFNs (and ReLU)
            self.baselines = GATED_BASELINES
        # "none"/"auto" first: the task check below resolves the check task like any other
        if self.check_task is not None and self.check_task.strip().lower() in ("none", "off", ""):
            self.check_task = None
        elif self.check_task == "auto":
            self.check_task = auto_check_task(self.task)
        if self.evaluator == DEFAULT_EVALUATOR:
            self._check_tasks()
        names = [o.strip() for o in self.objective.split(",") if o.strip()]
        bad = [o for o in names if o not in OBJECTIVES]
        if not names or bad or len(set(names)) != len(names) or names[0] != "accuracy":
            raise ValueError(f"--objective must be accuracy, optionally followed by "
                             f"{' or '.join(o for o in OBJECTIVES if o != 'accuracy')} (comma-separated), "
                             f"got {self.objective!r}")
        self.objective = ",".join(names)
        if self.evaluator == DEFAULT_EVALUATOR or self.metric != "val_acc":
            from actlab.train import get_metric

            m = get_metric(self.metric)  # one-line error naming the known metrics
            if not m.name.startswith("val_"):
                raise ValueError(f"--metric must be a validation metric (the search never selects on the test split), "
                                 f"got {self.metric!r}; use val_{m.name.split('_', 1)[1]}")
            self.metric = m.name
        from actlab.train import check_attacks  # one-line errors for an unknown attack or norm, or eps <= 0

        check_attacks([self.attack], [self.eps], self.norm)
        if self.seeds < 1 or self.race_seeds < 0:
            raise ValueError("--seeds must be >= 1 and --race-seeds >= 0")
        if self.reeval_seeds < 2 or self.check_seeds < 2:  # a paired test needs two pairs
            raise ValueError("--reeval-seeds and --check-seeds must be >= 2 (the paired test needs two pairs)")
        if self.seeds + self.race_seeds > FRESH_SEED_BASE:
            raise ValueError(f"--seeds + --race-seeds must stay below {FRESH_SEED_BASE} (the fresh seeds start there)")
        if self.check_task is not None and self.check_task == self.task:
            raise ValueError(f"--check-task must differ from --task ({self.task!r}); use none to turn it off")
        if self.pruner not in ("halving", "hyperband", "none"):
            raise ValueError(f"--pruner must be halving, hyperband or none, got {self.pruner!r}")
        if self.steps == "auto":
            from actlab.train import TASKS

            self.steps = PRESET_STEPS if isinstance(self.task, str) and self.task.strip() in TASKS else None
        if self.steps is not None and (not isinstance(self.steps, int) or self.steps < 1):
            raise ValueError(f"--steps must be >= 1, got {self.steps}")
        parse_budget(self.budget)
        _ = self.units  # validates the space

    def _check_tasks(self) -> None:
        """The default evaluator trains actlab tasks: resolve them now, so that an unknown task, an unimportable
        module, a wrong attribute or a missing device fails in one line before any study or file exists."""
        from actlab.train import get_task, resolve_device, task_spec

        task = get_task(self.task)
        self.task = task_spec(self.task)  # the string the study stores and every worker resolves again
        if self.check_task is not None:
            get_task(self.check_task)
            self.check_task = task_spec(self.check_task)
        from actlab.models import candidate_act

        for b in self.baselines:  # an unknown baseline is a one-line error now, not a failed row after the search
            try:
                candidate_act(b)
            except (KeyError, ValueError) as e:
                raise ValueError(f"baseline {b!r}: {str(e.args[0]) if e.args else e}") from None
        if task.objective is not None and "robustness" in self.objectives:
            raise ValueError(f"--objective robustness attacks the trained network, which task {task.name!r} with its "
                             f"own training objective does not return")
        if self.population != 1 and task.objective is not None:  # said once, here; the workers then train alone
            warnings.warn(f"task {task.name!r} trains through its own objective, which cannot train a population: "
                          f"its candidates train one at a time", stacklevel=3)
            self.population = 1
        if task.objective is None:
            resolve_device(self.device or task.device)
            if self.device is None and task.device != "cpu":  # the executors place workers (Ray: asks for GPUs)
                self.device = task.device
        elif self.device is not None:
            resolve_device(self.device)

    @property
    def task_name(self) -> str:
        """The task's short name (a spec's Task name), for study names and tables."""
        if self.evaluator == DEFAULT_EVALUATOR:
            from actlab.train import get_task, is_spec

            if is_spec(self.task):
                return get_task(self.task).name
        return str(self.task)

    @property
    def gated(self) -> bool:
        """Whether the space is the gated one: each candidate f trains as the gate of f(g)·a (``glu(f)``)."""
        return str(self.space).strip().lower() == "gated"

    @property
    def members(self) -> int:
        """The population size the workers train: ``population``, once ``"auto"`` is probed (the driver does)."""
        if not isinstance(self.population, int):
            raise ValueError("population 'auto' is probed by the search's driver before anything trains; run the "
                             "search through run_search or Driver")
        return self.population

    @property
    def child_steps(self) -> int | None:
        """The children's training steps, resolved ("auto" is settled when the config is made)."""
        if isinstance(self.steps, str):
            raise ValueError(f"--steps must be a number of steps, got {self.steps!r}")
        return self.steps

    @property
    def units(self) -> int:
        if self.gated:
            return 1
        m = re.fullmatch(r"(?:units=)?([12])(?:-?units?)?", str(self.space).strip().lower())
        if not m:
            raise ValueError(f"--space must be 1 or 2 (core units) or gated, got {self.space!r}")
        return int(m.group(1))

    @property
    def objectives(self) -> list[str]:
        return [o.strip() for o in self.objective.split(",") if o.strip()]

    @property
    def directions(self) -> list[str]:
        """Optuna directions of the objectives; the first follows ``metric`` (a loss is minimised)."""
        first = "maximize" if self.metric == "val_acc" else _metric_direction(self.metric)
        return [first if i == 0 else OBJECTIVES[o].direction for i, o in enumerate(self.objectives)]

    @property
    def attack_spec(self) -> AttackSpec | None:
        """The robustness objective's attack, or None when robustness is not an objective."""
        return AttackSpec(self.attack, float(self.eps), self.norm) if "robustness" in self.objectives else None

    @property
    def multi(self) -> bool:
        return len(self.directions) > 1

    def study_name(self) -> str:
        if self.study:
            return self.study
        obj = "".join(f"-{o}" for o in self.objectives[1:])  # "-speed" for accuracy,speed, as before
        obj += "" if self.metric == "val_acc" else f"-{self.metric}"
        return f"{self.strategy}-{self.task_name}-{'gated' if self.gated else f'u{self.units}'}{obj}"

    def protocol(self) -> dict[str, Any]:
        """What the study stores (user attribute ``config``): every field but the storage URL, which may carry a
        password."""
        d = asdict(self)
        d.pop("storage", None)
        d["space"] = "gated" if self.gated else self.units
        d["baselines"] = list(self.baselines)
        if self.attack_spec is None:  # the attack is part of the protocol only when robustness is an objective
            d["attack"] = d["eps"] = d["norm"] = None
        return d


def _metric_direction(metric: str) -> str:
    from actlab.train import get_metric

    return get_metric(metric).optuna_direction


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
