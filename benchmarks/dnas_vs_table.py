"""DNAS against a tabular benchmark: where its proposals rank in the table, and what a discrete search spends to
match them.

One supernet is trained under the table's protocol (its task and steps, 1 unit); its first ``--k`` proposals are
looked up in the table (rank by mean validation accuracy over the table's seeds). For the best of them, replays of
discrete strategies against the table count the evaluations until a function at least as good is found; each
evaluation costs the table's median training time of one function (all its seeds). Markdown to stdout, JSON with
``--json``.

    PYTHONPATH=. .venv/bin/python benchmarks/dnas_vs_table.py --table benchmarks/tables/mnist1d-cnn.csv.gz \\
        --arch-lr 0.03 --json benchmarks/dnas_vs_table.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import optuna

from actlab.bench import replay, table
from actlab.search import STRATEGIES, SearchConfig, make_space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", required=True)
    ap.add_argument("--k", type=int, default=10, help="DNAS proposals looked up")
    ap.add_argument("--arch-lr", type=float, default=None, help="default: the dnas strategy's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strategies", default="random,evolution,evolution:init=random,surrogate,controller,tpe")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--budget", type=int, default=300)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--reuse", type=Path, help="take the supernet's proposals from this earlier --json (same task, "
                    "steps, arch_lr and seed) instead of training it again")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    tab = table.load(args.table)
    p = tab.protocol
    fns = sorted(tab.functions().values(), key=lambda f: -f.mean_val)
    rank = {f.fingerprint: i + 1 for i, f in enumerate(fns)}
    space = make_space(SearchConfig(space=str(p.get("space", 1))), exclude=())
    if args.reuse:
        old = json.loads(args.reuse.read_text())
        args.arch_lr = old["arch_lr"] if args.arch_lr is None else args.arch_lr
        if (old["task"], old["steps"], old["arch_lr"], old["seed"]) != (p["task"], p["steps"], args.arch_lr, args.seed):
            raise SystemExit(f"{args.reuse} was trained under another protocol")
        texts, probs = [r["expression"] for r in old["proposals"]], [r["prob"] for r in old["proposals"]]
        status, wall = old["status"], old["supernet_seconds"]
    else:
        hp = {} if args.arch_lr is None else {"arch_lr": args.arch_lr}
        dnas = STRATEGIES["dnas"](space, seed=args.seed, task=p["task"], steps=p["steps"], **hp)
        args.arch_lr = dnas.hp["arch_lr"]
        props = dnas.propose(optuna.create_study(), args.k)
        texts, probs = [space.render(c.tokens) for c in props], [c.attrs["dnas_prob"] for c in props]
        status, wall = dnas.status, dnas.wall_time
    looked = []
    for text, prob in zip(texts, probs, strict=True):
        fp = space.identity(text)
        f = tab.functions().get(fp)
        looked.append({"expression": text, "prob": prob, "rank": rank.get(fp),
                       "mean_val": f.mean_val if f else None})
    print(f"DNAS on {p['task']} ({p['steps']} steps, arch_lr {args.arch_lr}, seed {args.seed}): "
          f"{status}, supernet {wall:.0f} s; table of {len(fns)} functions\n")
    print("| proposal | expression | mixture probability | table rank | mean val acc |\n"
          "| --- | --- | --- | --- | --- |")
    for i, r in enumerate(looked):
        val = f"{r['mean_val']:.4f}" if r["mean_val"] is not None else "not in the table"
        print(f"| {i + 1} | `{r['expression']}` | {r['prob']:.3g} | {r['rank'] or '-'} | {val} |")

    found = [r for r in looked if r["mean_val"] is not None]
    out = {"table": args.table, "task": p["task"], "steps": p["steps"], "arch_lr": args.arch_lr, "seed": args.seed,
           "status": status, "supernet_seconds": wall, "proposals": looked, "strategies": {}}
    if found:
        best = max(found, key=lambda r: r["mean_val"])
        per_fn = statistics.median(sum(r.seconds for r in f.rows) for f in fns)
        # Evaluations to match DNAS's best proposal, which DNAS itself finds after training its proposals in order.
        dnas_evals = looked.index(best) + 1
        thr = best["mean_val"]
        print(f"\nBest proposal: rank {best['rank']} (top {100 * best['rank'] / len(fns):.1f} %), found by DNAS "
              f"after {wall:.0f} s + {dnas_evals} trainings ≈ {wall + dnas_evals * per_fn:.0f} s "
              f"(median function: {per_fn:.1f} s of training over its seeds).\n")
        print("| strategy | median evaluations to ≥ that accuracy | reached | ≈ seconds (× median function) |\n"
              "| --- | --- | --- | --- |")
        ts = replay.TableSpace(space, set(tab.functions()))
        scores = {f.fingerprint: f.mean_val for f in fns}
        for label in args.strategies.split(","):
            base, opts = replay.parse_label(label)
            ev = []
            for r in range(args.repeats):
                order = replay.replay(args.table, base, r, args.budget, ts, 1, opts)
                ev.append(next((i + 1 for i, fp in enumerate(order) if scores[fp] >= thr), args.budget + 1))
            med = statistics.median(ev)
            reached = sum(e <= args.budget for e in ev)
            out["strategies"][label] = {"evals": ev, "median": med, "reached": reached}
            print(f"| {label} | {med:g} | {reached}/{args.repeats} | {med * per_fn:.0f} |")
        out.update(best=best, dnas_evals=dnas_evals, seconds_per_function=per_fn)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
