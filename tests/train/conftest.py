"""Train fixtures: one MNIST-1D cache per session, exported through $ACTLAB_DATA_DIR (so spawned workers see it),
tiny CIFAR-10 files in the real python-pickle format, and two small trained models for the attack tests."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn


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


@pytest.fixture(scope="session")
def trained() -> dict[str, nn.Module]:
    """Two small trained models (relu, swish: 300 steps of digits-mlp), parameters frozen."""
    from actlab.train import get_task, train_one

    task = dataclasses.replace(get_task("digits-mlp"), eval_every=1000)
    out: dict[str, nn.Module] = {}
    for act in ("relu", "swish"):
        train_one(act, task, seed=0, steps=300, on_model=lambda m, a=act: out.__setitem__(a, m))
    for m in out.values():
        for p in m.parameters():
            p.requires_grad_(False)
    return out


@pytest.fixture(scope="session")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    """The first 300 digits test examples."""
    from actlab.data import load

    ds = load("digits")
    return ds.x_test[:300], ds.y_test[:300]
