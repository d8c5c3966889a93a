"""Train fixtures: one MNIST-1D cache per session, exported through $ACTLAB_DATA_DIR (so spawned workers see it),
and tiny CIFAR-10 files in the real python-pickle format."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.getbasetemp().parent / "actlab-data"
    d.mkdir(exist_ok=True)
    old = os.environ.get("ACTLAB_DATA_DIR")
    os.environ["ACTLAB_DATA_DIR"] = str(d)
    from actlab.data import load

    load("mnist1d", d)
    yield d
    if old is None:
        os.environ.pop("ACTLAB_DATA_DIR", None)
    else:
        os.environ["ACTLAB_DATA_DIR"] = old


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 images per batch whose class sets the brightness, so a few steps can learn something."""
    folder = tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, 30)
        data = (rng.integers(0, 40, (30, 3072)) + labels[:, None] * 20).astype(np.uint8)
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": labels.tolist()}))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"c%d" % i for i in range(10)]}))
    return folder
