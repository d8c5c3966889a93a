"""Data fixtures: a session-wide MNIST-1D cache and tiny CIFAR-10 files in the real python-pickle format."""

from __future__ import annotations

from pathlib import Path

import pytest

from _datahelpers import write_cifar


@pytest.fixture(scope="session")
def mnist1d_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generate MNIST-1D once per test session (shared by xdist workers via the common temp root)."""
    d = tmp_path_factory.getbasetemp().parent / "actlab-data"
    d.mkdir(exist_ok=True)
    from actlab.data import load

    load("mnist1d", d)
    return d


@pytest.fixture(scope="session")
def cifar_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cifar(tmp_path_factory.mktemp("cifar"))


@pytest.fixture(scope="session")
def data_dirs(mnist1d_dir: Path, cifar_dir: Path) -> dict[str, Path | None]:
    """data_dir per dataset for registry-parametrized tests; None means the dataset's default location."""
    return {"mnist1d": mnist1d_dir, "cifar10": cifar_dir}
