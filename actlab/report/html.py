"""``actlab report STUDY --html FILE``: one self-contained HTML page of a search (no network, no scripts).

The page has the protocol, the leaderboard with its statistics, the Pareto front, the search progress, f, f′ and
f″ of the top functions, and the generalization check. Figures are inline SVG (matplotlib draws glyphs as paths, so
no font is fetched). Tables are built from the rows' dict form, so a field added to a leaderboard row shows up here
without a change.
"""

from __future__ import annotations

import html
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._tabular import cell_text, html_table
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
.note{color:#666;font-size:.9em}figure{margin:.8em 0}svg{max-width:100%;height:auto}
"""
_FIRST = ("rank", "name", "kind", "trial")  # leaderboard columns shown first; every other field follows


def figure_svg(fig: "Figure") -> str:
    """The figure as an inline ``<svg>`` element (without the XML prolog)."""
    buf = io.StringIO()
    # no metadata block: it names creators and licences by URL, and the page should hold no address at all
    fig.savefig(buf, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**{k: r[k] for k in _FIRST if k in r}, **{k: v for k, v in r.items() if k not in _FIRST}} for r in rows]


def _rows(items: list[Any]) -> list[dict[str, Any]]:
    return _ordered([r.to_json() if hasattr(r, "to_json") else r.to_dict() if hasattr(r, "to_dict")
                     else dict(vars(r)) for r in items])


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{''.join(parts)}</section>"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def render_html(study: Any, board: Any) -> str:
    """The report page of an Optuna ``study`` and its leaderboard ``board``, as one HTML string."""
    cfg = dict(board.config)
    protocol = [{"setting": k, "value": cell_text(v)} for k, v in cfg.items()]
    protocol.append({"setting": "trials", "value": cell_text(dict(sorted(board.counts.items())))})
    rows = _rows(board.rows)
    parts = [
        _section("Protocol", html_table(protocol),
                 "" if board.baselines_done else _note("Baselines are incomplete: re-run the same `actlab search` "
                                                       "command to finish the leaderboard.")),
        _section("Leaderboard", _note("Found functions and baselines under one protocol, ranked by mean test "
                                      "accuracy over the re-evaluation seeds; per-seed values are listed in order."),
                 html_table(rows) if rows else _note("No leaderboard rows yet.")),
    ]
    check = cfg.get("check_task")
    if check:
        cols = [k for k in (rows[0] if rows else {}) if k in _FIRST[:3] or "check" in k]
        parts.append(_section(f"Generalization — {check}",
                              _note(f"The same functions trained on {check}, a task the search never saw."),
                              html_table([{k: r.get(k) for k in cols} for r in rows])))
    else:
        parts.append(_section("Generalization", _note("This study has no check task (search --check-task).")))
    pareto = _rows(board.pareto)
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
