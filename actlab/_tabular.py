"""Notebook views of result tables: ``_repr_html_`` and ``to_pandas()`` for any class that lists its rows.

A leaf (standard library only) that any layer may use. A class mixes in :class:`Tabular` and defines
``_table_rows() -> list[dict]``; the HTML table and the DataFrame are built from those dicts, so a field added to a
row shows up in both without a change here. pandas stays optional: ``to_pandas()`` names it when it is missing.
"""

from __future__ import annotations

import html
import math
from typing import Any

from ._extras import require

__all__ = ["Tabular", "html_table", "cell_text"]

_MAX_LIST = 12  # longer lists (per-step curves) are summarised, not printed


def cell_text(v: Any) -> str:
    """A short human-readable form of one cell (floats to 4 significant digits, short lists inline)."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "—" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        if len(v) > _MAX_LIST or any(isinstance(x, (list, tuple, dict)) for x in v):
            return f"({len(v)} values)"
        return ", ".join(cell_text(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k}={cell_text(x)}" for k, x in v.items()) if len(v) <= _MAX_LIST else f"({len(v)} keys)"
    return str(v)


def html_table(rows: list[dict[str, Any]], title: str | None = None) -> str:
    """An HTML table of ``rows`` (columns: every key, in first-seen order), text escaped."""
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell_text(r.get(c)))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    caption = f"<caption>{html.escape(title)}</caption>" if title else ""
    return f'<table class="actlab-table">{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class Tabular:
    """Mixin: a rich HTML view in notebooks and a pandas DataFrame, from ``self._table_rows()``."""

    def _table_rows(self) -> list[dict[str, Any]]:
        raise NotImplementedError(f"{type(self).__name__} must define _table_rows() to be shown as a table")

    def _table_title(self) -> str | None:
        return None

    def _repr_html_(self) -> str:
        return html_table(self._table_rows(), self._table_title())

    def to_pandas(self) -> Any:
        """The rows as a ``pandas.DataFrame`` (one column per field; lists stay lists)."""
        pd = require("pandas", f"{type(self).__name__}.to_pandas()")
        return pd.DataFrame(self._table_rows())
