"""Child trainings per hour of a short search on CUDA (issue 11), for a machine with a GPU.

    PYTHONPATH=. .venv/bin/python benchmarks/search_cuda.py [--task mnist1d-cnn] [--trials 24] [--steps 1000]
        [--workers-per-gpu 2] [--json out.json]

Runs the search phase twice on the same task and budget: once with every worker on the CUDA devices (``--device
cuda``: worker k on GPU k % count, ``--workers-per-gpu`` workers each) and once on the CPU with the same number of
workers, and prints child trainings per hour for both. Without a GPU it exits with a message (status 1).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from actlab.search import SearchConfig, make_space
from actlab.search._engine import Driver


def rate(task: str, device: str, workers: int, trials: int, steps: int, tmp: Path) -> float:
    cfg = SearchConfig(task=task, device=device, strategy="random", budget=trials, steps=steps, workers=workers,
                       storage=str(tmp / f"{device}.db"), study=device, analyse=False, pruner="none",
                       runs_dir=str(tmp))
    t0 = time.monotonic()
    res = Driver(cfg, make_space(cfg)).run()
    return res.started / (time.monotonic() - t0) * 3600


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="mnist1d-cnn")
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--workers-per-gpu", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit(f"search_cuda: no CUDA device (torch {torch.__version__}, torch.cuda.is_available() is False); "
                 f"run this on a machine with a GPU and a CUDA build of PyTorch")
    gpus = torch.cuda.device_count()
    workers = gpus * a.workers_per_gpu
    with tempfile.TemporaryDirectory() as d:
        out = {dev: rate(a.task, dev, workers, a.trials, a.steps, Path(d)) for dev in ("cuda", "cpu")}
    name = torch.cuda.get_device_name(0)
    print(f"{a.task}, {a.steps} steps, {a.trials} trials, {workers} workers on {gpus} x {name}: "
          f"CUDA {out['cuda']:.0f} children/h, CPU {out['cpu']:.0f} children/h")
    if a.json:
        a.json.write_text(json.dumps(dict(vars(a), json=None, gpus=gpus, device_name=name, per_hour=out), indent=1))


if __name__ == "__main__":
    main()
