"""The board as a person reads it: one short line per function, a few lines of notes, and the full pairwise grid
on demand. Plain text cells, so that the terminal (rich), Markdown, the HTML report and a notebook all show the same
board; only the layout differs.

The compact line answers, at 80 columns, the three questions a reader has: which function won, by how much against
the best baseline, and whether it holds. Everything else (Δ against every baseline, their intervals, the search
score) is in :func:`detail_grid`, ``--json`` and the HTML report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..train import Metric, PairedTest, few_seeds_warning, format_p, min_detectable_effect

if TYPE_CHECKING:
    from ._leaderboard import Board, Row

__all__ = ["BoardLine", "Grid", "board_lines", "board_notes", "board_warnings", "board_html", "board_title", "headers",
           "detail_grid", "grid_html", "shorten", "best_baseline", "holds_text",
           "value_text", "COLUMNS", "FUNCTION_WIDTH"]

#: The widest function name on the compact board; longer ones end in an ellipsis (the full text is in --json).
FUNCTION_WIDTH = 24
#: (attribute of BoardLine, column header); "{short}" is the metric's short name (acc, loss, bpb).
COLUMNS = (("rank", "#"), ("function", "function"), ("value", "test {short}±CI"), ("delta", "Δ {best} (p)"),
           ("beats", "beats"), ("holds", "holds"), ("cost", "ns/el"))


@dataclass(frozen=True)
class BoardLine:
    """One row of the compact board, as text cells."""

    rank: str
    function: str
    value: str
    delta: str
    beats: str
    holds: str
    cost: str
    kind: str           # "found" or "baseline" (baselines are shown dimmed)
    name: str           # the full function text

    def cells(self) -> list[str]:
        return [getattr(self, attr) for attr, _ in COLUMNS]


def shorten(text: str, width: int = FUNCTION_WIDTH) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _f(v: float | None, fmt: str) -> str:
    return "—" if v is None or not math.isfinite(v) else format(v, fmt)


def value_text(metric: Metric, m_ci: tuple[float, float], digits: int = 3) -> str:
    """``mean ± half-width``; where the t interval passes the metric's range (accuracy above 1 with two seeds), the
    clipped interval ``mean [lo, hi]`` instead, so that no bound the metric cannot reach is printed."""
    m, half = m_ci
    if not math.isfinite(m):
        return "—"
    if not math.isfinite(half):
        return f"{m:.{digits}f}"
    lo, hi = metric.clip(m - half, m + half)
    if (lo, hi) != (m - half, m + half):
        return f"{m:.{digits}f} [{lo:.2f},{hi:.2f}]"
    return f"{m:.{digits}f}±{half:.{digits}f}"


def best_baseline(board: "Board") -> "Row | None":
    """The best-ranked baseline with a measured test value (the board is sorted best first)."""
    return next((r for r in board.rows if r.kind == "baseline" and math.isfinite(r.test_ci[0])), None)


def _delta(t: PairedTest | None, alpha: float) -> str:
    if t is None or t.n == 0 or not math.isfinite(t.delta):
        return "—"
    star = "*" if t.beats(alpha) else ""
    return f"{t.delta:+.3f}{star} ({format_p(t.p_adjusted)})"


def holds_text(r: "Row") -> str:
    if r.kind != "found":
        return ""
    return {True: "yes", False: "no", None: "—"}[r.holds]


def board_lines(board: "Board") -> list[BoardLine]:
    """The compact board: rank, function, fresh-seed test value ± CI, Δ against the best baseline with its adjusted
    p (starred when it beats it), how many baselines it beats, whether it holds on the check task, kernel cost."""
    from ._leaderboard import board_metrics

    _, test_m = board_metrics(board.config)
    best = best_baseline(board)
    nb = len([r for r in board.rows if r.kind == "baseline"])
    out = []
    for r in board.rows:
        name = r.name + (f" (= {r.same_as})" if r.same_as else "")
        found = r.kind == "found"
        value = value_text(test_m, r.test_ci) + (f" ({r.failed} failed)" if r.failed else "")
        out.append(BoardLine(
            rank=str(r.rank), function=shorten(name), value=value,
            delta=_delta(r.vs.get(best.name), board.alpha) if found and best is not None else "",
            beats=f"{len(r.beats)}/{nb}" if found else "base", holds=holds_text(r), cost=_f(r.cost, ".2f"),
            kind=r.kind, name=name))
    return out


def headers(board: "Board") -> list[str]:
    """The compact board's column headers (the metric's short name, the best baseline's name)."""
    from ._leaderboard import board_metrics

    val_m, _ = board_metrics(board.config)
    best = best_baseline(board)
    short = val_m.name.split("_", 1)[1]
    return [h.format(short=short, best=f"vs {best.name}" if best else "") for _, h in COLUMNS]


def board_notes(board: "Board") -> list[str]:
    """At most three short lines under the board: what the value and Δ are, the seeds, the test and correction,
    the win and hold rules, and the smallest Δ the test can detect."""
    from ._leaderboard import board_metrics

    p = board.protocol
    val_m, test_m = board_metrics(board.config)
    found = [r for r in board.rows if r.kind == "found"]
    nb = len([r for r in board.rows if r.kind == "baseline"])
    sds = sorted(t.sd for r in found for t in r.vs.values() if math.isfinite(t.sd))
    sd = sds[len(sds) // 2] if sds else math.nan
    seeds = p["reeval_seeds"]
    mde = min_detectable_effect(len(seeds), sd, family=max(1, len(found) * nb), alpha=p["alpha"])
    mde_text = (f"> {test_m.span:g}" if mde > test_m.span else _f(mde, ".3f"))
    better = "higher" if val_m.sign > 0 else "lower"
    span = f"{seeds[0]}–{seeds[-1]}" if len(seeds) > 1 else ", ".join(map(str, seeds))
    short = test_m.name.split("_", 1)[1]
    lines = [f"test {short} ({better} is better): mean ± 95% CI over fresh seeds {span}.",
             f"Δ: paired t, Holm over {max(1, len(found) * nb)} pairs; *, beats: adj. p < {p['alpha']:g}; "
             f"80% power at Δ {mde_text}",
             (f"holds: beats on {p['check_task']} a baseline it beats here. " if p["check_task"] else "")
             + "ns/el: kernel fwd+bwd."]
    return lines


def board_warnings(board: "Board") -> list[str]:
    """What the reader must not miss: too few seeds, found functions that are a baseline, failed check runs."""
    out = []
    warn = few_seeds_warning(len(board.protocol["reeval_seeds"]))
    if warn:
        out.append(warn + " (--reeval-seeds)")
    for r in board.rows:
        if r.kind != "found":
            continue
        if r.same_as:
            out.append(f"#{r.rank} {shorten(r.name, 40)} is the baseline {r.same_as} (the same function at β = 1)")
        if r.check is not None and r.check.failed and not r.check.test:
            out.append(f"#{r.rank} {shorten(r.name, 40)}: all {r.check.failed} runs on {r.check.task} failed "
                       f"(diverged or timed out); it does not hold")
        if r.failed and not r.test:
            out.append(f"#{r.rank} {shorten(r.name, 40)}: all {r.failed} fresh-seed runs failed")
    return out


@dataclass(frozen=True)
class Grid:
    """The full pairwise table of one task: found functions × baselines, a Δ ± half-width and adjusted p per cell."""

    task: str
    baselines: list[str]
    rows: list[tuple[str, list[str]]]   # (function, one cell per baseline)


def _cell(t: PairedTest | None, alpha: float) -> str:
    if t is None or t.n == 0 or not math.isfinite(t.delta):
        return "—"
    ci = f"[{t.ci_low:+.4f}, {t.ci_high:+.4f}]" if math.isfinite(t.ci_low) else "[—]"
    return f"{t.delta:+.4f}{'*' if t.beats(alpha) else ''} p={format_p(t.p_adjusted)}\n{ci}"


def detail_grid(board: "Board", check: bool = False) -> Grid | None:
    """Every found function against every baseline on the main task (or the check task): Δ, its 95% t interval and
    the Holm-adjusted p; None when there is nothing to show (no check task)."""
    base = [r.name for r in board.rows if r.kind == "baseline"]
    found = [r for r in board.rows if r.kind == "found"]
    task = board.config.get("check_task") if check else board.config.get("task")
    if check and not any(r.check is not None for r in found):
        return None
    rows: list[tuple[str, list[str]]] = []
    for r in found:
        vs: dict[str, Any] = (r.check.vs if r.check is not None else {}) if check else r.vs
        rows.append((f"#{r.rank} {r.name}", [_cell(vs.get(b), board.alpha) for b in base]))
    return Grid(str(task), base, rows)


def board_html(board: "Board") -> str:
    """The compact board as an HTML table (notebooks and the HTML report): the same cells as the terminal, the full
    function text in each name cell (nothing is shortened in HTML), the notes and warnings under it."""
    import html

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers(board))
    body = []
    for line in board_lines(board):
        cells = line.cells()
        cells[1] = line.name
        style = ' class="baseline"' if line.kind == "baseline" else ""
        body.append(f"<tr{style}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in board_notes(board))
    warns = "".join(f'<p class="warning">⚠ {html.escape(w)}</p>' for w in board_warnings(board))
    title = html.escape(board_title(board))
    return (f'<table class="actlab-table actlab-board"><caption>{title}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>{notes}{warns}")


def grid_html(grid: Grid) -> str:
    """:func:`detail_grid` as an HTML table."""
    import html

    head = "<th>function</th>" + "".join(f"<th>vs {html.escape(b)}</th>" for b in grid.baselines)
    body = "".join("<tr>" + f"<td>{html.escape(name)}</td>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                   + "</tr>" for name, cells in grid.rows)
    return (f'<table class="actlab-table"><caption>Every pair on {html.escape(grid.task)}: Δ [95% t-CI] and Holm '
            f"p</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def board_title(board: "Board") -> str:
    """One line naming the study, task, fidelity and the number of fresh seeds."""
    cfg = board.config
    steps = cfg.get("steps") or "the task's"
    return (f"Hall of fame — {board.study}: {cfg.get('task')}, {steps} steps, "
            f"{len(board.protocol['reeval_seeds'])} fresh seeds")
