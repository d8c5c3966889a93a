"""Search reports: the hall-of-fame table, the Pareto front, and the search plots (`actlab show STUDY`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .plots import new_figure, plot_functions, save

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["board_table", "board_caption", "detail_tables", "pareto_table", "board_markdown", "print_board",
           "final_stage_notice", "plot_search", "plot_progress", "plot_cost", "plot_robustness", "plot_top_functions",
           "study_and_board", "show"]


def _f(v: float | None, fmt: str = ".4f") -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def _metric(board: Any) -> tuple[str, str, int]:
    """(validation metric name, its short label, direction sign) of a board (accuracy unless --metric said), from
    the one metric table."""
    from actlab.train import get_metric

    m = get_metric(str(board.config.get("metric") or "val_acc"))
    return m.name, m.name.split("_", 1)[1], m.sign


def board_caption(board: Any) -> str:
    """The notes under the board (at most three short lines), as one paragraph."""
    from actlab.search.board_view import board_notes

    return " ".join(board_notes(board))


def board_table(board: Any, title: bool = True) -> Any:
    """The compact leaderboard as a rich Table: one line per function at 80 columns (found functions and baselines,
    ranked by the fresh-seed test metric); the notes go under it (:func:`print_board`)."""
    from rich import box
    from rich.table import Table

    from actlab.search.board_view import board_lines, board_title, headers

    # no vertical rules and one space between columns: seven columns and a 24-character name fit in 80
    t = Table(title=board_title(board) if title else None, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False,
              collapse_padding=True,
              title_justify="left", show_edge=False)
    for i, h in enumerate(headers(board)):
        t.add_column(h, no_wrap=i != 1, overflow="ellipsis", justify="right" if i in (0, 6) else "left")
    for line in board_lines(board):
        t.add_row(*line.cells(), style="dim" if line.kind == "baseline" else None)
    return t


def detail_tables(board: Any) -> list[Any]:
    """``actlab show --detail``: every found function × every baseline, on the main task and the check task."""
    from rich.table import Table

    from actlab.search.board_view import detail_grid

    out = []
    for check in (False, True):
        grid = detail_grid(board, check=check)
        if grid is None or not grid.rows:
            continue
        t = Table(title=f"Every pair on {grid.task}: Δ* [95% t-CI] p (Holm); * beats", title_justify="left")
        t.add_column("function", overflow="fold")
        for b in grid.baselines:
            t.add_column(f"vs {b}", overflow="fold")
        for name, cells in grid.rows:
            t.add_row(name, *cells)
        out.append(t)
    return out


def pareto_table(board: Any) -> Any:
    """The Pareto front of the study's objectives as a rich Table (multi-objective studies)."""
    from rich.table import Table

    objs = str(board.config.get("objective", "accuracy,speed")).split(",")
    axes = {"speed": "fused-kernel cost", "robustness": "adversarial accuracy"}
    title = " vs ".join(["accuracy"] + [axes.get(o, o) for o in objs[1:]])
    t = Table(title=f"Pareto front — {title} ({len(board.pareto)} functions)")
    cols = ["trial", "activation", "val acc"] + (["adv val acc"] if "robustness" in objs else []) + [
        "cost ns/el", "smoothness"]
    for c in cols:
        t.add_column(c, overflow="fold")
    for r in board.pareto:
        adv = [_f(r.adv_score)] if "robustness" in objs else []
        t.add_row(str(r.trial), r.name, _f(r.val_median), *adv, _f(r.cost, ".2f"), r.smoothness or "—")
    return t


def board_markdown(board: Any) -> str:
    """The compact leaderboard as a Markdown table with its notes (for RESULTS.md)."""
    from actlab.search.board_view import board_lines, board_notes, board_warnings, headers

    cols = headers(board)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for line in board_lines(board):
        cells = [c.replace("|", "\\|") for c in line.cells()]
        cells[1] = f"`{line.name}`" if line.kind == "found" else line.name
        lines.append("| " + " | ".join(cells) + " |")
    notes = board_notes(board) + [f"Warning: {w}." for w in board_warnings(board)]
    return "\n".join(lines + [""] + notes)


def print_board(board: Any, console: Any = None, detail: bool = False) -> None:
    """Print the trial counts, the compact leaderboard with its notes and warnings, the Pareto front if any, and
    (``detail``) the full pairwise grids."""
    from rich.console import Console

    from actlab.search.board_view import board_notes, board_title, board_warnings

    console = console or Console()
    counts = ", ".join(f"{v} {k}" for k, v in sorted(board.counts.items()))
    console.print(f"study {board.study}: {counts}", highlight=False)
    console.print(board_title(board), style="italic", highlight=False, markup=False)  # wraps at the console width
    console.print(board_table(board, title=False))
    for line in board_notes(board):
        console.print(line, style="dim", highlight=False, markup=False)
    for line in board_warnings(board):
        console.print(f"warning: {line}", style="yellow", highlight=False, markup=False)
    if board.pareto:
        console.print(pareto_table(board))
    if detail:
        for t in detail_tables(board):
            console.print(t)
    for line in final_stage_notice(board):
        console.print(line, style="yellow", soft_wrap=True, highlight=False, markup=False)


def final_stage_notice(board: Any) -> list[str]:
    """Lines saying that the final stage is missing or incomplete, with the command that finishes it."""
    if board.has_final and board.baselines_done:
        return []
    what = ("this study has no final stage yet (no fresh-seed re-evaluation, no tests)" if not board.has_final
            else "the final stage is incomplete")
    return [f"{what}; finish it with:", board.finish_command()]


def plot_progress(study: Any, board: Any, out: str | Path | None = None) -> "Figure":
    """The validation metric of every evaluated candidate in order, the best so far, and the baselines' levels."""
    from actlab.search import evaluated

    _, short, sign = _metric(board)
    trials = sorted(evaluated(study), key=lambda t: t.number)
    done = [(i, t) for i, t in enumerate(trials) if t.values]
    fig = new_figure(figsize=(7, 4))
    ax = fig.subplots()
    if done:
        xs = [i for i, _ in done]
        ys = [t.values[0] for _, t in done]
        ax.scatter(xs, ys, s=10, alpha=0.5, label=f"candidate (val {short})")
        best, run = -math.inf * sign, []
        for y in ys:
            best = max(best, y) if sign > 0 else min(best, y)
            run.append(best)
        ax.step(xs, run, where="post", color="C3", label="best so far")
    fails = [i for i, t in enumerate(trials) if not t.values]
    if fails:
        lo = (min if sign > 0 else max)((t.values[0] for _, t in done), default=0.0)
        ax.scatter(fails, [lo] * len(fails), marker="x", color="0.5", s=12, label="pruned / failed")
    for r in board.rows:
        if r.kind == "baseline" and math.isfinite(r.val_median):
            ax.axhline(r.val_median, linestyle=":", linewidth=0.8, color="0.4")
            ax.annotate(r.name, (0, r.val_median), fontsize=7, color="0.3")
    ax.set_xlabel("evaluated candidate #")
    ax.set_ylabel(f"validation {short}")
    ax.set_title(f"search progress — {study.study_name}")
    if done or fails:
        ax.legend(fontsize=8)
    return save(fig, out, dpi=110)


def plot_cost(study: Any, board: Any, out: str | Path | None = None) -> "Figure":
    """Validation accuracy against fused-kernel cost for every candidate, the Pareto front and the baselines."""
    from actlab.search import evaluated

    _, short, sign = _metric(board)
    done = [t for t in evaluated(study) if t.values]
    fig = new_figure(figsize=(7, 4))
    ax = fig.subplots()
    pts = [(t.user_attrs["cost"], t.values[0]) for t in done if t.user_attrs.get("cost") is not None]
    if pts:
        costs, accs = zip(*pts, strict=True)
        ax.scatter(costs, accs, s=12, alpha=0.5, label="candidates")
        best, pf = -math.inf, []
        for c, a in sorted(pts):
            if sign * a > best:
                pf.append((c, a))
                best = sign * a
        front_costs, front_accs = zip(*pf, strict=True)
        ax.step(front_costs, front_accs, where="post", color="C3", label="Pareto front")
    # the board's rows on top: found functions by rank (#1, #2, ...; the names are in the table), baselines by name;
    # labels are offset alternately above and below so that neighbours at similar cost do not overprint
    shown = sorted((r for r in board.rows if r.cost is not None and math.isfinite(r.val_median)),
                   key=lambda r: r.cost)
    for i, r in enumerate(shown):
        found = r.kind == "found"
        ax.scatter([r.cost], [r.val_median], marker="o" if found else "*", s=50 if found else 80,
                   color="C3" if found else "k", zorder=3,
                   label=("found (board rank)" if found else "baselines") if not any(
                       (q.kind == r.kind) for q in shown[:i]) else None)
        ax.annotate(f"#{r.rank}" if found else r.name, (r.cost, r.val_median), fontsize=7,
                    textcoords="offset points", xytext=(4, 6 if i % 2 == 0 else -10),
                    color="C3" if found else "0.2")
    if pts or any(r.cost for r in board.rows):
        ax.set_xscale("log")
    ax.set_xlabel("fused forward+backward cost (ns/element, log)")
    ax.set_ylabel(f"validation {short}")
    ax.set_title(f"{short} vs cost")
    if pts or shown:
        ax.legend(fontsize=8)
    return save(fig, out, dpi=110)


def plot_robustness(study: Any, board: Any, out: str | Path | None = None) -> "Figure | None":
    """Clean against adversarial validation accuracy for every candidate of a robustness study, its Pareto front
    (both maximised) and the baselines on fresh seeds; None for a study without the robustness objective."""
    from actlab.search import Attr, evaluated

    pts = [(t.values[0], t.user_attrs[Attr.ADV_ACC]) for t in evaluated(study)
           if t.values and t.user_attrs.get(Attr.ADV_ACC) is not None]
    bases = [r for r in board.rows if r.kind == "baseline" and r.adv]
    if not pts and not bases:
        return None
    fig = new_figure(figsize=(7, 4))
    ax = fig.subplots()
    if pts:
        clean, adv = zip(*pts, strict=True)
        ax.scatter(clean, adv, s=12, alpha=0.5, label="candidates (search seeds)")
        best, front = -math.inf, []
        for c, a in sorted(pts, reverse=True):  # by clean accuracy, best first: the front keeps each new best adv
            if a > best:
                front.append((c, a))
                best = a
        ax.step(*zip(*sorted(front), strict=True), where="pre", color="C3", label="Pareto front")
    for r in bases:
        ax.scatter([r.fresh_val], [r.fresh_adv], marker="*", s=80, color="k")
        ax.annotate(r.name, (r.fresh_val, r.fresh_adv), fontsize=8)
    ax.set_xlabel("clean validation accuracy")
    ax.set_ylabel("adversarial validation accuracy")
    ax.set_title("clean vs adversarial accuracy (baselines: fresh seeds)")
    if pts:
        ax.legend(fontsize=8)
    return save(fig, out, dpi=110)


def plot_top_functions(board: Any, k: int = 5, out: str | Path | None = None) -> "Figure | None":
    """f, f′ and f″ of the top-``k`` found functions and the best baseline (None if the board has neither)."""
    fns = _top_functions(board, k)
    return plot_functions(fns, out) if fns else None


def plot_search(study: Any, board: Any, out_dir: str | Path | None = None) -> dict[str, "Figure"]:
    """The search figures by name (progress, accuracy_vs_cost, clean_vs_adversarial for robustness studies,
    top_functions); ``out_dir`` also writes NAME.png."""
    figs: dict[str, Any] = {"progress": plot_progress(study, board), "accuracy_vs_cost": plot_cost(study, board)}
    robust = plot_robustness(study, board)
    if robust is not None:
        figs["clean_vs_adversarial"] = robust
    top = plot_top_functions(board)
    if top is not None:
        figs["top_functions"] = top
    if out_dir is not None:
        for name, fig in figs.items():
            save(fig, Path(out_dir) / f"{name}.png", dpi=110)
    return figs


def _top_functions(board: Any, k: int = 5) -> dict[str, Any]:
    from actlab.activations import get
    from actlab.expr import parse

    fns: dict[str, Any] = {}
    for r in [r for r in board.rows if r.kind == "found"][:k]:
        try:
            fns[f"#{r.rank} {r.name}"] = parse(r.name)
        except Exception:  # noqa: BLE001 - a plot must not fail on one odd row
            continue
    best_base = next((r for r in board.rows if r.kind == "baseline"), None)
    if best_base is not None:
        try:
            fns[f"#{best_base.rank} {best_base.name} (best baseline)"] = get(best_base.name)
        except Exception:  # noqa: BLE001
            pass
    return fns


def study_and_board(study: str, storage: str | None = None, runs_dir: str = "runs") -> tuple[Any, Any]:
    """``(optuna study, leaderboard)`` of a stored study; a clear error if its database does not exist."""
    from actlab.search import leaderboard, open_stored

    st = open_stored(study, storage, runs_dir)
    return st, leaderboard(st)


def show(study: str, storage: str | None = None, out_dir: str | Path | None = None, runs_dir: str = "runs",
         console: Any = None, detail: bool = False) -> list[Path]:
    """``actlab show STUDY``: print the leaderboard and Pareto front (``detail``: and every pair), write the plots;
    returns their paths."""
    st, board = study_and_board(study, storage, runs_dir)
    print_board(board, console, detail=detail)
    out = Path(out_dir or Path(runs_dir) / f"{study}-plots")
    return [out / f"{name}.png" for name in plot_search(st, board, out)]
