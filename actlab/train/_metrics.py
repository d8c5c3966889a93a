"""The one table of result metrics: each with its direction, so that a lower-is-better loss cannot be ranked as an
accuracy by mistake.

Every consumer (``evaluate``/``compare``, their paired statistics, ``actlab bench accuracy``) reads a metric's
value and direction from here. A run's test metric falls back to its validation value when the run was pruned
(no test evaluation), as the protocol always did for accuracy. A diverged run carries the chance values the trainer
gives it (1 / classes accuracy, log(classes) loss), so it ranks at chance in either direction.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # the trainer reads the metrics (what to report for pruning): no import cycle at run time
    from ._trainer import RunResult

__all__ = ["Metric", "METRICS", "get_metric"]


@dataclass(frozen=True)
class Metric:
    """One metric: its name, direction, the :class:`RunResult` field it reads (and the validation field it falls
    back to), a scale applied to that field, and a description for tables."""

    name: str
    direction: Literal["max", "min"]
    field: str
    fallback: str
    scale: float = 1.0
    description: str = ""
    lower: float = 0.0             # the range a value can take: intervals are clipped to it (a t interval is not)
    upper: float = math.inf

    @property
    def sign(self) -> int:
        """+1 where higher is better, −1 where lower is: ``sign * (a − b) > 0`` means a is better."""
        return 1 if self.direction == "max" else -1

    @property
    def optuna_direction(self) -> str:
        return "maximize" if self.direction == "max" else "minimize"

    def value(self, r: "RunResult | Any") -> float:
        """The metric of one run: a :class:`RunResult` or any record with the same fields (the search's
        ``SeedResult``); NaN where neither the field nor its fallback was measured."""
        v = getattr(r, self.field, None)
        if v is None:
            v = getattr(r, self.fallback, None)
        return math.nan if v is None else float(v) * self.scale

    def clip(self, lo: float, hi: float) -> tuple[float, float]:
        """An interval of this metric clipped to its range (a mean of accuracies near 1 has a t interval past 1)."""
        return max(lo, self.lower), min(hi, self.upper)

    def clip_delta(self, lo: float, hi: float) -> tuple[float, float]:
        """An interval of a difference of two values clipped to ± the metric's span."""
        span = self.upper - self.lower
        return max(lo, -span), min(hi, span)

    @property
    def span(self) -> float:
        """The largest possible difference of two values (inf for a loss)."""
        return self.upper - self.lower

    @property
    def worst(self) -> float:
        """The value a failed run counts as when it must be ranked: the bottom of the range (0 accuracy, an infinite
        loss)."""
        return self.lower if self.direction == "max" else self.upper

    @property
    def test_twin(self) -> "Metric":
        """The test split's metric of a validation metric (``val_loss`` -> ``test_loss``); a test metric itself."""
        return METRICS[self.name.replace("val_", "test_", 1)]

    def better(self, a: float, b: float) -> bool:
        """Whether value ``a`` is strictly better than ``b``."""
        return self.sign * (a - b) > 0


_BITS = 1.0 / math.log(2.0)

#: Accuracies are per example (per token for sequence models); losses are mean cross-entropy per prediction in nats;
#: bits per byte is the loss in bits, per byte for byte-level language models (per character for character-level).
METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("test_acc", "max", "test_acc", "val_acc", description="test accuracy", upper=1.0),
    Metric("val_acc", "max", "val_acc", "val_acc", description="validation accuracy", upper=1.0),
    Metric("test_loss", "min", "test_loss", "val_loss", description="test cross-entropy (nats)"),
    Metric("val_loss", "min", "val_loss", "val_loss", description="validation cross-entropy (nats)"),
    Metric("test_bpb", "min", "test_loss", "val_loss", _BITS, "test bits per byte"),
    Metric("val_bpb", "min", "val_loss", "val_loss", _BITS, "validation bits per byte"),
]}


def get_metric(metric: str | Metric) -> Metric:
    """A :class:`Metric` by name (one-line error naming the known ones), or the Metric itself."""
    if isinstance(metric, Metric):
        return metric
    m = METRICS.get(str(metric).strip().lower())
    if m is None:
        close = difflib.get_close_matches(str(metric), list(METRICS), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"unknown metric {metric!r}{hint} (known: {', '.join(METRICS)})")
    return m
