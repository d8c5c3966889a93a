"""Helpers for the data tests: tiny CIFAR-10 files in the real format, and whether the Debian files exist."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

CIFAR_PER_BATCH = 20


def write_cifar(root: Path, per_batch: int = CIFAR_PER_BATCH) -> Path:
    """Write data_batch_1..5, test_batch and batches.meta like the real cifar-10-batches-py folder.

    Labels are learnable (the class sets the image's brightness), so a few training steps can lower the loss.
    """
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, per_batch)
        data = rng.integers(0, 40, (per_batch, 3072)) + (labels[:, None] * 20)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data.astype(np.uint8), b"labels": labels.tolist(),
                         b"batch_label": name.encode()}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)]}, f)
    return folder


FASHION_AVAILABLE = all((Path(os.environ.get("ACTLAB_FASHION_DIR") or "/usr/share/datasets/fashion-mnist") / n).exists()
                        for n in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"))
