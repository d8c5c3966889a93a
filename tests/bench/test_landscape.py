"""A table's landscape under a validation metric: ranking, quantiles, who beats each baseline, the histogram."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from actlab.bench import table
from actlab.bench.landscape import landscape, plot_landscape


def test_landscape_ranks_functions_and_counts_who_beats_each_baseline(synthetic, tmp_path: Path) -> None:
    tab = table.load(synthetic.path)
    land = landscape(tab, top=5)
    means = sorted((f.mean_val for f in tab.functions().values()), reverse=True)
    assert land.functions == len(means) and [t[1] for t in land.top] == means[:5]
    relu_val, n = land.beat["relu"]
    assert n == sum(v > relu_val for v in means)
    assert land.quantiles["max"] == means[0] and land.quantiles["min"] == means[-1]
    assert plot_landscape(tab, tmp_path / "h.png").stat().st_size > 1000


def test_a_landscape_by_loss_ranks_lowest_first_and_a_table_without_losses_says_so(synthetic, tmp_path) -> None:
    tab = table.load(synthetic.path)
    acc, loss = landscape(tab, top=10), landscape(tab, top=10, metric="val_loss")
    assert [e for e, _, _ in loss.top] == [e for e, _, _ in acc.top]  # the synthetic loss falls as accuracy rises
    assert loss.metric == "val_loss" and loss.top[0][1] == loss.quantiles["min"]
    assert {b: n for b, (_, n) in loss.beat.items()} == {b: n for b, (_, n) in acc.beat.items()}
    assert plot_landscape(tab, tmp_path / "l.png", metric="val_loss").stat().st_size > 1000
    old = table.Table("old.csv.gz", {}, [dataclasses.replace(r, val_loss=math.nan) for r in tab.rows])
    with pytest.raises(ValueError, match=r"old.csv.gz: \d+ of \d+ rows have no val_loss"):
        landscape(old, metric="val_loss")
    f = next(iter(tab.functions().values()))
    failed = table.Function(f.expression, f.fingerprint, "candidate",
                            [dataclasses.replace(f.rows[0], status="failed"), f.rows[1]])
    assert failed.score("val_loss") == math.inf and failed.score("val_acc") == f.rows[1].val_acc / 2
