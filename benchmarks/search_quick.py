"""The quick search end to end, timed: throughput of the search phase and the final leaderboard.

    PYTHONPATH=. .venv/bin/python benchmarks/search_quick.py --runs-dir /tmp/quick --json benchmarks/search_quick.json

Runs ``actlab search`` with its defaults (override with --strategy/--budget/--steps) in a fresh runs directory and
prints: trials evaluated per hour in the search phase (and in full-length equivalents, since pruned trials stop
early), the fraction of the space removed before training, and the leaderboard as Markdown.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from actlab.report.search import board_markdown
from actlab.search import SearchConfig, run_search
from actlab.search._study import evaluated


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs-dir", default="/tmp/actlab-quick")
    ap.add_argument("--strategy", default=None)
    ap.add_argument("--budget", default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    kw = {k: v for k, v in (("strategy", args.strategy), ("budget", args.budget), ("steps", args.steps)) if v}
    cfg = SearchConfig(runs_dir=args.runs_dir, **kw)
    marks: dict[str, float] = {}

    def on_event(kind: str, info: dict) -> None:
        marks.setdefault(kind, time.monotonic())
        if kind == "trial":
            print(f"  #{info['number']:>4} {info['state']:<8} {info.get('value') or 0:.4f}  {info['expression']}",
                  flush=True)

    t0 = time.monotonic()
    res = run_search(cfg, on_event=on_event)
    total = time.monotonic() - t0
    search_s = marks["stop"] - marks["start"]
    import optuna

    study = optuna.load_study(study_name=res.study, storage=res.storage)
    done = evaluated(study)
    steps = sum(s.get("steps_done") or 0 for t in done for s in t.user_attrs.get("per_seed", []))
    full = cfg.steps or 0
    from actlab.search import make_space

    _, counts = make_space(cfg).enumerate()
    summary = {
        "config": cfg.protocol(), "study": res.study, "total_seconds": total, "search_seconds": search_s,
        "final_seconds": total - (marks["stop"] - t0), "evaluated": len(done),
        "states": {k: v for k, v in res.board.counts.items()},
        "trials_per_hour": len(done) / search_s * 3600,
        # CPU seconds per trial (worker process time): the throughput 2 otherwise idle cores would give.
        "cpu_per_trial": sum(t.user_attrs.get("cpu") or 0 for t in done) / max(1, len(done)),
        "trials_per_hour_2_idle_cores": 2 * 3600 * len(done) / max(1e-9, sum(t.user_attrs.get("cpu") or 0
                                                                             for t in done)),
        "full_equivalents_per_hour": (steps / full) / search_s * 3600 if full else None,
        "space": counts, "removed_before_training": 1 - counts["survivors"] / counts["raw"],
        "leaderboard": [r.to_dict() for r in res.board.rows],
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "leaderboard"}, indent=1, default=str))
    print(board_markdown(res.board))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
