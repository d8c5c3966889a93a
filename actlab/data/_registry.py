"""The one dataset registry: every loader returns a :class:`Dataset` of in-memory tensors with fixed splits."""

from __future__ import annotations

import difflib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

__all__ = ["Dataset", "DatasetSpec", "DataError", "DATASETS", "register", "load", "default_data_dir", "clear_cache"]


class DataError(FileNotFoundError):
    """Data is missing, corrupt or mis-shaped; the message says which file and how to get it."""


@dataclass(frozen=True)
class Dataset:
    """Train / validation / test splits as normalised float32 inputs and int64 labels, all in memory.

    The validation split is held out from the original training data with a fixed permutation (the same for every
    run), so a search can rank candidates on it and keep the test split for final reports.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    source: str = ""  # what the data is (corpus, size, hash, split) where the reader says; recorded with results
    tokens: bool = False  # inputs are token ids in [0, n_classes) and labels one per position (language models)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one input sample, e.g. ``(40,)`` or ``(1, 28, 28)``."""
        return tuple(self.x_train.shape[1:])

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, shape={self.shape}, classes={self.n_classes}, train={len(self.y_train)}, "
                f"val={len(self.y_val)}, test={len(self.y_test)})")


@dataclass(frozen=True)
class DatasetSpec:
    """One registry entry.

    Args:
        name: registry key.
        read: ``read(data_dir) -> (x_train, y_train, x_test, y_test, n_classes[, source])`` as numpy arrays (inputs
            normalised features, or token ids when ``tokens``),
            already normalised (``source``: a description with the data's hash, see :attr:`Dataset.source`);
            ``data_dir`` is ``None`` when the caller gave none (the reader picks its default location).
        val_fraction: share of the training data held out for validation (a fixed permutation).
        description: one line for listings.
    """

    name: str
    read: Callable[[Path | None], tuple]
    val_fraction: float
    description: str
    tokens: bool = False


DATASETS: dict[str, DatasetSpec] = {}

# Fixed seed of the train/validation split: the split is part of the dataset, not of a run.
_SPLIT_SEED = 20170101
_cache: dict[tuple[str, str], Dataset] = {}
_lock = threading.Lock()


def register(name: str, val_fraction: float, description: str, tokens: bool = False) -> Callable[[Callable], Callable]:
    """Decorator entering a reader function into :data:`DATASETS` (``tokens``: inputs are token ids)."""

    def wrap(read: Callable) -> Callable:
        if name in DATASETS:
            raise ValueError(f"dataset {name!r} is registered twice")
        DATASETS[name] = DatasetSpec(name, read, val_fraction, description, tokens)
        return read

    return wrap


def default_data_dir() -> Path:
    """Where generated data (MNIST-1D) is cached: ``$ACTLAB_DATA_DIR`` or ``~/.cache/actlab/data``."""
    env = os.environ.get("ACTLAB_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "actlab" / "data"


def _spec(name: str) -> DatasetSpec:
    key = name.lower().replace("_", "-")
    if key not in DATASETS:
        close = difflib.get_close_matches(key, list(DATASETS), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown dataset {name!r}{hint} (known: {', '.join(DATASETS)})")
    return DATASETS[key]


def load(name: str, data_dir: str | Path | None = None) -> Dataset:
    """Load dataset ``name`` (see :data:`DATASETS`) with its train/val/test splits; cached per process.

    Args:
        name: ``"mnist1d"``, ``"fashion-mnist"``, ``"cifar10"`` or ``"digits"``.
        data_dir: where the files are (or, for MNIST-1D, where the generated copy is cached). ``None`` uses each
            dataset's default location.

    Raises:
        KeyError: unknown name (lists the closest ones).
        DataError: missing, corrupt or mis-shaped files; the message says how to get the data.
    """
    spec = _spec(name)
    key = (spec.name, str(Path(data_dir).expanduser().resolve()) if data_dir is not None else "")
    with _lock:
        if key in _cache:
            return _cache[key]
    xtr, ytr, xte, yte, n_classes, *rest = spec.read(Path(data_dir).expanduser() if data_dir is not None else None)
    n_val = int(round(len(xtr) * spec.val_fraction))
    if len(xtr) < 2 or not 0 < n_val < len(xtr):
        raise DataError(f"{spec.name}: {len(xtr)} training samples are too few to hold out a validation split")
    perm = np.random.default_rng(_SPLIT_SEED).permutation(len(xtr))
    val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])

    def t(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(dtype)

    ds = Dataset(spec.name, t(xtr[train], torch.float32), t(ytr[train], torch.int64),
                 t(xtr[val], torch.float32), t(ytr[val], torch.int64),
                 t(xte, torch.float32), t(yte, torch.int64), int(n_classes), str(rest[0]) if rest else "",
                 spec.tokens)
    with _lock:
        _cache[key] = ds
    return ds


def clear_cache() -> None:
    """Forget loaded datasets (tests use this after writing new files)."""
    with _lock:
        _cache.clear()
