"""Batch-size schedules (issue 15 part 3): constant against cyclical batch size on one cheap task, 5 seeds.

    PYTHONPATH=. .venv/bin/python benchmarks/batch_schedule.py [--task mnist1d-mlp] [--seeds 5] [--workers 2]

Per schedule, ``actlab.train.compare`` trains relu and swish on the same seeds (common random numbers: the same
weights and, for the same schedule, the same data order). The schedule effect is then paired per activation and
seed (cyclical − constant test accuracy), with the same paired t-test and interval as compare() (actlab.train.paired_test).
Both schedules take the same number of optimizer steps; the cyclical one sees more examples (its batches grow).
"""

from __future__ import annotations

import argparse
import dataclasses
import time


from actlab.train import BATCH_SCHEDULES, compare, get_task, make_batch_schedule, paired_test


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="mnist1d-mlp")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--schedules", default="constant,cyclical", help=f"from {', '.join(BATCH_SCHEDULES)}")
    ap.add_argument("--acts", default="swish", help="compared against the task's baseline")
    a = ap.parse_args()
    base = get_task(a.task)
    names = a.schedules.split(",")
    comps = {}
    for name in names:
        task = dataclasses.replace(base, batch_schedule=name)
        sizes = make_batch_schedule(name, task.batch_size, task.steps).sizes()
        t0 = time.perf_counter()
        comps[name] = compare(a.acts.split(","), task, seeds=a.seeds, workers=a.workers)
        print(f"\n## {a.task}, batch schedule {name}: {sum(sizes)} examples in {task.steps} steps "
              f"(batch {min(sizes)}..{max(sizes)}), {time.perf_counter() - t0:.0f} s wall")
        print("| activation | median test acc | mean | std | diverged |")
        print("| --- | --- | --- | --- | --- |")
        for r in comps[name].rows():
            print(f"| {r['act']} | {r['median']:.4f} | {r['mean']:.4f} | {r['std']:.4f} | {r['diverged']} |")
    ref = names[0]
    for name in names[1:]:
        print(f"\n## paired by seed: {name} − {ref} (test accuracy)")
        print("| activation | mean diff | 95% t CI | paired t p | wins/ties/losses |")
        print("| --- | --- | --- | --- | --- |")
        for act, ev in comps[name].evaluations.items():
            t = paired_test(ev.values, comps[ref].evaluations[act].values, act, ref)
            print(f"| {act} | {t.delta:+.4f} | [{t.ci_low:+.4f}, {t.ci_high:+.4f}] | {t.p:.3f} "
                  f"| {t.wins}/{t.ties}/{t.losses} |")


if __name__ == "__main__":
    main()
