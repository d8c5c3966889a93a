"""The one registry of learning-rate schedules. Each entry documents its formula; the tests check the curves.

Notation: step :math:`t = 0 .. T-1` (the learning rate used for update ``t``), :math:`T` = total steps,
:math:`\\eta` = the task's learning rate, :math:`B` = batch size, :math:`E` = steps per epoch (train size / B).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Schedule", "SCHEDULES", "make_schedule", "Constant", "Cosine", "OneCycle", "LEGW"]

SCHEDULES: dict[str, type["Schedule"]] = {}


def _register(name: str) -> Callable[[type["Schedule"]], type["Schedule"]]:
    def wrap(cls: type["Schedule"]) -> type["Schedule"]:
        cls.name = name
        SCHEDULES[name] = cls
        return cls

    return wrap


@dataclass(frozen=True)
class Schedule:
    """Base: ``lr(t)`` and, for schedules that cycle it, ``momentum(t)`` (``None`` leaves the optimizer's)."""

    lr_max: float
    total_steps: int
    batch_size: int = 1
    steps_per_epoch: int = 1
    name = ""

    def lr(self, t: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def momentum(self, t: int) -> float | None:
        return None

    def batch_scale(self, batch: int) -> float:
        """Factor on ``lr(t)`` for a step whose batch is ``batch`` instead of ``batch_size`` (a batch schedule, see
        :mod:`actlab.train._batch`): 1 unless the schedule has a batch-size rule."""
        return 1.0


def _cos_interp(a: float, b: float, frac: float) -> float:
    """Cosine ramp from a (frac=0) to b (frac=1)."""
    return b + (a - b) * (1 + math.cos(math.pi * min(max(frac, 0.0), 1.0))) / 2


@_register("constant")
@dataclass(frozen=True)
class Constant(Schedule):
    r""":math:`\eta_t = \eta`."""

    def lr(self, t: int) -> float:
        return self.lr_max


@_register("cosine")
@dataclass(frozen=True)
class Cosine(Schedule):
    r"""Cosine annealing without restarts (Loshchilov & Hutter 2017), after an optional linear warmup of :math:`W`
    steps: :math:`\eta_t = \eta (t+1)/W` for :math:`t < W`, then
    :math:`\eta_t = \eta_{min} + (\eta - \eta_{min})(1 + \cos(\pi (t - W)/(T - W)))/2`.

    Options: ``warmup`` (:math:`W`, steps, default 0), ``lr_min`` (default 0).
    """

    warmup: int = 0
    lr_min: float = 0.0

    def lr(self, t: int) -> float:
        if t < self.warmup:
            return self.lr_max * (t + 1) / self.warmup
        span = max(self.total_steps - self.warmup, 1)
        return _cos_interp(self.lr_max, self.lr_min, (t - self.warmup) / span)


@_register("one-cycle")
@dataclass(frozen=True)
class OneCycle(Schedule):
    r"""One-cycle policy for super-convergence (Smith & Topin 2017), in the form of PyTorch's ``OneCycleLR``.

    With the peak at step :math:`P = pT - 1`: for :math:`t \le P` the rate goes from :math:`\eta/d` up to
    :math:`\eta` by a cosine ramp, :math:`\eta_t = \cos\!\mathrm{ramp}(\eta/d \to \eta,\ t/P)`; afterwards it goes
    down to :math:`\eta/(d f)`, :math:`\eta_t = \cos\!\mathrm{ramp}(\eta \to \eta/(d f),\ (t-P)/(T-1-P))`, where
    :math:`\cos\!\mathrm{ramp}(a \to b, u) = b + (a-b)(1+\cos \pi u)/2`. Momentum (SGD's, or Adam's β₁) moves the
    opposite way between ``momentum_max`` and ``momentum_min``.

    Options: ``pct_start`` (:math:`p`, default 0.3), ``div_factor`` (:math:`d`, 25), ``final_div_factor``
    (:math:`f`, 1e4), ``momentum_min`` (0.85), ``momentum_max`` (0.95), ``cycle_momentum`` (True).
    """

    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    momentum_min: float = 0.85
    momentum_max: float = 0.95
    cycle_momentum: bool = True

    def _phase(self, t: int) -> tuple[bool, float]:
        rise = max(self.pct_start * self.total_steps - 1, 1.0)
        if t <= rise:
            return True, t / rise
        return False, (t - rise) / max(self.total_steps - 1 - rise, 1)

    def lr(self, t: int) -> float:
        start, end = self.lr_max / self.div_factor, self.lr_max / (self.div_factor * self.final_div_factor)
        up, u = self._phase(t)
        return _cos_interp(start, self.lr_max, u) if up else _cos_interp(self.lr_max, end, u)

    def momentum(self, t: int) -> float | None:
        if not self.cycle_momentum:
            return None
        up, u = self._phase(t)
        return (_cos_interp(self.momentum_max, self.momentum_min, u) if up
                else _cos_interp(self.momentum_min, self.momentum_max, u))


@_register("legw")
@dataclass(frozen=True)
class LEGW(Schedule):
    r"""Linear-epoch gradual warmup (You et al. 2019) for batch size :math:`B` relative to a tuned base :math:`B_0`.

    With :math:`k = B/B_0`: the peak rate is :math:`\eta\sqrt{k}` (square-root scaling) and the warmup lasts
    :math:`w_0 k` epochs, i.e. :math:`W = \lceil w_0 k E \rceil` steps (linear epoch scaling). The rate rises
    linearly, :math:`\eta_t = \eta\sqrt{k}\,(t+1)/W` for :math:`t < W`, then decays polynomially (power 2, as in the
    paper's experiments) to 0: :math:`\eta_t = \eta\sqrt{k}\,(1 - (t-W)/(T-W))^2`.

    Options: ``base_batch`` (:math:`B_0`, default 100), ``warmup_epochs`` (:math:`w_0` at :math:`B_0`, default 1),
    ``power`` (default 2).
    """

    base_batch: int = 100
    warmup_epochs: float = 1.0
    power: float = 2.0

    @property
    def peak(self) -> float:
        return self.lr_max * math.sqrt(self.batch_size / self.base_batch)

    @property
    def warmup_steps(self) -> int:
        w = math.ceil(self.warmup_epochs * (self.batch_size / self.base_batch) * self.steps_per_epoch)
        return min(max(w, 1), self.total_steps)

    def batch_scale(self, batch: int) -> float:
        """LEGW's square-root rule applied to the current batch: :math:`\\sqrt{B_t / B}`."""
        return math.sqrt(batch / self.batch_size)

    def lr(self, t: int) -> float:
        w = self.warmup_steps
        if t < w:
            return self.peak * (t + 1) / w
        return self.peak * max(1 - (t - w) / max(self.total_steps - w, 1), 0.0) ** self.power


def make_schedule(name: str, lr: float, total_steps: int, batch_size: int = 1, steps_per_epoch: int = 1,
                  **options: Any) -> Schedule:
    """Build ``SCHEDULES[name]``; unknown names or options raise an error naming the allowed ones."""
    if name not in SCHEDULES:
        close = difflib.get_close_matches(name, list(SCHEDULES), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown schedule {name!r}{hint} (known: {', '.join(SCHEDULES)})")
    cls = SCHEDULES[name]
    own = {f.name for f in dataclasses.fields(cls)} - {f.name for f in dataclasses.fields(Schedule)}
    bad = set(options) - own
    if bad:
        raise TypeError(f"schedule {name!r}: unknown option(s) {sorted(bad)}; allowed: {sorted(own) or 'none'}")
    if total_steps < 1 or lr <= 0:
        raise ValueError(f"schedule {name!r}: need total_steps >= 1 and lr > 0, got {total_steps} and {lr}")
    return cls(lr_max=lr, total_steps=total_steps, batch_size=batch_size, steps_per_epoch=steps_per_epoch, **options)
