"""DNAS against discrete search with real training, on a space no table covers (issue 15): wall time to a function
of equal accuracy.

Every arm is an ordinary :func:`actlab.search.run_search` on the same protocol (task, steps, space, seeds per
candidate; no pruning, no racing, no final stage), one after another on this machine:

- ``dnas``: one supernet (trained in the driver, one thread), then its ``--k`` most probable units, each trained
  like any candidate. Its *target* is the best search value (mean val accuracy over the search seeds) among them,
  and its time is the wall time from the start of its run until that trial completed.
- each discrete strategy of ``--strategies`` runs for ``--time``; its time is the wall time from its start until
  the first trial whose search value reached the target.

Search values are on the search seeds, which is what each strategy selects on. The functions that set or matched the
target are then trained together on ``--fresh`` fresh seeds (the final stage's, never seen by the search) with
``actlab.train.compare``, paired against relu, which answers "equal fresh-seed accuracy". Markdown to stdout, JSON
with ``--json``; the studies stay in ``--runs-dir`` (which must not hold them yet: times are measured from a run's
start, so a resumed study would be timed wrongly).

    PYTHONPATH=. .venv/bin/python -u benchmarks/dnas_vs_search.py --space 2 --time 10m \\
        --json benchmarks/dnas_vs_search.json
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna

from actlab.search import Attr, SearchConfig, evaluated, fresh_seeds, open_stored, run_search, scalar
from actlab.train import compare


def run_arm(args: argparse.Namespace, strategy: str, budget: str, extra: dict[str, Any]) -> dict[str, Any]:
    """One search; returns its trials in completion order as (seconds since start, value, expression)."""
    cfg = SearchConfig(task=args.task, space=args.space, seeds=args.seeds, steps=args.steps, strategy=strategy,
                       budget=budget, seed=args.seed, race_seeds=0, pruner="none", check_task="none",
                       workers=args.workers, runs_dir=str(args.runs_dir), study=f"dvs-{strategy}", extra=extra)
    t0 = datetime.now()
    wall0 = time.perf_counter()
    run_search(cfg, final=False)
    wall = time.perf_counter() - wall0
    study = open_stored(cfg.study or "", runs_dir=str(args.runs_dir))
    trials = sorted((t for t in evaluated(study) if scalar(t) is not None and t.datetime_complete is not None),
                    key=lambda t: t.datetime_complete)  # type: ignore[arg-type, return-value]
    rows = [((t.datetime_complete - t0).total_seconds(), float(scalar(t)), str(t.user_attrs.get(Attr.EXPRESSION)))  # type: ignore[operator, arg-type]
            for t in trials]
    # trainings that failed (diverged, crashed); evaluated() already leaves out skipped, duplicate and requeued trials
    failed = sum(t.state == optuna.trial.TrialState.FAIL for t in evaluated(study))
    skipped = sum(Attr.SKIPPED in t.user_attrs for t in study.trials)
    return {"strategy": strategy, "wall_seconds": wall, "trials": rows, "failed": failed, "skipped": skipped,
            "supernet_seconds": next((t.user_attrs.get("dnas_wall_time") for t in trials), None)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="mnist1d-cnn")
    ap.add_argument("--steps", type=int, default=1000, help="child (and supernet) training steps")
    ap.add_argument("--space", default="2")
    ap.add_argument("--seeds", type=int, default=2, help="search seeds per candidate")
    ap.add_argument("--k", type=int, default=10, help="DNAS proposals trained")
    ap.add_argument("--arch-lr", type=float, default=None, help="default: the dnas strategy's")
    ap.add_argument("--strategies", default="random,evolution")
    ap.add_argument("--time", default="10m", help="each discrete search's wall-time budget")
    ap.add_argument("--fresh", type=int, default=5, help="fresh seeds for the matched functions")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs-dir", type=Path, default=Path("runs/dnas-vs-search"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.runs_dir.exists() and any(args.runs_dir.iterdir()):
        raise SystemExit(f"{args.runs_dir} is not empty: a resumed study cannot be timed from its start")

    dnas = run_arm(args, "dnas", str(args.k), {} if args.arch_lr is None else {"arch_lr": args.arch_lr})
    if not dnas["trials"]:
        raise SystemExit("dnas: none of its proposals trained to a value")
    t_dnas, target, best_expr = max(dnas["trials"], key=lambda r: (r[1], -r[0]))
    arms = {"dnas": dnas, **{s: run_arm(args, s, args.time, {}) for s in args.strategies.split(",")}}
    for arm in arms.values():
        hit = next((r for r in arm["trials"] if r[1] >= target), None)
        arm["match"] = hit
        arm["best"] = max(arm["trials"], key=lambda r: r[1]) if arm["trials"] else None
    arms["dnas"]["match"] = (t_dnas, target, best_expr)

    exprs = list(dict.fromkeys(a["match"][2] for a in arms.values() if a["match"]))
    comp = compare(exprs, args.task, seeds=fresh_seeds(args.fresh), steps=args.steps, workers=args.workers,
                   metric="val_acc")
    fresh = comp.evaluations

    print(f"{args.task}, {args.steps} steps, {args.space}-unit space, {args.seeds} search seeds; DNAS supernet "
          f"{dnas['supernet_seconds'] or 0:.0f} s, its best of {len(dnas['trials'])} proposals: `{best_expr}` "
          f"(search val {target:.4f})\n")
    print(f"| arm | trained (failed; prefilter-skipped) | best search val | time to ≥ {target:.4f} | "
          "the matching function | its fresh-seed val (mean, 95 % CI) | Δ vs relu (p) |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    for name, arm in arms.items():
        m = arm["match"]
        if m:
            ev, pt = fresh[m[2]], comp.paired.get(m[2])
            vs = f"{pt.delta:+.4f} ({pt.p:.3g})" if pt else "-"
            cells = f"{m[0]:.0f} s | `{m[2]}` | {ev.mean:.4f} [{ev.ci_low:.4f}, {ev.ci_high:.4f}] | {vs}"
        else:
            cells = "not reached | - | - | -"
        best = f"{arm['best'][1]:.4f}" if arm["best"] else "-"
        print(f"| {name} | {len(arm['trials'])} ({arm['failed']}; {arm['skipped']}) | {best} | {cells} |")
    base = comp.baseline
    b = fresh[base]
    print(f"\nBaseline {base} on the same fresh seeds: {b.mean:.4f} [{b.ci_low:.4f}, {b.ci_high:.4f}].")
    if args.json:
        out = {"args": {k: str(v) for k, v in vars(args).items()}, "target": target, "arms": arms,
               "fresh_val": {lab: list(ev.values) for lab, ev in fresh.items()},
               "paired_vs_relu": {lab: {"delta": t.delta, "p": t.p} for lab, t in comp.paired.items()}}
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
