"""The board as a person reads it: one line per function at 80 columns, three lines of notes, the full grid on
demand, and the same board in Markdown, HTML and a notebook."""

from __future__ import annotations

import re

import pytest
from _boards import BASELINES, FOUND, synthetic_board
from rich.console import Console

from actlab.report.search import board_markdown, board_table, print_board
from actlab.search.board_view import board_html, board_lines, board_notes, board_warnings, detail_grid, value_text
from actlab.train import format_p, get_metric


def _render(renderable, width: int) -> list[str]:
    c = Console(width=width, record=True, force_terminal=False)
    c.print(renderable)
    return [line.rstrip() for line in c.export_text().splitlines()]


@pytest.mark.parametrize("width", [80, 120])
def test_one_line_per_function(width: int) -> None:
    board = synthetic_board()
    lines = _render(board_table(board), width)
    rule = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
    body = [line for line in lines[rule + 1:] if line.strip()]
    assert len(body) == len(board.rows), "\n".join(lines)
    assert all(len(line) <= width for line in lines)
    for row, line in zip(board.rows, body, strict=True):  # each line names its function and rank
        assert line.split()[0] == str(row.rank)
        assert row.name[:10] in line


def test_long_names_end_in_an_ellipsis_and_the_full_text_is_elsewhere() -> None:
    board = synthetic_board()
    long = next(line for line in board_lines(board) if line.name == FOUND[1])
    assert long.function.endswith("…") and len(long.function) <= 24
    assert FOUND[1] in board_html(board) and FOUND[1] in str(board.to_json())


def test_notes_fit_three_lines_at_80_columns() -> None:
    for board in (synthetic_board(), synthetic_board(check=False), synthetic_board(metric="val_loss")):
        notes = board_notes(board)
        assert len(notes) <= 3
        rendered = _render("\n".join(notes), 80)
        assert len([line for line in rendered if line]) <= 3, rendered


def test_print_board_names_the_best_baseline_and_marks_wins() -> None:
    board = synthetic_board()
    c = Console(width=80, record=True)
    print_board(board, c)
    text = c.export_text()
    best = next(r for r in board.rows if r.kind == "baseline")
    assert f"Δ vs {best.name}" in text
    assert "*" in text and "(= swish)" in text


def test_detail_is_a_grid_of_every_pair_on_both_tasks() -> None:
    board = synthetic_board()
    for check in (False, True):
        grid = detail_grid(board, check=check)
        assert grid is not None and grid.baselines == BASELINES
        assert len(grid.rows) == len(FOUND)
        for _, cells in grid.rows:
            assert len(cells) == len(BASELINES)
            assert all(re.match(r"^[+-]\d\.\d{4}\*? p=", c) for c in cells), cells
            assert not any(";" in c for c in cells)
    assert detail_grid(synthetic_board(check=False), check=True) is None
    c = Console(width=120, record=True)
    print_board(board, c, detail=True)
    text = c.export_text()
    assert "Every pair on digits-mlp" in text and "Every pair on mnist1d-mlp" in text


def test_markdown_board_has_a_row_per_function_and_the_notes() -> None:
    board = synthetic_board()
    md = board_markdown(board).splitlines()
    assert sum(1 for line in md if line.startswith("| ") and line[2].isdigit()) == len(board.rows)
    assert any(line.startswith("Δ: paired t") for line in md)


def test_small_seed_counts_warn_and_intervals_stay_in_range() -> None:
    board = synthetic_board(seeds=2, level=0.985)
    warnings = board_warnings(board)
    assert any("only 2 seeds" in w for w in warnings)
    acc = get_metric("test_acc")
    assert value_text(acc, (0.99, 0.05)) == "0.990 [0.94,1.00]"
    assert value_text(acc, (0.5, 0.01)) == "0.500±0.010"
    for r in board.rows:
        lo, hi = r.to_json(acc)["test_acc"]["ci"]
        assert 0.0 <= lo <= hi <= 1.0
        assert all(-1.0 <= t.ci_low <= t.ci_high <= 1.0 for t in r.vs.values())
    notes = " ".join(board_notes(board))
    assert "80% power at Δ" in notes
    assert not re.search(r"Δ (1\.[0-9]|[2-9]\.)", notes)  # never a detectable Δ above 100 % accuracy


def test_a_found_function_whose_check_runs_all_failed_is_flagged() -> None:
    board = synthetic_board(failed_check=True)
    row = next(r for r in board.rows if r.name == FOUND[0])
    assert row.holds is False
    assert any("runs on mnist1d-mlp failed" in w for w in board_warnings(board))
    assert any("is the baseline swish" in w for w in board_warnings(board))


@pytest.mark.parametrize("p,text", [(0.5, "0.5"), (0.0432, "0.043"), (0.0063, "0.0063"), (3.2e-4, "3.2e-4"),
                                    (0.0, "<1e-4"), (1e-9, "<1e-4"), (float("nan"), "—"), (None, "—")])
def test_format_p(p, text) -> None:
    assert format_p(p) == text


def test_notebook_and_html_show_the_board_not_a_dump() -> None:
    board = synthetic_board()
    page = board._repr_html_()
    assert "=delta=" not in page and "p_adjusted=" not in page
    for r in board.rows:
        assert r.name.replace("<", "&lt;") in page
    assert page.count("<tr") == len(board.rows) + 1
    df_rows = board._table_rows()
    assert {"rank", "function", "test_mean", "delta_vs_best", "holds", "cost_ns_per_element"} <= set(df_rows[0])


def test_a_resumed_search_starts_its_progress_from_the_best_so_far() -> None:
    from actlab.search import RichProgress

    for sign, best in ((1, 0.91), (-1, 2.2)):
        p = RichProgress(Console(width=120, record=True))
        p("start", {"study": "s", "storage": "x", "done": 7, "requeued": 0, "max_trials": 10, "max_seconds": None,
                    "slots": 1, "sign": sign, "best": best, "best_expression": "x * erf(x)"})
        worse = best - 0.1 * sign
        p("trial", {"number": 8, "expression": "relu(x)", "value": worse, "state": "COMPLETE", "done": 8,
                    "elapsed": 1.0})
        p.close()
        assert p.best_expr == "x * erf(x)" and p.sign * p.best == pytest.approx(best)

