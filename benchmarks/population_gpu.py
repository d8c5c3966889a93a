"""Trainings per hour on a GPU: K members trained together (``train_population``, device cuda) for growing K, until
memory or throughput stops growing; members are checked against their solo runs on the same device.

    PYTHONPATH=. python benchmarks/population_gpu.py --json $OUT/population_gpu.json

Exits 0 with a message where there is no CUDA device. The population loop shares batches, one backward call and one
optimizer step; its layers still run one member at a time, so what a GPU gains here is the launch overhead the
shared step saves, not yet batched matmuls.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from actlab.train import train_one, train_population

ACTS = ["relu", "isrlu", "gelu", "swish", "elu", "tanh", "mish", "softplus", "x * erf(x)", "sin(x) * max(x, 0)",
        "x - abs(x)", "-x * atan(x)", "x^2 - x", "sinc(x) - cos(x)", "abs(x) * tanh(x)", "x * cos(x)"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="mnist1d-cnn")
    ap.add_argument("--k", default="1,16,64,256")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print(f"population_gpu: no CUDA device (torch {torch.__version__}); run this on a machine with a GPU")
        return 0
    rows = []
    for k in map(int, args.k.split(",")):
        acts = [ACTS[i % len(ACTS)] for i in range(k)]
        try:
            train_population(acts[:2], args.task, seed=0, steps=5, device="cuda")
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            t = time.perf_counter()
            pop = train_population(acts, args.task, seed=0, steps=args.steps, device="cuda")
            torch.cuda.synchronize()
            dt = time.perf_counter() - t
        except torch.cuda.OutOfMemoryError:
            print(f"K={k}: out of memory")
            break
        solo = train_one(acts[0], args.task, seed=0, steps=args.steps, device="cuda")
        row = {"task": args.task, "k": k, "steps": args.steps, "seconds": dt, "trainings_per_hour": 3600 * k / dt,
               "peak_mb": torch.cuda.max_memory_allocated() / 2**20,
               "member0_val_acc": pop[0].val_acc, "solo0_val_acc": solo.val_acc}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"gpu": torch.cuda.get_device_name(), "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
