"""Offline datasets with fixed train / validation / test splits, as in-memory tensors.

>>> from actlab.data import load
>>> ds = load("mnist1d")          # generated once with the mnist1d package, then cached as .npz
>>> ds.x_train.shape, ds.n_classes
(torch.Size([3600, 40]), 10)
"""

from . import _sources, _text  # noqa: F401  (fill the registry)
from ._registry import DATASETS, DataError, Dataset, DatasetSpec, clear_cache, default_data_dir, load
from ._sources import CIFAR_FOLDER, FASHION_DIR

__all__ = ["DATASETS", "DataError", "Dataset", "DatasetSpec", "load", "default_data_dir", "clear_cache",
           "FASHION_DIR", "CIFAR_FOLDER"]
