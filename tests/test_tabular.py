"""The notebook views (actlab/_tabular.py): every row field in the HTML and the DataFrame; pandas optional."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from actlab._extras import MissingExtraError
from actlab._tabular import Tabular, cell_text


@dataclass
class _Board(Tabular):
    rows: list[dict]

    def _table_rows(self) -> list[dict]:
        return self.rows


ROWS = [{"name": "x * sigmoid(beta * x)", "test": [0.91, 0.9], "p": float("nan"), "ok": True},
        {"name": "<relu>", "extra": {"alpha": 1.0}}]


def test_html_has_every_field_of_every_row_escaped() -> None:
    page = _Board(ROWS)._repr_html_()
    for key in ("name", "test", "p", "ok", "extra"):
        assert f"<th>{key}</th>" in page
    assert "&lt;relu&gt;" in page and "<relu>" not in page and "0.91, 0.9" in page and "alpha=1" in page


def test_cells_are_short() -> None:
    assert cell_text(list(range(100))) == "(100 values)" and cell_text(None) == "—" and cell_text(0.123456) == "0.1235"


def test_to_pandas_and_its_one_line_error_without_pandas(monkeypatch) -> None:
    pd = pytest.importorskip("pandas")
    df = _Board(ROWS).to_pandas()
    assert isinstance(df, pd.DataFrame) and list(df.columns) == ["name", "test", "p", "ok", "extra"]
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingExtraError, match=r"_Board.to_pandas\(\) needs pandas.*pip install 'actlab\[report\]'"):
        _Board(ROWS).to_pandas()


def test_result_classes_are_tabular() -> None:
    pytest.importorskip("optuna")
    from actlab.search import Board
    from actlab.train import Comparison, Evaluation

    for cls in (Board, Comparison, Evaluation):
        assert issubclass(cls, Tabular) and cls._table_rows is not Tabular._table_rows, cls
