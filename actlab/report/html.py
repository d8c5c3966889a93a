"""``actlab report STUDY --html FILE``: one self-contained HTML page of a search (no network, no scripts).

The page has the protocol, the leaderboard as the terminal shows it (one row per function, then every pair), the
generalization check, the Pareto front, the search progress, and f, f′ and f″ of the top functions. Figures are
inline SVG (matplotlib draws glyphs as paths, so no font is fetched). The leaderboard's cells come from
:mod:`actlab.search.board_view`, the same text as the terminal board, so the two cannot disagree.
"""

from __future__ import annotations

import html
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._tabular import cell_text, html_table
from ..search.board_view import board_html, detail_grid, grid_html, holds_text, shorten, value_text
from .search import study_and_board, plot_cost, plot_progress, plot_top_functions

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["render_html", "write_html", "figure_svg"]

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1200px;color:#222;
padding:0 1em;background:#fff}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table.actlab-table{border-collapse:collapse;font-size:.85em;margin:.6em 0;display:block;overflow-x:auto}
.actlab-table th,.actlab-table td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
.actlab-table th{background:#f3f5f8}.actlab-table caption{text-align:left;font-weight:600;padding:.3em 0}
.note{color:#666;font-size:.9em;margin:.2em 0}.warning{color:#a15c00;margin:.2em 0}
tr.baseline{color:#777}figure{margin:.8em 0}svg{max-width:100%;height:auto}
"""


def figure_svg(fig: "Figure") -> str:
    """The figure as an inline ``<svg>`` element (without the XML prolog)."""
    buf = io.StringIO()
    # no metadata block: it names creators and licences by URL, and the page should hold no address at all
    fig.savefig(buf, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{''.join(parts)}</section>"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _protocol(board: Any) -> list[dict[str, str]]:
    """The study's settings as a reader needs them: every value named, "default" where the study used one."""
    cfg = dict(board.config)
    cfg["study"] = board.study  # the config may hold None (a derived name): the page names the real study
    rows = [{"setting": k, "value": "default" if v is None else cell_text(v)} for k, v in cfg.items()
            if k != "extra" or v]
    rows.append({"setting": "trials", "value": ", ".join(f"{n} {k}" for k, n in sorted(board.counts.items()))})
    return rows


def _generalization(board: Any) -> str:
    """One row per found function on the check task: its value, what it beats there, and whether it holds."""
    from ..search import board_metrics

    _, test_m = board_metrics(board.config)
    rows = []
    for r in board.rows:
        if r.kind != "found":
            continue
        c = r.check
        if c is None:
            value = "not run"
        elif not c.test:
            value = f"all {c.failed} runs failed" if c.failed else "—"
        else:
            value = value_text(test_m, c.test_ci) + (f" ({c.failed} failed)" if c.failed else "")
        rows.append({"#": str(r.rank), "function": r.name, f"test {test_m.name.split('_', 1)[1]} ± CI": value,
                     "beats there": ", ".join(c.beats) if c and c.beats else "none",
                     "beats here": ", ".join(r.beats) or "none", "holds": holds_text(r)})
    return html_table(rows) if rows else _note("No found functions yet.")


def render_html(study: Any, board: Any) -> str:
    """The report page of an Optuna ``study`` and its leaderboard ``board``, as one HTML string."""
    cfg = dict(board.config)
    parts = [
        _section("Protocol", html_table(_protocol(board)),
                 "" if board.baselines_done else _note("Baselines are incomplete: re-run the same `actlab search` "
                                                       "command to finish the leaderboard.")),
        _section("Leaderboard", board_html(board) if board.rows else _note("No leaderboard rows yet."),
                 *(grid_html(g) for g in [detail_grid(board)] if g is not None and g.rows)),
    ]
    check = cfg.get("check_task")
    if check:
        parts.append(_section(f"Generalization — {check}",
                              _note(f"The found functions trained on {check}, a task the search never saw; holds: "
                                    f"it beats there at least one baseline it beats on the main task."),
                              _generalization(board),
                              *(grid_html(g) for g in [detail_grid(board, check=True)] if g is not None and g.rows)))
    else:
        parts.append(_section("Generalization", _note("This study has no check task (search --check-task).")))
    pareto = [{"trial": r.trial, "function": shorten(r.name, 60), "search score": cell_text(r.search_score),
               "cost ns/el": cell_text(r.cost)} for r in board.pareto]
    parts.append(_section("Pareto front — accuracy vs fused-kernel cost",
                          html_table(pareto) if pareto else _note("Single-objective study: no Pareto front."),
                          f"<figure>{figure_svg(plot_cost(study, board))}</figure>"))
    parts.append(_section("Search progress", f"<figure>{figure_svg(plot_progress(study, board))}</figure>"))
    top = plot_top_functions(board)
    parts.append(_section("Top functions: f, f′, f″",
                          f"<figure>{figure_svg(top)}</figure>" if top is not None else _note("No functions yet.")))
    title = f"actlab search report — {board.study}"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>'
            f"<body><h1>{html.escape(title)}</h1>{_note('written ' + stamp)}{''.join(parts)}</body></html>\n")


def write_html(study: str, out: str | Path, storage: str | None = None, runs_dir: str = "runs") -> Path:
    """Write the report of the stored study ``study`` to ``out``; returns the path."""
    st, board = study_and_board(study, storage, runs_dir)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(st, board), encoding="utf-8")
    return out
