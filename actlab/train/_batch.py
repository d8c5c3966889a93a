"""The one registry of batch-size schedules, beside the learning-rate schedules of :mod:`._schedules`.

Notation: step :math:`t = 0 .. T-1`, :math:`T` = total steps, :math:`B` = the task's ``batch_size`` (the base batch,
the one its learning rate was tuned for). Each entry documents its curve :math:`B_t`; the tests check the curves.

**With the learning-rate schedule.** The learning rate of step :math:`t` is ``lr_schedule.lr(t) *
lr_schedule.batch_scale(B_t)``. Only LEGW rescales: it applies its square-root rule to the current batch,
:math:`\\eta_t \\sqrt{B_t / B}` (its peak is already :math:`\\eta\\sqrt{B/B_0}`, so the product is
:math:`\\eta\\sqrt{B_t/B_0}` times its warmup/decay shape). Every other schedule keeps the rate of its formula, as the
cyclical-batch paper does: it changes the gradient noise (temperature :math:`\\propto \\eta / B_t`) through the batch
alone. A constant batch gives a scale of exactly 1, so constant-batch runs are bit-identical to the trainer without
batch schedules.

**Data order.** The trainer draws each step's :math:`B_t` examples from one seeded permutation per epoch and starts a
new epoch when fewer than :math:`B_t` remain, so the same seed and schedule give the same batches whatever the
activation (common random numbers).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["BatchSchedule", "BATCH_SCHEDULES", "make_batch_schedule", "ConstantBatch", "CyclicalBatch",
           "WarmupBatch"]

BATCH_SCHEDULES: dict[str, type["BatchSchedule"]] = {}


def _register(name: str) -> Callable[[type["BatchSchedule"]], type["BatchSchedule"]]:
    def wrap(cls: type["BatchSchedule"]) -> type["BatchSchedule"]:
        cls.name = name   # a class attribute, not a dataclass field
        BATCH_SCHEDULES[name] = cls
        return cls

    return wrap


@dataclass(frozen=True)
class BatchSchedule:
    """Base: ``size(t)``, the number of examples in the batch of update ``t`` (always >= 1)."""

    batch_size: int
    total_steps: int
    name = ""

    def size(self, t: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def sizes(self) -> list[int]:
        """The whole curve :math:`B_0 .. B_{T-1}`."""
        return [self.size(t) for t in range(self.total_steps)]

    def check(self) -> None:
        """Raise on options that make no schedule (called once by :func:`make_batch_schedule`)."""


@_register("constant")
@dataclass(frozen=True)
class ConstantBatch(BatchSchedule):
    r""":math:`B_t = B`."""

    def size(self, t: int) -> int:
        return self.batch_size


@_register("cyclical")
@dataclass(frozen=True)
class CyclicalBatch(BatchSchedule):
    r"""Cyclical batch size (Mu, Yao, Gholami, Keutzer & Mahoney 2018, arXiv 1812.01216): "weight re-initialisation
    by repeated annealing and injection of noise". Each of :math:`C` cycles of :math:`L = \lceil T/C \rceil` steps
    anneals the SGD noise by growing the batch geometrically through :math:`K` equal stages, then injects noise by
    dropping back to :math:`B` at the start of the next cycle:
    :math:`B_t = \mathrm{round}(B f^{k})` with :math:`k = \lfloor K (t \bmod L) / L \rfloor`.

    Options: ``cycles`` (:math:`C`, default 2), ``levels`` (:math:`K`, default 3), ``factor`` (:math:`f`,
    default 2). With the defaults and :math:`B` = 100 each cycle runs 100, 200, 400.
    """

    cycles: int = 2
    levels: int = 3
    factor: float = 2.0

    def check(self) -> None:
        if self.cycles < 1 or self.levels < 1 or not self.factor >= 1:
            raise ValueError(f"batch schedule 'cyclical': need cycles >= 1, levels >= 1 and factor >= 1, got "
                             f"{self.cycles}, {self.levels} and {self.factor}")

    def size(self, t: int) -> int:
        length = math.ceil(self.total_steps / self.cycles)
        k = (self.levels * (t % length)) // length
        return max(1, round(self.batch_size * self.factor ** k))


@_register("warmup")
@dataclass(frozen=True)
class WarmupBatch(BatchSchedule):
    r"""Batch-size warm-up: a linear ramp from :math:`B_s` to :math:`B` over the first :math:`W` steps, then
    :math:`B`: :math:`B_t = \mathrm{round}(B_s + (B - B_s)\,t / W)` for :math:`t < W`, else :math:`B`. Small early
    batches give many cheap noisy updates while the weights are far from any minimum.

    Options: ``start`` (:math:`B_s`, default :math:`\max(1, B/4)`), ``warmup`` (:math:`W`, steps, default
    :math:`T/10`).
    """

    start: int = 0      # 0: B/4
    warmup: int = -1    # -1: T/10

    @property
    def start_size(self) -> int:
        return self.start if self.start > 0 else max(1, self.batch_size // 4)

    @property
    def warmup_steps(self) -> int:
        return self.warmup if self.warmup >= 0 else self.total_steps // 10

    def check(self) -> None:
        if self.start < 0:
            raise ValueError(f"batch schedule 'warmup': start must be >= 1 (or 0 for B/4), got {self.start}")

    def size(self, t: int) -> int:
        w = self.warmup_steps
        if t >= w:
            return self.batch_size
        return max(1, round(self.start_size + (self.batch_size - self.start_size) * t / w))


def make_batch_schedule(name: str, batch_size: int, total_steps: int, n_train: int | None = None,
                        **options: Any) -> BatchSchedule:
    """Build ``BATCH_SCHEDULES[name]``. Unknown names or options, bad values, or a schedule whose largest batch
    exceeds ``n_train`` (the training-set size, when given) raise a one-line error."""
    if name not in BATCH_SCHEDULES:
        close = difflib.get_close_matches(name, list(BATCH_SCHEDULES), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown batch schedule {name!r}{hint} (known: {', '.join(BATCH_SCHEDULES)})")
    cls = BATCH_SCHEDULES[name]
    own = {f.name for f in dataclasses.fields(cls)} - {f.name for f in dataclasses.fields(BatchSchedule)}
    bad = set(options) - own
    if bad:
        raise TypeError(f"batch schedule {name!r}: unknown option(s) {sorted(bad)}; allowed: {sorted(own) or 'none'}")
    if total_steps < 1 or batch_size < 1:
        raise ValueError(f"batch schedule {name!r}: need total_steps >= 1 and batch_size >= 1, got {total_steps} "
                         f"and {batch_size}")
    sched = cls(batch_size=int(batch_size), total_steps=int(total_steps), **options)
    sched.check()
    if n_train is not None:
        largest = max(sched.sizes())
        if largest > n_train:
            raise ValueError(f"batch schedule {name!r} reaches a batch of {largest}, larger than the {n_train} "
                             f"training examples")
    return sched
