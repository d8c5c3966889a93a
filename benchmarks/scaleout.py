"""Scale-out costs (issue 11), measured side by side in one run on this machine:

1. child trainings per hour of a short search with 2 local workers against 2 workers on a 2-node Ray cluster
   (``ray.cluster_utils.Cluster``: two raylets on this machine, one CPU each);
2. one child training of a user-defined Task against the equivalent preset (same network, data and budget).

    PYTHONPATH=. .venv/bin/python benchmarks/scaleout.py [--trials 12] [--steps 300] [--rounds 2] [--json out.json]

Both comparisons alternate their two sides round by round and report medians, so load from other processes on the
shared cores hits both alike; read the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from torch import nn

from actlab.search import LocalExecutor, RayExecutor, SearchConfig, make_space
from actlab.search._engine import Driver
from actlab.train import TASKS, Task, train_one

TASK = "mnist1d-cnn"


def _search(executor: Any, trials: int, steps: int, tmp: Path, tag: str) -> float:
    """Child trainings per hour of one search phase on ``executor`` (its workers already started)."""
    cfg = SearchConfig(task=TASK, strategy="random", budget=trials, steps=steps, seed=hash(tag) % 1000,
                       storage=str(tmp / f"{tag}.db"), study=tag, analyse=False, pruner="none", runs_dir=str(tmp))
    driver = Driver(cfg, make_space(cfg))
    t0 = time.monotonic()
    res = driver.run(executor)
    return res.started / (time.monotonic() - t0) * 3600


def compare_executors(trials: int, steps: int, rounds: int) -> dict[str, Any]:
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}})
    local = LocalExecutor(2)
    remote = RayExecutor(cluster.address, 2)
    rates: dict[str, list[float]] = {"local": [], "ray": []}
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            _search(local, 2, 50, tmp, "warm-local")  # start the workers, fill the caches
            _search(remote, 2, 50, tmp, "warm-ray")
            for r in range(rounds):
                rates["local"].append(_search(local, trials, steps, tmp, f"local-{r}"))
                rates["ray"].append(_search(remote, trials, steps, tmp, f"ray-{r}"))
    finally:
        local.close()
        ray.shutdown()
        cluster.shutdown()
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {"trials": trials, "steps": steps, "rounds": rates, "local_per_hour": med["local"],
            "ray_per_hour": med["ray"], "ray_overhead": med["local"] / med["ray"]}


def _user_cnn(act_layer: Any) -> nn.Module:
    from actlab.models import CNN1D

    return CNN1D(in_shape=(40,), n_classes=10, channels=25, act=act_layer)


def compare_tasks(steps: int, rounds: int) -> dict[str, Any]:
    preset = TASKS[TASK]
    user = Task("user-cnn", dataset=preset.dataset, model=_user_cnn, optimizer=preset.optimizer, lr=preset.lr,
                steps=preset.steps, batch_size=preset.batch_size, eval_every=preset.eval_every)
    times: dict[str, list[float]] = {"preset": [], "user": []}
    train_one("relu", preset, seed=0, steps=20)  # data and kernels loaded
    for r in range(rounds * 3):
        for name, task in (("preset", preset), ("user", user)):
            times[name].append(train_one("relu", task, seed=r, steps=steps).wall_time)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"steps": steps, "seconds": times, "preset_s": med["preset"], "user_s": med["user"],
            "user_overhead": med["user"] / med["preset"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    tasks = compare_tasks(a.steps, a.rounds)
    print(f"user Task vs preset ({TASK}, {a.steps} steps, median of {3 * a.rounds}): {tasks['user_s']:.2f} s vs "
          f"{tasks['preset_s']:.2f} s per child -> {tasks['user_overhead']:.3f}x")
    ex = compare_executors(a.trials, a.steps, a.rounds)
    print(f"search on {TASK} ({a.steps} steps, {a.trials} trials, median of {a.rounds}): 2 local workers "
          f"{ex['local_per_hour']:.0f} children/h, 2 workers on a 2-node Ray cluster {ex['ray_per_hour']:.0f} "
          f"children/h -> Ray overhead {ex['ray_overhead']:.3f}x")
    if a.json:
        a.json.write_text(json.dumps({"tasks": tasks, "executors": ex}, indent=1))


if __name__ == "__main__":
    main()
