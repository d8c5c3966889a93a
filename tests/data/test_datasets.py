from __future__ import annotations

import gzip
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from actlab.data import DATASETS, FASHION_DIR, DataError, clear_cache, load

from _datahelpers import FASHION_AVAILABLE, write_cifar


def _skip_unavailable(name: str) -> None:
    if name == "fashion-mnist" and not FASHION_AVAILABLE:
        pytest.skip("Debian package dataset-fashion-mnist not installed")


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_loads_with_consistent_splits(name: str, data_dirs: dict) -> None:
    _skip_unavailable(name)
    ds = load(name, data_dirs.get(name))
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert len(x) == len(y) > 0 and tuple(x.shape[1:]) == ds.shape
        assert torch.isfinite(x).all()
        assert 0 <= int(y.min()) and int(y.max()) < ds.n_classes
    if ds.tokens:  # token ids in the vocabulary, one label per position
        assert bool((ds.x_train == ds.x_train.round()).all()) and 0 <= float(ds.x_train.min())
        assert float(ds.x_train.max()) < ds.n_classes and ds.y_train.shape == ds.x_train.shape
        return
    # normalised with training statistics
    assert abs(float(ds.x_train.mean())) < 0.05 and abs(float(ds.x_train.std()) - 1) < 0.05
    # validation is held out of the training rows, not taken from the test split
    assert len(ds.x_val) < len(ds.x_train)
    assert not torch.equal(ds.x_val[:1], ds.x_test[:1])


@pytest.mark.parametrize("name", list(DATASETS))
def test_split_is_fixed_across_loads(name: str, data_dirs: dict) -> None:
    _skip_unavailable(name)
    a = load(name, data_dirs.get(name))
    clear_cache()
    b = load(name, data_dirs.get(name))
    assert a is not b
    assert torch.equal(a.x_val, b.x_val) and torch.equal(a.y_train, b.y_train)


@pytest.mark.skipif(not FASHION_AVAILABLE, reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_real_files() -> None:
    ds = load("fashion-mnist")
    assert ds.shape == (1, 28, 28)
    assert len(ds.y_train) + len(ds.y_val) == 60000 and len(ds.y_test) == 10000
    assert sorted(torch.bincount(ds.y_test).tolist()) == [1000] * 10


def test_mnist1d_sizes(mnist1d_dir: Path) -> None:
    ds = load("mnist1d", mnist1d_dir)
    assert ds.shape == (40,) and len(ds.y_train) + len(ds.y_val) == 4000 and len(ds.y_test) == 1000


def test_cifar_generated_files(cifar_dir: Path) -> None:
    ds = load("cifar10", cifar_dir)
    assert ds.shape == (3, 32, 32)
    assert len(ds.y_train) + len(ds.y_val) == 5 * 20 and len(ds.y_test) == 20
    clear_cache()
    assert torch.equal(load("cifar10", cifar_dir.parent).x_test, ds.x_test)  # the parent folder works too


def test_unknown_dataset_suggests() -> None:
    with pytest.raises(KeyError, match="fashion-mnist"):
        load("fashon-mnist")


def test_missing_fashion_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="dataset-fashion-mnist"):
        load("fashion-mnist", tmp_path)


def _write_idx(path: Path, arr: np.ndarray, header: bytes | None = None) -> None:
    head = header if header is not None else struct.pack(">HBB", 0, 8, arr.ndim) + struct.pack(
        f">{arr.ndim}I", *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(head + arr.astype(np.uint8).tobytes())


def _fake_fashion(root: Path, n: int = 12) -> None:
    rng = np.random.default_rng(0)
    for split, m in (("train", n), ("t10k", n)):
        _write_idx(root / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 255, (m, 28, 28)))
        _write_idx(root / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, m))


def test_fashion_from_data_dir(tmp_path: Path) -> None:
    _fake_fashion(tmp_path)
    ds = load("fashion-mnist", tmp_path)
    assert len(ds.y_train) + len(ds.y_val) == 12


@pytest.mark.parametrize("damage, message", [
    ("truncate", "declares shape"),
    ("magic", "not an IDX file"),
    ("not-gzip", "not a readable gzip"),
    ("shape", "expected 28x28"),
])
def test_corrupt_fashion_names_the_file(tmp_path: Path, damage: str, message: str) -> None:
    _fake_fashion(tmp_path)
    target = tmp_path / "train-images-idx3-ubyte.gz"
    if damage == "truncate":
        raw = gzip.open(target).read()
        with gzip.open(target, "wb") as f:
            f.write(raw[:-100])
    elif damage == "magic":
        _write_idx(target, np.zeros((12, 28, 28)), header=struct.pack(">HBB", 0, 9, 3) + struct.pack(">3I", 12, 28, 28))
    elif damage == "not-gzip":
        target.write_bytes(b"hello")
    else:
        _write_idx(target, np.zeros((12, 27, 28)))
    with pytest.raises(DataError, match=message) as err:
        load("fashion-mnist", tmp_path)
    assert "train-images" in str(err.value)


def test_missing_cifar_describes_layout(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cifar-10-batches-py") as err:
        load("cifar10", tmp_path)
    assert "data_batch_1" in str(err.value) and "cs.toronto.edu" in str(err.value)


@pytest.mark.parametrize("damage, message", [
    ("garbage", "not a readable CIFAR-10 pickle"),
    ("keys", "lacks the b'data'"),
    ("shape", r"expected \[N, 3072\]"),
])
def test_corrupt_cifar_names_the_file(tmp_path: Path, damage: str, message: str) -> None:
    folder = write_cifar(tmp_path, per_batch=4)
    target = folder / "data_batch_3"
    if damage == "garbage":
        target.write_bytes(b"\x80\x04garbage")
    elif damage == "keys":
        target.write_bytes(pickle.dumps({b"labels": [1]}))
    else:
        target.write_bytes(pickle.dumps({b"data": np.zeros((4, 100), np.uint8), b"labels": [0, 1, 2, 3]}))
    with pytest.raises(DataError, match=message) as err:
        load("cifar10", folder)
    assert "data_batch_3" in str(err.value)


def test_corrupt_mnist1d_cache(tmp_path: Path, mnist1d_dir: Path) -> None:
    (tmp_path / "mnist1d.npz").write_bytes(b"not an npz")
    with pytest.raises(DataError, match="corrupt"):
        load("mnist1d", tmp_path)
    shutil.copy(mnist1d_dir / "mnist1d.npz", tmp_path / "mnist1d.npz")
    assert load("mnist1d", tmp_path).shape == (40,)


def test_default_fashion_dir_is_debian_location() -> None:
    assert FASHION_DIR == Path("/usr/share/datasets/fashion-mnist")
