"""Viewing a study reads and never writes: a missing study creates nothing and names the studies that exist, a study
on a read-only file system opens, and a search in a read-only directory fails in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from actlab.search import open_stored
from actlab.search._study import StorageError, open_study, storage_url, view_url


def _make(runs: Path, name: str) -> None:
    st = open_study(name, storage_url(name, None, runs), ["maximize"], config={"task": "digits-mlp"})
    st.tell(st.ask(), 0.5)
    st._storage._backend.engine.dispose()  # type: ignore[attr-defined]  # closing checkpoints the WAL into the file


def test_a_missing_study_creates_nothing_and_lists_what_exists(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="holds no study"):
        open_stored("nope", str(tmp_path / "a" / "b" / "c.db"))
    assert list(tmp_path.iterdir()) == []
    runs = tmp_path / "runs"
    _make(runs, "evolution-digits-mlp-u1")
    with pytest.raises(FileNotFoundError, match="studies in .*evolution-digits-mlp-u1"):
        open_stored("evolution-digits-mlp-u2", runs_dir=str(runs))
    assert sorted(p.name for p in runs.glob("*.db")) == ["evolution-digits-mlp-u1.db"]


def test_a_stored_study_opens_read_only(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _make(runs, "s")
    url = view_url("s", None, runs)
    assert "mode=ro" in url and "immutable" not in url
    st = open_stored("s", runs_dir=str(runs))
    assert len(st.trials) == 1
    with pytest.raises(Exception):  # noqa: B017 - optuna wraps SQLite's "readonly database" in its own message
        st.set_user_attr("x", 1)
    assert "x" not in open_stored("s", runs_dir=str(runs)).user_attrs


def test_an_unwritable_directory_opens_the_study_immutable(tmp_path: Path, monkeypatch) -> None:
    runs = tmp_path / "runs"
    _make(runs, "s")
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK else real(p, mode))
    url = view_url("s", None, runs)
    assert "immutable=1" in url
    assert len(open_stored("s", runs_dir=str(runs)).trials) == 1


def test_a_search_that_cannot_create_its_directory_says_so(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the runs directory should go: mkdir fails as on a read-only disk
    with pytest.raises(StorageError, match="cannot create the study directory .*--storage PATH"):
        storage_url("s", None, blocker / "runs")
