"""What the driver pays per job and per result as a study grows: the old rescan of every trial against the
driver's view (``actlab.search._shared.SharedStudy``), side by side on the same SQLite study.

    PYTHONPATH=. python benchmarks/driver_view.py --json benchmarks/driver_view.json

Per job the driver needs the pruner's history (every finished trial's curve); per result, whether it enters the
running top-k. The rescan rebuilt both from ``study.get_trials()`` each time, so a study of N trials cost O(N) per
event and O(N²) in all; the view adds each finished trial once. Also timed: the worker's side of pruning (the
snapshot study built from the history it is sent), which is still O(N) per job.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState, create_trial

from actlab.search._objective import PruneSpec, _Pruning
from actlab.search._shared import SharedStudy
from actlab.search._study import direction_sign, evaluated, open_study, scalar


def _rescan(study: optuna.Study, value: float, k: int = 5) -> tuple[list, bool]:
    """What the driver computed per job and per result before the view (the code it replaced)."""
    hist = [(t.number, t.state.name, dict(t.intermediate_values), t.value if t.values else None,
             {a: v for a, v in t.system_attrs.items() if a.startswith("completed_rung")})
            for t in evaluated(study) if t.state in (TrialState.COMPLETE, TrialState.PRUNED) and t.intermediate_values]
    sign = direction_sign(study)
    vals = sorted((sign * v for v in (scalar(t) for t in evaluated(study)) if v is not None), reverse=True)
    return hist, len(vals) < k or sign * value >= vals[k - 1]


def _time(f, repeat: int = 7) -> float:
    f()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(n: int, tmp: Path) -> dict:
    study = open_study(f"s{n}", f"sqlite:///{tmp / f's{n}.db'}", ["maximize"])
    study.add_trials([create_trial(state=TrialState.COMPLETE, value=i / n, params={}, distributions={},
                                   intermediate_values={100: 0.3, 300: 0.5, 900: 0.6},
                                   system_attrs={"completed_rung_0": 0.3},
                                   user_attrs={"identity": f"id{i}", "expression": f"e{i}"}) for i in range(n)])
    shared = SharedStudy(study, "bench")
    old = _time(lambda: _rescan(study, 0.5))
    new = _time(lambda: (shared.curves(), shared.in_top_k(0.5, 5)))
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=100, reduction_factor=3)
    worker = _time(lambda: _Pruning(PruneSpec(pruner, history=shared.curves())), repeat=3)
    return {"trials": n, "rescan_ms": 1e3 * old, "view_ms": 1e3 * new, "worker_snapshot_ms": 1e3 * worker}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, nargs="+", default=[300, 1000, 3000])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as d:
        rows = [measure(n, Path(d)) for n in args.trials]
    print(f"{'trials':>7} {'rescan ms':>10} {'view ms':>8} {'worker snapshot ms':>19}")
    for r in rows:
        print(f"{r['trials']:>7} {r['rescan_ms']:>10.2f} {r['view_ms']:>8.3f} {r['worker_snapshot_ms']:>19.1f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "date": time.strftime("%Y-%m-%d")}, indent=1) + "\n")


if __name__ == "__main__":
    main()
