"""The robustness benchmark: clean and adversarial accuracy per activation and attack, paired over seeds.

This is what ``actlab bench robustness`` runs; from Python::

    from actlab.bench import robustness
    rob = robustness.run(["relu", "swish", "isrlu"], task="mnist1d-mlp", attacks=["trust-region", "fgsm"],
                         eps=[0.1], seeds=5)
    print(robustness.to_markdown(rob))
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..train import Robustness, RobustnessRow, format_p, robustness

__all__ = ["run", "to_markdown", "write_json", "COLUMNS"]

run = robustness

# (header, cell) of every column; the Markdown and terminal tables both read this one list.
COLUMNS: list[tuple[str, Any]] = [
    ("activation", lambda r: r.activation), ("attack", lambda r: r.attack), ("ε", lambda r: f"{r.eps:g}"),
    ("clean acc", lambda r: f"{r.clean_acc:.4f}"), ("adv acc", lambda r: f"{r.adv_acc:.4f}"),
    ("Δ adv vs baseline", lambda r: "—" if r.diff is None else f"{r.diff:+.4f}"),
    ("95% CI Δ", lambda r: "—" if r.diff is None else f"[{r.diff_ci_low:+.4f}, {r.diff_ci_high:+.4f}]"),
    ("p (Holm)", lambda r: "—" if r.p is None else f"{format_p(r.p)} ({format_p(r.p_adjusted)})"),
    ("s/attack", lambda r: f"{r.attack_time:.2f}"), ("div", lambda r: str(r.n_diverged)),
]


def cells(row: RobustnessRow) -> list[str]:
    return [fn(row) for _, fn in COLUMNS]


def to_markdown(rob: Robustness) -> str:
    head = [h for h, _ in COLUMNS]
    lines = [f"{rob.task}, {rob.norm} budget, {len(rob.rows[0].seeds) if rob.rows else 0} seeds, "
             f"{rob.n_eval} test examples, paired against {rob.baseline}", "",
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rob.rows]
    return "\n".join(lines)


def write_json(rob: Robustness, path: str | Path) -> Path:
    """``{"task", "rows": [{"activation", "attack", "eps", "clean_acc", "adv_acc", "seeds", ...}]}``."""
    p = Path(path)
    p.write_text(json.dumps(rob.to_dict(), indent=1))
    return p
