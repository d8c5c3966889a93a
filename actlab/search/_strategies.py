"""Search strategies: one small contract and one registry.

Like an Optuna sampler, a strategy reads the history from the study and keeps none of its own: its randomness is
seeded from (seed, number of trials so far), its population is the study's last trials, and the controller's weights
live in the study's attributes. So a resumed study continues where it stopped, on any machine.
"""

from __future__ import annotations

import difflib
import random
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution

from ._space import Candidate, SearchSpace
from ._study import direction_sign, evaluated, scalar, seen_identities

__all__ = ["Strategy", "STRATEGIES", "register", "get_strategy", "distributions"]

STRATEGIES: dict[str, type["Strategy"]] = {}


def register(cls: type["Strategy"]) -> type["Strategy"]:
    """Class decorator: add a strategy to :data:`STRATEGIES` under its ``name``."""
    STRATEGIES[cls.name] = cls
    return cls


def get_strategy(name: str, space: SearchSpace, seed: int = 0, **options: Any) -> "Strategy":
    """Instantiate a registered strategy; an unknown name lists the closest ones."""
    key = name.lower()
    if key not in STRATEGIES:
        close = difflib.get_close_matches(key, list(STRATEGIES), n=3, cutoff=0.4)
        raise KeyError(f"unknown strategy {name!r}; closest: {close or sorted(STRATEGIES)}")
    return STRATEGIES[key](space, seed=seed, **options)


def distributions(space: SearchSpace) -> dict[str, BaseDistribution]:
    """The categorical encoding of the tree: one distribution per slot."""
    return {s.name: CategoricalDistribution(s.choices) for s in space.slots}


class Strategy(ABC):
    """Proposes candidates from the study's history.

    Args:
        space: the token space.
        seed: base seed; combined with the history length so that proposals are reproducible and resume cleanly.
    """

    name: ClassVar[str]
    #: One-line description shown by ``actlab search --help`` and the docs.
    summary: ClassVar[str] = ""
    #: Proposals come from the study's history alone, so a tabular benchmark can replay the strategy in seconds
    #: (``actlab bench strategies``). False for a strategy that trains networks itself (DNAS's supernet).
    replayable: ClassVar[bool] = True
    #: The strategy reads actlab.expr's operator table through the space's slots (not any SearchSpace).
    needs_operators: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, seed: int = 0, **options: Any) -> None:
        if options:
            raise TypeError(f"strategy {self.name!r} takes no options {sorted(options)}")
        self.space = space
        self.seed = seed

    def sampler(self) -> optuna.samplers.BaseSampler:
        """The sampler the driver loads the study with (only sampler-based strategies need a real one)."""
        return optuna.samplers.RandomSampler(seed=self.seed)

    def rng(self, study: optuna.Study, salt: int = 0) -> random.Random:
        return random.Random(f"{self.name}:{self.seed}:{len(study.get_trials(deepcopy=False))}:{salt}")

    @abstractmethod
    def propose(self, study: optuna.Study, n: int) -> list[Candidate]:
        """Up to ``n`` new candidates; an empty list means the strategy has nothing left to try."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(seed={self.seed})"


def _fresh(space: SearchSpace, tokens: dict[str, str], taken: set[str]) -> bool:
    c = space.identity(space.render(tokens))
    if c in taken:
        return False
    taken.add(c)
    return True


@register
class Exhaustive(Strategy):
    """Every distinct function of the space that passes the prefilter, simplest first."""

    name = "exhaustive"
    summary = "the deduplicated, prefiltered space, simplest first"

    def propose(self, study: optuna.Study, n: int) -> list[Candidate]:
        pool, _ = self.space.enumerate()
        taken = set(seen_identities(study.get_trials(deepcopy=False)))
        out: list[Candidate] = []
        for tokens in pool:
            if len(out) >= n:
                break
            if _fresh(self.space, tokens, taken):
                out.append(Candidate(dict(tokens)))
        return out


@register
class RandomSearch(Strategy):
    """Uniform sampling of the distinct, prefiltered functions not tried yet (the exhaustive pool), or of the raw
    trees when the space is too large to enumerate (the driver then dedupes and prefilters)."""

    name = "random"
    summary = "uniform sampling of untried distinct functions"

    def propose(self, study: optuna.Study, n: int) -> list[Candidate]:
        rng = self.rng(study)
        try:
            pool, _ = self.space.enumerate()
        except ValueError:
            return [Candidate(self.space.sample(rng)) for _ in range(n)]
        taken = set(seen_identities(study.get_trials(deepcopy=False)))
        fresh = [t for t in pool if self.space.identity(self.space.render(t)) not in taken]
        return [Candidate(dict(t)) for t in rng.sample(fresh, min(n, len(fresh)))]


class _SamplerStrategy(Strategy):
    """Lets an Optuna sampler choose the categorical encoding; the asked trial travels with the candidate."""

    def propose(self, study: optuna.Study, n: int) -> list[Candidate]:
        dists = distributions(self.space)
        out = []
        for _ in range(n):
            trial = study.ask(dists)
            out.append(Candidate(dict(trial.params), trial=trial))
        return out


@register
class TPE(_SamplerStrategy):
    """Optuna's (multivariate) TPE over one categorical parameter per slot."""

    name = "tpe"
    summary = "Optuna TPESampler over the categorical tree encoding"

    def sampler(self) -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(seed=self.seed, multivariate=True, constant_liar=True,
                                          n_startup_trials=10)


@register
class NSGA2(_SamplerStrategy):
    """Optuna's NSGA-II over the same encoding; meant for the multi-objective ``--objective``s."""

    name = "nsga2"
    summary = "Optuna NSGAIISampler (multi-objective) over the same encoding"

    def __init__(self, space: SearchSpace, seed: int = 0, population: int = 16) -> None:
        super().__init__(space, seed)
        self.population = population

    def sampler(self) -> optuna.samplers.BaseSampler:
        return optuna.samplers.NSGAIISampler(population_size=self.population, seed=self.seed)


@register
class Evolution(Strategy):
    """Regularized (aging) evolution, Real et al. 2019: tournament on the youngest ``population``, mutate one node.

    The population is the last ``population`` evaluated trials of the study, so the oldest die first. Failed
    candidates have fitness -inf; pruned ones their last reported accuracy.

    Args:
        population: size of the living population. Default: 16.
        sample: tournament size. Default: 4.
        init: the first ``population`` candidates: ``"simplest"`` (the simplest distinct, prefiltered functions,
            as the exhaustive strategy orders them; the paper's best functions were simple) or ``"random"``
            (Real et al.). ``"simplest"`` falls back to random when the space is too large to enumerate.
    """

    name = "evolution"
    summary = "regularized (aging) evolution with one-node mutations"

    def __init__(self, space: SearchSpace, seed: int = 0, population: int = 16, sample: int = 4,
                 init: str = "simplest") -> None:
        super().__init__(space, seed)
        if not 1 <= sample <= population:
            raise ValueError(f"evolution needs 1 <= sample <= population, got sample={sample}, "
                             f"population={population}")
        if init not in ("simplest", "random"):
            raise ValueError(f"evolution init must be 'simplest' or 'random', got {init!r}")
        self.population, self.sample, self.init = population, sample, init

    def _initial(self, study: optuna.Study, n: int, rng: random.Random) -> list[Candidate]:
        if self.init == "simplest":
            try:
                return Exhaustive(self.space, self.seed).propose(study, n)
            except ValueError:  # too large to enumerate
                pass
        return [Candidate(self.space.sample(rng)) for _ in range(n)]

    def propose(self, study: optuna.Study, n: int) -> list[Candidate]:
        rng = self.rng(study)
        history = sorted(evaluated(study), key=lambda t: t.number)
        if len(history) < self.population:
            return self._initial(study, n, rng)
        alive = history[-self.population:]
        out = []
        for _ in range(n):
            group = rng.sample(alive, self.sample)
            sign = direction_sign(study)
            parent = max(group, key=lambda t: _fitness(t, sign))
            child = self.mutate(dict(parent.params), rng)
            out.append(Candidate(child, attrs={"parent": parent.number}))
        return out

    def mutate(self, tokens: dict[str, str], rng: random.Random) -> dict[str, str]:
        """Change one slot (a unary, a binary or an input wire) to another of its choices."""
        slots = [s for s in self.space.slots if len(s.choices) > 1]
        s = rng.choice(slots)
        tokens[s.name] = rng.choice([c for c in s.choices if c != tokens.get(s.name)])
        return tokens


def _fitness(t: optuna.trial.FrozenTrial, sign: int = 1) -> float:
    """How good a trial is, higher better: its value times the study's direction ``sign``; a pruned trial counts at
    its last reported value (the reports are the search metric's curve)."""
    v = scalar(t)
    if v is not None:
        return sign * v
    if t.intermediate_values:
        return sign * float(t.intermediate_values[max(t.intermediate_values)])
    return float("-inf")
from . import _dnas  # noqa: E402,F401  (registers the "dnas" strategy; it imports this module)
