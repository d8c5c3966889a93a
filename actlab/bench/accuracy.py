"""The accuracy benchmark: several activations on one task over seeds, paired against a baseline, as a table.

This is what ``actlab bench accuracy`` runs; from Python::

    from actlab.bench import accuracy
    comp = accuracy.run(["relu", "elu", "isrlu", "swish"], task="mnist1d-cnn", seeds=5, workers=2)
    print(accuracy.to_markdown(comp))
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from ..train import (ALPHA, CORRECTION, TEST, Comparison, RunResult, compare, few_seeds_warning, format_p,
                     get_metric, get_task, min_detectable_effect)

__all__ = ["run", "split_acts", "to_markdown", "to_csv", "write_table", "rich_table", "COLUMNS"]

# (key, header) of every table column; Markdown, CSV and the terminal table all read this one list.
COLUMNS: list[tuple[str, str]] = [
    ("act", "activation"), ("mean", "mean"), ("ci", "95% CI mean"), ("mean_sd", "mean ± sd"), ("median", "median"),
    ("diff", "Δ mean"), ("diff_ci", "95% CI Δ"), ("p_value", "p"), ("p_adjusted", "p (Holm)"), ("beats", "beats"),
    ("wins", "W/T/L"), ("diverged", "div"), ("time_per_run", "s/run"),
]
_TERMINAL = ("act", "mean", "ci", "diff", "p_adjusted", "beats", "diverged", "time_per_run")
_KV = re.compile(r"^\s*[A-Za-z_]\w*\s*=")


def split_acts(text: str) -> list[str]:
    """Split ``"relu,isrlu:alpha=3,max(x, sigmoid(x))"`` on top-level commas.

    Commas inside parentheses stay (expressions, ``isrlu(alpha=3, trainable=true)``), and a ``key=value`` piece
    continues the previous activation's hyperparameters (``"swish:beta=2,trainable=true"``).
    """
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    out: list[str] = []
    for p in (p.strip() for p in parts):
        if not p:
            continue
        if out and _KV.match(p) and ":" in out[-1]:
            out[-1] += "," + p
        else:
            out.append(p)
    return out


def run(acts: Sequence[Any], task: str = "mnist1d-cnn", seeds: int = 5, steps: int | None = None,
        workers: int = 1, baseline: Any = None, metric: str = "test_acc", data_dir: str | Path | None = None,
        progress: Callable[[RunResult], None] | None = None, device: str | None = None,
        population: int | str = 1) -> Comparison:
    """Run :func:`actlab.train.compare` (the baseline defaults to the task's and is added if missing)."""
    return compare(list(acts), task=task, seeds=seeds, baseline=baseline, steps=steps, workers=workers,
                   metric=metric, data_dir=data_dir, progress=progress, device=device, population=population)


def _fmt(v: float | None, spec: str = ".4f") -> str:
    return "—" if v is None else format(v, spec)


def _cells(comp: Comparison) -> list[dict[str, str]]:
    out = []
    for r in comp.rows():
        is_base = r["act"] == comp.baseline
        out.append(dict(
            act=r["act"] + (" (base)" if is_base else ""),
            mean=_fmt(r["mean"]), median=_fmt(r["median"]), ci=f"{_fmt(r['ci_low'])}–{_fmt(r['ci_high'])}",
            mean_sd=f"{_fmt(r['mean'])} ± {_fmt(r['std'])}",
            diff="—" if is_base else _fmt(r["diff"], "+.4f"),
            diff_ci="—" if is_base else f"{_fmt(r['diff_ci_low'], '+.4f')} – {_fmt(r['diff_ci_high'], '+.4f')}",
            p_value="—" if is_base else format_p(r["p_value"]),
            p_adjusted="—" if is_base else format_p(r["p_adjusted"]),
            beats="—" if is_base else ("yes" if comp.paired[r["act"]].beats(ALPHA) else "no"),
            wins="—" if is_base else f"{r['wins']}/{r['n'] - r['wins'] - r['losses']}/{r['losses']}",
            diverged=f"{r['diverged']}/{r['n']}", time_per_run=f"{r['time_per_run']:.1f}",
        ))
    return out


def caption(comp: Comparison) -> str:
    """What the numbers are: the test, the correction, the win rule and the smallest detectable effect."""
    t = get_task(comp.task)
    n = len(comp.seeds)
    steps = comp.evaluations[comp.baseline].results[0].steps
    budget = "" if steps == t.steps else f" — run with {steps} steps instead"
    m = len(comp.paired)
    sds = [p.sd for p in comp.paired.values() if p.sd == p.sd]
    sd = sorted(sds)[len(sds) // 2] if sds else float("nan")
    mde = min_detectable_effect(n, sd, family=m)
    span = get_metric(comp.metric).span
    mde_text = f"> {span:g} (too few seeds to detect any)" if mde > span else f"≈ {_fmt(mde, '.4f')}"
    warn = few_seeds_warning(n)
    better = "higher" if get_metric(comp.metric).sign > 0 else "lower"
    return (f"Task `{comp.task}` ({t.description}{budget}); metric {comp.metric} ({better} is better); seeds "
            f"{comp.seeds}; baseline "
            f"{comp.baseline}. CI mean: Student t over seeds. Δ: candidate − baseline per seed (same seed = same "
            f"init and data order), mean with its t interval. p: {TEST} over the {n} pairs; p (Holm): "
            f"{CORRECTION}-adjusted over the {m} comparisons. beats: adjusted p < {ALPHA:g} and Δ "
            f"{'>' if better == 'higher' else '<'} 0. Smallest "
            f"effect detected with 80% power at this median sd of the differences ({_fmt(sd, '.4f')}): "
            f"Δ {mde_text}. W/T/L: seeds where the candidate beat / tied / lost to the baseline."
            + (f" Warning: {warn}." if warn else ""))


def to_markdown(comp: Comparison) -> str:
    """A Markdown table with a caption line."""
    head = "| " + " | ".join(h for _, h in COLUMNS) + " |"
    sep = "| " + " | ".join("---" for _ in COLUMNS) + " |"
    body = ["| " + " | ".join(c[k] for k, _ in COLUMNS) + " |" for c in _cells(comp)]
    return "\n".join([head, sep, *body, "", caption(comp), ""])


def to_csv(comp: Comparison) -> str:
    """Machine-readable rows (raw numbers, not formatted)."""
    rows = comp.rows()
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["task", "metric", "baseline", *rows[0].keys()], lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({"task": comp.task, "metric": comp.metric, "baseline": comp.baseline, **r})
    return buf.getvalue()


def write_table(comp: Comparison, path: str | Path) -> Path:
    """Write ``.md`` (Markdown) or ``.csv`` by the file's extension."""
    p = Path(path)
    if p.suffix.lower() in (".md", ".markdown"):
        p.write_text(to_markdown(comp))
    elif p.suffix.lower() == ".csv":
        p.write_text(to_csv(comp))
    else:
        raise ValueError(f"cannot tell the table format from {p.name!r}: use a .md or .csv file name")
    return p


def rich_table(comp: Comparison):  # -> rich.table.Table (rich imported lazily)
    """The same table for the terminal."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{comp.task}: {comp.metric} over {len(comp.seeds)} seeds", caption=caption(comp),
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    cells = _cells(comp)
    cols = [(k, h) for k, h in COLUMNS if k in _TERMINAL]  # mean ± sd and the Δ interval: in the files only
    for key, head in cols:
        if key == "act":
            table.add_column(head, overflow="fold", min_width=min(24, max(len(c["act"]) for c in cells)))
        else:
            table.add_column(head, justify="right", no_wrap=True)
    for c in cells:  # escaped: names such as isrlu[alpha=3] are text, not rich markup
        table.add_row(*(escape(c[k]) for k, _ in cols))
    return table
