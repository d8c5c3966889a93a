"""The surrogate strategy: a Gaussian process over cheap features of the function picks what to train next.

Features are what the space can say about a candidate without training it: f and f' at fixed probe points
(:func:`actlab.expr.probe_features`) and, optionally, :func:`actlab.expr.analyse` properties. A scikit-learn GP
models validation accuracy from the evaluated trials of the study (so a resumed study resumes the model for free),
and an acquisition (expected improvement or an upper confidence bound) scores the untried functions of the pool:
the exhaustive pool when the space is small enough to enumerate, else a fixed random sample of trees.
"""

from __future__ import annotations

import math
import random
import warnings
from functools import lru_cache
from typing import Any

import numpy as np
import optuna

from ._space import Candidate, SearchSpace
from ._strategies import RandomSearch, Strategy, _fitness, register
from ._study import direction_sign, evaluated, seen_identities

__all__ = ["Surrogate", "features"]

# Trees sampled as the pool when the space cannot be enumerated (the 2-unit space).
SAMPLED_POOL = 3000
_PROPERTIES = ("monotonic", "bounded_below", "bounded_above", "bump_below_zero")
_SMOOTHNESS = {"discontinuous": 0.0, "C0": 1.0, "C1": 2.0, "C2": 3.0, "Cinf": 4.0}


@lru_cache(maxsize=200_000)
def _probe(text: str) -> tuple[float, ...]:
    from actlab import expr

    return tuple(float(v) for v in expr.probe_features(text))


@lru_cache(maxsize=200_000)
def _analysed(text: str) -> tuple[float, ...]:
    from actlab import expr

    a = expr.analyse(text, measure=False, canonical=False)
    props = [float(getattr(a, k)) for k in _PROPERTIES] + [_SMOOTHNESS.get(a.smoothness, 0.0), float(a.finite)]
    return (*props, math.asinh(a.mean) if math.isfinite(a.mean) else 0.0,
            math.asinh(a.var) if math.isfinite(a.var) else 0.0)


def features(text: str, properties: bool = False) -> np.ndarray:
    """The surrogate's description of a candidate: probe values/derivatives (+ ``analyse()`` properties)."""
    try:
        v = _probe(text) + (_analysed(text) if properties else ())
    except Exception:  # a candidate the numeric layer cannot evaluate gets the neutral vector
        v = ()
    n = 35 + (8 if properties else 0)
    return np.array(v if len(v) == n else (0.0,) * n, dtype=np.float64)


@register
class Surrogate(Strategy):
    """Gaussian-process model of accuracy over function features, with an acquisition over untried functions.

    Args:
        init: random candidates before the model is used. Default: 10.
        acquisition: ``"ei"`` (expected improvement) or ``"ucb"`` (mean + ``kappa`` · std). Default: ``"ei"``.
        kappa: UCB exploration weight. Default: 2.0.

    The defaults were fixed before the mnist1d-cnn table existed. Over 60 replays on it they need a median of 27
    evaluations to a top-1 % function, against random search's 70 (benchmarks/RESULTS.md, "Which strategy finds
    good functions soonest?"). ``init=5, acquisition="ucb", kappa=1``, the best of fourteen variants on the table's
    first 1,232 functions, did no better on the whole table (git history of benchmarks/RESULTS.md).
        xi: EI margin, in units of the accuracy's standard deviation. Default: 0.01.
        properties: also use ``analyse()`` properties (about 30 ms per function once). Default: False.
        warp: ``"copula"`` models the normal scores of the accuracies' ranks instead of the accuracies, so that a
            mass of chance-level functions does not flatten the model near the top; or ``"none"``. Default: ``"none"``
            (on the partial mnist1d-cnn table the copula needed twice the evaluations; git history of RESULTS.md).
        refit: the kernel's hyperparameters are fitted on the first ``refit``·k evaluated trials (k as large as
            possible) and reused in between, so most proposals cost one Cholesky; the choice depends only on the
            study, so a resumed search proposes the same. Default: 10.
    """

    name = "surrogate"
    summary = "Gaussian process over probe values/derivatives of f, expected improvement over untried functions"

    def __init__(self, space: SearchSpace, seed: int = 0, init: int = 10, acquisition: str = "ei",
                 kappa: float = 2.0, xi: float = 0.01, properties: bool = False, refit: int = 10,
                 warp: str = "none") -> None:
        super().__init__(space, seed)
        if acquisition not in ("ei", "ucb"):
            raise ValueError(f"surrogate acquisition must be 'ei' or 'ucb', got {acquisition!r}")
        if warp not in ("copula", "none"):
            raise ValueError(f"surrogate warp must be 'copula' or 'none', got {warp!r}")
        if init < 1:
            raise ValueError(f"surrogate init must be >= 1, got {init}")
        if refit < 1:
            raise ValueError(f"surrogate refit must be >= 1, got {refit}")
        self.init, self.acquisition, self.kappa, self.xi, self.properties = init, acquisition, kappa, xi, properties
        self.refit, self.warp = refit, warp
        self._pool: tuple[list[dict[str, str]], list[str], np.ndarray] | None = None
        self._kernel: tuple[int, Any] | None = None  # (trials it was fitted on, fitted kernel): a cache

    def _candidates(self) -> tuple[list[dict[str, str]], list[str], np.ndarray]:
        """The pool (tokens, identities, features); computed once per strategy instance (a cache, not state)."""
        if self._pool is None:
            try:
                pool, _ = self.space.enumerate()
            except ValueError:  # too large to enumerate: a fixed sample, the same on every call and resume
                rng = random.Random(f"surrogate-pool:{self.seed}")
                pool = [self.space.sample(rng) for _ in range(SAMPLED_POOL)]
            texts = [self.space.render(t) for t in pool]
            ids = [self.space.identity(t) for t in texts]
            feats = np.array([features(t, self.properties) for t in texts])
            self._pool = (pool, ids, feats)
        return self._pool

    def propose(self, study: optuna.Study, n: int) -> list[Candidate]:
        trials = study.get_trials(deepcopy=False)
        done = evaluated(study, trials)
        if len(done) < self.init:
            return RandomSearch(self.space, self.seed).propose(study, n)
        pool, ids, feats = self._candidates()
        taken = set(seen_identities(trials)) | {t.user_attrs["identity"] for t in trials
                                                if "skipped" in t.user_attrs and "identity" in t.user_attrs}
        fresh = [i for i, c in enumerate(ids) if c not in taken]
        if not fresh:
            return []
        self.sign = direction_sign(study)  # fitness is the value times the direction: the GP maximises it
        score = self.acquire(done, feats[fresh], scale=(feats.mean(0), feats.std(0) + 1e-6))
        order = np.argsort(-score, kind="stable")
        out, chosen = [], set()
        for j in order:
            i = fresh[int(j)]
            if ids[i] in chosen:  # the sampled pool may hold one function twice
                continue
            chosen.add(ids[i])
            out.append(Candidate(dict(pool[i]), attrs={"surrogate_score": float(score[j])}))
            if len(out) >= n:
                break
        return out

    def _warped(self, y: np.ndarray) -> np.ndarray:
        if self.warp == "none":
            return y
        from scipy.stats import norm, rankdata

        return np.asarray(norm.ppf((rankdata(y) - 0.5) / len(y)))  # ties (e.g. chance-level failures) share a score

    def acquire(self, done: list[optuna.trial.FrozenTrial], x: np.ndarray,
                scale: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Acquisition values of candidates ``x`` given the evaluated trials (failed ones at the worst accuracy).

        ``scale`` (mean, std) standardises the features; default: the evaluated trials' own. The pool's (fixed)
        scale makes the kernel fitted on the first trials the same whenever it is fitted, so resumes choose alike.
        """
        from scipy.stats import norm
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
        from threadpoolctl import threadpool_limits

        done = sorted(done, key=lambda t: t.number)
        vals = [_fitness(t, getattr(self, "sign", 1)) for t in done]
        finite = [v for v in vals if math.isfinite(v)]
        floor = min(finite) if finite else 0.0
        raw = np.array([v if math.isfinite(v) else floor for v in vals])
        y = self._warped(raw)
        xs = np.array([features(t.user_attrs["expression"], self.properties) for t in done])
        mu0, sd0 = scale if scale is not None else (xs.mean(0), xs.std(0) + 1e-6)
        # One BLAS thread: the matrices are tiny, and on cores shared with the workers a thread pool costs 100x.
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")  # convergence warnings of the kernel fit are not the user's concern
            m = max(self.init, len(done) // self.refit * self.refit)
            if self._kernel is None or self._kernel[0] != m:
                d = xs.shape[1]
                k0 = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(math.sqrt(d), (1e-2, 1e3)) + WhiteKernel(1e-2, (1e-6, 1.0))
                head = GaussianProcessRegressor(k0, normalize_y=True, random_state=self.seed)
                head.fit((xs[:m] - mu0) / sd0, self._warped(raw[:m]))  # only the first m: resumes choose alike
                self._kernel = (m, head.kernel_)
            gp = GaussianProcessRegressor(self._kernel[1], normalize_y=True, optimizer=None)
            gp.fit((xs - mu0) / sd0, y)
            mean, std = gp.predict((x - mu0) / sd0, return_std=True)
        std = np.maximum(std, 1e-9)
        if self.acquisition == "ucb":
            return mean + self.kappa * std
        ystd = float(y.std()) or 1.0
        z = (mean - y.max() - self.xi * ystd) / std
        return (mean - y.max() - self.xi * ystd) * norm.cdf(z) + std * norm.pdf(z)
