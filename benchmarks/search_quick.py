"""The quick search end to end, timed: throughput of the search phase, the final stage and the winner's-curse gap.

    PYTHONPATH=. .venv/bin/python benchmarks/search_quick.py --runs-dir /tmp/quick --json benchmarks/search_quick.json

Runs ``actlab search`` with its defaults (override with --strategy/--budget/--steps/--race-seeds/--check-task/
--workers) in a runs directory and prints, counting only the trials THIS run recorded (a resumed study's older
trials are left out):
complete trainings per hour (seed trainings that ran their full step budget) and full-length equivalents per hour
(all steps trained, pruned runs included, divided by the step budget), both measured over the search phase's wall
time; the final stage's time split into the main and the check task; the winner's-curse gap of the top-k (search
score − mean validation accuracy on fresh seeds); and the leaderboard as Markdown.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import optuna

from actlab.report.search import board_markdown
from actlab.search import Attr, SearchConfig, run_search


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs-dir", default="/tmp/actlab-quick")
    ap.add_argument("--strategy", default=None)
    ap.add_argument("--budget", default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--race-seeds", type=int, default=None)
    ap.add_argument("--check-task", default=None)
    ap.add_argument("--study", default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    kw = {k: v for k, v in (("strategy", args.strategy), ("budget", args.budget), ("steps", args.steps),
                            ("race_seeds", args.race_seeds), ("check_task", args.check_task),
                            ("study", args.study), ("workers", args.workers)) if v is not None}
    cfg = SearchConfig(runs_dir=args.runs_dir, **kw)
    marks: dict[str, float] = {}
    mine: set[int] = set()

    def on_event(kind: str, info: dict) -> None:
        marks.setdefault(kind, time.monotonic())
        if kind == "trial":
            mine.add(info["number"])
            print(f"  #{info['number']:>4} {info['state']:<8} {info.get('value') or 0:.4f}  {info['expression']}",
                  flush=True)

    t0 = time.monotonic()
    res = run_search(cfg, on_event=on_event)
    total = time.monotonic() - t0
    search_s = marks["stop"] - marks["start"]
    final_s = total - (marks["stop"] - t0)
    study = optuna.load_study(study_name=res.study, storage=res.storage)
    trials = [t for t in study.trials if t.number in mine]
    seeds = [s for t in trials for s in t.user_attrs.get(Attr.PER_SEED, [])]
    full = cfg.steps or 0
    complete = sum(1 for s in seeds if full and (s.get("steps_done") or 0) >= full)
    steps = sum(s.get("steps_done") or 0 for s in seeds)
    final = optuna.load_study(study_name=res.study + ":final", storage=res.storage)
    wall = {"main": 0.0, "check": 0.0}
    for t in final.trials:
        if t.number is not None and t.user_attrs.get(Attr.WALL) is not None:
            wall["check" if t.user_attrs.get(Attr.ROLE) == "check" else "main"] += t.user_attrs[Attr.WALL]
    share = wall["check"] / max(1e-9, wall["main"] + wall["check"])
    found = [r for r in res.board.rows if r.kind == "found"]
    gaps = [r.gap for r in found if r.gap == r.gap]
    summary = {
        "config": cfg.protocol(), "study": res.study, "total_seconds": total, "search_seconds": search_s,
        "final_seconds": final_s, "this_run_trials": len(trials), "this_run_seed_trainings": len(seeds),
        "raced": res.raced, "states": dict(res.board.counts),
        "complete_trainings_per_hour": complete / search_s * 3600,
        "full_equivalents_per_hour": (steps / full) / search_s * 3600 if full else None,
        "final_worker_seconds": wall, "check_share_of_final": share,
        # the check task's share of the final stage's worker time, applied to its wall time, over the whole run
        "check_added_wall_fraction": share * final_s / max(1e-9, total - share * final_s),
        "winners_curse_gap": {"mean": statistics.fmean(gaps) if gaps else None, "per_row": gaps},
        "leaderboard": res.board.to_json(),
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "leaderboard"}, indent=1, default=str))
    print(board_markdown(res.board))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1, default=str))


if __name__ == "__main__":
    main()
