"""The HTML report of a real (tiny) study: every section, nothing fetched, and a real browser renders it cleanly."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("optuna")
pytest.importorskip("matplotlib")

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and Path(p).exists()), None)
SECTIONS = ("Protocol", "Leaderboard", "Generalization", "Pareto front", "Search progress", "Top functions")


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory):
    """A real search, as small as it gets: 3 candidates, 60 steps, 2 seeds for the board, a check task."""
    from actlab.search import SearchConfig, run_search

    tmp = tmp_path_factory.mktemp("report")
    cfg = SearchConfig(task="digits-mlp", steps=60, strategy="exhaustive", budget=3, workers=1, runs_dir=str(tmp),
                       top_k=1, reeval_seeds=2, baselines=("tanh",), check_task="mnist1d-mlp", check_seeds=2,
                       pruner="none")
    return tmp, run_search(cfg)


@pytest.fixture(scope="module")
def page(study) -> Path:
    from typer.testing import CliRunner

    from actlab.cli import app

    tmp, res = study
    out = tmp / "report.html"
    r = CliRunner().invoke(app, ["report", res.study, "--storage", res.storage, "--html", str(out)])
    assert r.exit_code == 0, r.output
    return out


_DUMP = re.compile(r"\b\w+=[^;<>\"]*; \w+=")  # a "key=value; key=value" dump of a row's dict


def _board_rows(text: str) -> list[list[str]]:
    """The cells of the leaderboard table (class actlab-board) of a page or a DOM dump."""
    table = text[text.index("actlab-board"):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S)
    return [[html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", r, flags=re.S)] for r in rows[1:]]


def _check_board(text: str, board) -> None:
    """Every row names its function and shows its value ± CI, what it beats and whether it holds; no dumps."""
    rows = _board_rows(text)
    assert len(rows) == len(board.rows)
    for row, cells in zip(board.rows, rows, strict=True):
        rank, name, value, delta, beats, holds, cost = cells
        assert rank == str(row.rank) and name.startswith(row.name)
        assert re.match(r"^\d\.\d{3}(±\d\.\d{3}| \[)", value), value
        if row.kind == "found":
            assert re.match(r"^\d+/\d+$", beats) and holds in ("yes", "no", "—"), cells
        else:
            assert beats == "base"
        assert not any(_DUMP.search(c) for c in cells), cells


@pytest.mark.slow
def test_the_page_has_every_section_and_reads_like_the_terminal_board(page: Path, study) -> None:
    text = page.read_text()
    for title in SECTIONS:
        assert f"<h2>{title}" in text, title
    board = study[1].board
    _check_board(text, board)
    assert not _DUMP.search(re.sub(r"<svg.*?</svg>", "", text, flags=re.S)), "a key=value dump on the page"
    gen = text[text.index("<h2>Generalization"):]
    for row in board.rows:  # the generalization table names each found function
        if row.kind == "found":
            assert row.name.replace("<", "&lt;") in gen[:gen.index("</section>")]
    protocol = text[text.index("<h2>Protocol"):text.index("<h2>Leaderboard")]
    assert f"<td>{board.study}</td>" in protocol and "<td>—</td>" not in protocol
    assert text.count("<svg") == 3
    # the same board in a notebook
    _check_board(board._repr_html_(), board)
    if __import__("importlib.util").util.find_spec("pandas"):
        assert {"rank", "function", "test_mean", "holds"} <= set(board.to_pandas().columns)


@pytest.mark.slow
def test_the_page_is_self_contained(page: Path) -> None:
    text = page.read_text()
    assert "<script" not in text and "<link" not in text and "<img" not in text
    # the only addresses are SVG namespace names (never fetched); every href points inside the page
    assert set(re.findall(r"https?://[^\"' <>]+", text)) <= {"http://www.w3.org/2000/svg",
                                                             "http://www.w3.org/1999/xlink"}
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', text))


def _render(url: str, tmp: Path, name: str) -> tuple[Path, str]:
    """Screenshot ``url`` with headless chromium (fresh profile, no network services); returns (png, log)."""
    shot = tmp / f"{name}.png"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp / (name + '-prof')}",
         "--enable-logging=stderr", "--v=0", "--window-size=1280,2400", f"--screenshot={shot}", url],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    return shot, proc.stderr


def _console_messages(log: str) -> list[str]:
    return [ln for ln in log.splitlines() if ":CONSOLE" in ln]


def _ink(png: Path) -> float:
    """Fraction of pixels that are not (near) white."""
    import matplotlib.image

    img = matplotlib.image.imread(png)[..., :3]
    return float((img.min(axis=-1) < 0.9).mean())


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_renders_the_page_without_console_errors(page: Path, study, tmp_path: Path) -> None:
    # the checks themselves first, on a page that logs an error and shows nothing: they must catch it
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><script>console.error("broken")</script></body></html>')
    shot, log = _render(bad.as_uri(), tmp_path, "bad")
    assert _console_messages(log) and _ink(shot) < 0.001

    shot, log = _render(page.as_uri(), tmp_path, "report")
    assert not _console_messages(log), _console_messages(log)
    assert _ink(shot) > 0.02, "the screenshot is (nearly) blank"
    # what the browser shows, not what the file holds: the rendered DOM has the board as a person reads it
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'dom-prof'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    _check_board(dom, study[1].board)
    shutil.copy(shot, page.with_suffix(".png"))  # kept beside the page for a look


def test_the_generalization_table_names_each_function_and_its_failures() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "search"))
    from _boards import FOUND, synthetic_board

    from actlab.report.html import _generalization

    text = html.unescape(_generalization(synthetic_board(failed_check=True)))
    for name in FOUND:
        assert name in text
    assert "all 5 runs failed" in text  # a failed row says so, not "mean=—; ci=—"
    assert not _DUMP.search(text)


def test_the_cost_plot_shows_the_found_functions_by_rank() -> None:
    import sys

    import optuna

    sys.path.insert(0, str(Path(__file__).parents[1] / "search"))
    from _boards import synthetic_board

    from actlab.report.search import plot_cost

    board = synthetic_board()
    fig = plot_cost(optuna.create_study(), board)
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {f"#{r.rank}" for r in board.rows if r.kind == "found"} <= labels
    assert {r.name for r in board.rows if r.kind == "baseline"} <= labels
