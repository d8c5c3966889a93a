"""Search reports: the hall-of-fame table, the Pareto front, and the search plots (`actlab show STUDY`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .plots import new_figure, plot_functions, save

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["board_table", "board_caption", "pareto_table", "board_markdown", "print_board", "final_stage_notice",
           "plot_search", "plot_progress", "plot_cost", "plot_robustness", "plot_top_functions", "study_and_board",
           "show"]


def _f(v: float | None, fmt: str = ".4f") -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def _acc(m_ci: tuple[float, float]) -> str:
    m, ci = m_ci
    if not math.isfinite(m):
        return "—"
    return f"{m:.4f} ± {ci:.4f}" if math.isfinite(ci) else f"{m:.4f}"


def _vs(r: Any, vs: dict[str, Any], alpha: float) -> str:
    """Δ vs each baseline with its Holm-adjusted p; a win (adjusted p < α, Δ > 0) is starred."""
    vs = {b: t for b, t in vs.items() if t.n > 0}
    if r.kind != "found" or not vs:
        return "—"
    return "; ".join(f"{b} {t.delta:+.4f} p={t.p_adjusted:.2g}{'*' if t.beats(alpha) else ''}"
                     for b, t in vs.items())


def _metric(board: Any) -> tuple[str, str, int]:
    """(validation metric name, its short label, direction sign) of a board (accuracy unless --metric said), from
    the one metric table."""
    from actlab.train import get_metric

    m = get_metric(str(board.config.get("metric") or "val_acc"))
    return m.name, m.name.split("_", 1)[1], m.sign


def _columns(board: Any) -> list[str]:
    _, short, _ = _metric(board)
    cols = ["rank", "activation", "kind", "search val", "fresh val", f"test {short} ± 95% CI", "seeds", "cost ns/el",
            "smoothness", "Δ test vs baseline (Holm p)", "beats"]
    if _robust(board):
        cols += [f"adv val ({board.config.get('attack')} ε={board.config.get('eps')}) search / fresh"]
    if board.config.get("check_task"):
        cols += [f"{board.config['check_task']} test ± 95% CI", "check Δ (Holm p)", "holds"]
    return cols


def _robust(board: Any) -> bool:
    return "robustness" in str(board.config.get("objective", ""))


def _cells(board: Any, r: Any) -> list[str]:
    holds = {True: "yes", False: "no", None: "—"}[r.holds]
    cells = [str(r.rank), r.name, r.kind if r.trial is None else f"found #{r.trial}",
             _f(r.search_score), _f(r.fresh_val), _acc(r.test_ci),
             str(len(r.test)) + (f" ({r.failed} failed)" if r.failed else ""), _f(r.cost, ".2f"),
             r.smoothness or "—", _vs(r, r.vs, board.alpha),
             (", ".join(r.beats) or "none") if r.kind == "found" else "—"]
    if _robust(board):
        cells += [f"{_f(r.adv_score)} / {_f(r.fresh_adv)}"]
    if board.config.get("check_task"):
        c = r.check
        acc = (_acc(c.test_ci) + (f" ({c.failed} failed)" if c.failed else "")) if c else "—"
        cells += [acc, _vs(r, c.vs, board.alpha) if c else "—", holds]
    return cells


def board_caption(board: Any) -> str:
    """What the board's numbers are: seeds, test, correction, win and hold rules, smallest detectable effect."""
    from actlab.train import min_detectable_effect

    p = board.protocol
    found = [r for r in board.rows if r.kind == "found"]
    nb = len(board.config.get("baselines", []))
    sds = sorted(t.sd for r in found for t in r.vs.values() if math.isfinite(t.sd))
    sd = sds[len(sds) // 2] if sds else math.nan
    n = len(p["reeval_seeds"])
    mde = min_detectable_effect(n, sd, family=max(1, len(found) * nb), alpha=p["alpha"])
    check = (f" Check task {p['check_task']}: same fresh seeds, tests and correction (its own family); holds = "
             f"beats there at least one baseline it beats on the main task." if p["check_task"] else "")
    name, short, sign = _metric(board)
    better = "higher" if sign > 0 else "lower"
    gated = (" Gated space: each found expression f is trained as the gate of f(g)·a (glu(f)), beside gated "
             "baselines, all parameter-matched by the task's FFN." if board.config.get("space") == "gated" else "")
    return (f"Metric {name} ({better} is better).{gated} Search val: the search's score (median val {short} over "
            f"search seeds {p['search_seeds']}); fresh: "
            f"fresh seeds {p['reeval_seeds']}, disjoint from them (search − fresh val = winner's-curse gap). Δ: "
            f"paired over the fresh seeds; {p['test']}, {p['correction']} over all found × baseline pairs; "
            f"* / beats: adjusted p < {p['alpha']:g} and Δ {'>' if sign > 0 else '<'} 0. Smallest Δ detected with "
            f"80% power at the strictest "
            f"Holm step, at the median sd of differences {_f(sd)}: {_f(mde)}.{check}")


def board_table(board: Any) -> Any:
    """The leaderboard as a rich Table (found functions and baselines, ranked by mean test accuracy)."""
    from rich.table import Table

    cfg = board.config
    t = Table(title=f"Hall of fame — {board.study} ({cfg.get('task')}, {cfg.get('steps') or 'preset'} steps, "
                    f"{cfg.get('reeval_seeds')} fresh seeds)", caption=board_caption(board))
    for c in _columns(board):
        t.add_column(c, overflow="fold")
    for r in board.rows:
        t.add_row(*_cells(board, r), style="dim" if r.kind == "baseline" else None)
    return t


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
    """The leaderboard as a Markdown table (for RESULTS.md)."""
    cols = _columns(board)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in board.rows:
        cells = [c.replace("|", "\\|") for c in _cells(board, r)]
        cells[1] = f"`{cells[1]}`"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", board_caption(board)])


def print_board(board: Any, console: Any = None) -> None:
    """Print the trial counts, the leaderboard and (if any) the Pareto front."""
    from rich.console import Console

    console = console or Console()
    counts = ", ".join(f"{v} {k}" for k, v in sorted(board.counts.items()))
    console.print(f"study {board.study}: {counts}")
    console.print(board_table(board))
    if board.pareto:
        console.print(pareto_table(board))
    for line in final_stage_notice(board):
        console.print(f"[yellow]{line}[/]", soft_wrap=True)


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

    done = [t for t in evaluated(study) if t.values]
    fig = new_figure(figsize=(7, 4))
    ax = fig.subplots()
    pts = [(t.user_attrs["cost"], t.values[0]) for t in done if t.user_attrs.get("cost") is not None]
    if pts:
        costs, accs = zip(*pts, strict=True)
        ax.scatter(costs, accs, s=12, alpha=0.5, label="candidates")
        best, pf = -math.inf, []
        for c, a in sorted(pts):
            if a > best:
                pf.append((c, a))
                best = a
        front_costs, front_accs = zip(*pf, strict=True)
        ax.step(front_costs, front_accs, where="post", color="C3", label="Pareto front")
    for r in board.rows:
        if r.kind == "baseline" and r.cost is not None and math.isfinite(r.val_median):
            ax.scatter([r.cost], [r.val_median], marker="*", s=80, color="k")
            ax.annotate(r.name, (r.cost, r.val_median), fontsize=8)
    if pts or any(r.cost for r in board.rows):
        ax.set_xscale("log")
    ax.set_xlabel("fused forward+backward cost (ns/element, log)")
    ax.set_ylabel("validation accuracy")
    ax.set_title("accuracy vs cost")
    if pts:
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
         console: Any = None) -> list[Path]:
    """``actlab show STUDY``: print the leaderboard and Pareto front, write the plots; returns their paths."""
    st, board = study_and_board(study, storage, runs_dir)
    print_board(board, console)
    out = Path(out_dir or Path(runs_dir) / f"{study}-plots")
    return [out / f"{name}.png" for name in plot_search(st, board, out)]
