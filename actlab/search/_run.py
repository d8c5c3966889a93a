"""``run_search``: the search phase, then the fidelity stage, then the leaderboard; and the live progress bar."""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Iterable

from ._config import SearchConfig
from ._engine import Driver, SearchResult
from ._executors import make_executor
from ._final import run_final
from ._leaderboard import leaderboard
from ._space import SearchSpace

__all__ = ["run_search", "make_space", "RichProgress"]


def make_space(cfg: SearchConfig, exclude: Iterable[str] = ()) -> SearchSpace:
    """The real expression space of ``cfg.space`` units (imports actlab.expr), without the identities ``exclude``."""
    from ._exprspace import ExprSpace

    return ExprSpace(cfg.units, cache_dir=cfg.runs_dir, exclude=exclude, gated=cfg.gated)


def run_search(cfg: SearchConfig | None = None, space: SearchSpace | None = None, final: bool = True,
               on_event: Callable[[str, dict[str, Any]], None] | None = None,
               progress: bool | None = None) -> SearchResult:
    """Run (or resume) a search and its final leaderboard; returns a :class:`SearchResult` with ``board`` set.

    Progress: ``on_event(kind, info)`` receives the driver's events (``"start"``, ``"trial"`` with its value or
    failure reason, ``"stop"``, ``"final"``, ``"final-trial"``). Without it, ``progress`` (default: on) shows them
    as ``actlab search`` does, a live bar on a terminal and one line per trial elsewhere, so that a script's
    failed or diverged trials are never silent; ``progress=False`` runs quietly.

    Example:
        >>> from actlab.search import SearchConfig, run_search
        >>> res = run_search(SearchConfig(task="mnist1d-cnn", strategy="evolution", budget="5m"))
        >>> res.board.rows[0].name
    """
    cfg = cfg or SearchConfig()
    space = space or make_space(cfg)
    shown = RichProgress() if on_event is None and progress is not False else None
    on_event = on_event or shown
    try:
        driver = Driver(cfg, space, on_event)
        with make_executor(cfg.workers, cfg.ray_address, cfg.device, cfg.members) as executor:
            result = driver.run(executor)
            if final:
                run_final(cfg, driver.study, driver.url, executor, on_event)
    finally:
        if shown is not None:
            shown.close()
    result.board = leaderboard(driver.study)
    return result


class RichProgress:
    """The search's progress, fed by the driver's events: a live bar with the best accuracy so far on a terminal,
    one line per finished trial elsewhere (see :class:`actlab._progress.UnitProgress`)."""

    def __init__(self, console: Any = None) -> None:
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

        from actlab._progress import UnitProgress

        self.progress = UnitProgress(TextColumn("[bold]{task.description}"), BarColumn(),
                                     TextColumn("{task.completed:.0f}/{task.total:.0f}"), TimeElapsedColumn(),
                                     TextColumn("{task.fields[best]}"), console=console)
        self.console = self.progress.console
        self.task: Any = None
        self.best = -math.inf           # in the search's direction: sign × value
        self.sign = 1
        self.best_expr = ""
        self.t0 = time.monotonic()
        self.by_time: float | None = None

    def __call__(self, kind: str, info: dict[str, Any]) -> None:
        p = self.progress
        if kind == "start":
            self.sign = int(info.get("sign", 1))
            if info.get("best") is not None:  # resumed: the best so far includes the trials before the interruption
                self.best, self.best_expr = self.sign * info["best"], str(info.get("best_expression") or "")
            p.start()
            k = info.get("population", 1)
            self.console.print(f"study [bold]{info['study']}[/] in {info['storage']} — {info['done']} trials done"
                               f"{', re-queued ' + str(info['requeued']) if info['requeued'] else ''};"
                               f" {info['slots']} workers{f', populations of {k}' if k != 1 else ''}")
            self.by_time = info["max_seconds"]
            total = info["max_trials"] if info["max_trials"] is not None else info["max_seconds"]
            self.task = p.add_task("search", total=total, completed=0 if self.by_time else info["done"],
                                   unit=" s" if self.by_time else "", best="")
        elif kind == "trial":
            v = info.get("value")
            if v is not None and self.sign * v > self.best:
                self.best, self.best_expr = self.sign * v, info["expression"]
            best = f"best {self.sign * self.best:.4f}  {self.best_expr}" if self.best > -math.inf else ""
            done = info["elapsed"] if self.by_time else info["done"]
            state = info.get("state", "COMPLETE")
            outcome = (f"val {v:.4f}" if v is not None else "no value") if state == "COMPLETE" else state.lower()
            reason = f" ({info['reason']})" if info.get("reason") else ""
            p.update(self.task, completed=min(done, p.task(self.task).total or done), best=best,
                     line=f"trial {info['number']} {info['expression']}: {outcome}{reason}; {best or 'no best yet'}")
        elif kind == "stop":
            if self.task is not None:
                p.update(self.task, completed=p.task(self.task).total)
            self.console.print(f"search stopped: {info['reason']} ({info['done']} evaluated)")
        elif kind == "final":
            if info["total"]:
                self.task = p.add_task("leaderboard", total=info["total"], best="re-evaluating top-k, baselines")
        elif kind == "final-trial":
            v = info.get("value")
            p.update(self.task, advance=1, line=f"leaderboard {info['act']} on {info['task']}: "
                                                 f"{'failed' if v is None else f'{v:.4f}'}")

    def close(self) -> None:
        self.progress.stop()
