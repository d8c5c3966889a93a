from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from actlab.bench import replay, table
from actlab.search import SearchConfig, SearchSpace, make_space
from tests.bench._synthetic import synthetic_table


@dataclass
class Synthetic:
    path: Path
    runs: Path
    space: SearchSpace  # the table's space, shared so that its caches (identities, renders) are built once


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One runs dir per session: the 1-unit space's exhaustive order (seconds to compute) is cached there once."""
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory, runs_dir: Path) -> Synthetic:
    """A synthetic table of 300 random functions of the 1-unit space."""
    path = tmp_path_factory.mktemp("synthetic") / "syn.csv.gz"
    synthetic_table(path, limit=300, runs_dir=runs_dir)
    fns = table.load(path).functions()
    return Synthetic(path, runs_dir, replay.TableSpace(make_space(SearchConfig(runs_dir=str(runs_dir))), set(fns)))
