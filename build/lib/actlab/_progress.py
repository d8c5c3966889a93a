"""Progress of a long loop that reads well on a terminal and in a log.

A leaf module (it imports only rich), so every layer may use it: ``search`` and ``cli`` both do, and neither
imports the other.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import Progress, ProgressColumn, TaskID

__all__ = ["UnitProgress"]


class UnitProgress:
    """rich's live bar on a terminal; elsewhere one plain line per finished unit.

    When stdout is not a terminal (CI logs, ``| tee``) a rich live display prints nothing until it stops, so a
    long run would look hung; there each :meth:`update` with a ``line`` prints ``[done/total] line`` at once.

    Args:
        columns: the rich columns of the live bar.
        console: where both go. Default: a new stdout :class:`rich.console.Console`.

    Example:
        >>> with UnitProgress(TextColumn("{task.description}"), BarColumn()) as p:
        ...     job = p.add_task("training", total=3)
        ...     p.update(job, advance=1, line="relu seed 0: val 0.912 (4.1 s)")
    """

    def __init__(self, *columns: str | ProgressColumn, console: Console | None = None) -> None:
        self.console = console or Console()
        self.live = self.console.is_terminal
        self.bar = Progress(*columns, console=self.console)

    def __enter__(self) -> UnitProgress:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        if self.live:
            self.bar.start()

    def stop(self) -> None:
        self.bar.stop()  # a no-op when it never started

    def add_task(self, description: str, total: float | None, unit: str = "", **fields: Any) -> TaskID:
        """A new bar; ``unit`` follows the count in plain lines (e.g. ``" s"`` for a time budget)."""
        return self.bar.add_task(description, total=total, unit=unit, **fields)

    def task(self, task: TaskID) -> Any:
        """The rich ``Task`` (completed, total, fields)."""
        return next(t for t in self.bar.tasks if t.id == task)

    def update(self, task: TaskID, line: str = "", **kwargs: Any) -> None:
        """``Progress.update(task, **kwargs)``; off a terminal, also print ``line`` if given."""
        self.bar.update(task, **kwargs)
        if line and not self.live:
            t = self.task(task)
            count = f"{t.completed:.0f}/{t.total:.0f}" if t.total is not None else f"{t.completed:.0f}"
            # markup off: expressions and names are data, not rich markup; soft_wrap: one log line per unit
            self.console.print(f"[{count}{t.fields.get('unit', '')}] {line}", markup=False, highlight=False,
                               soft_wrap=True)
