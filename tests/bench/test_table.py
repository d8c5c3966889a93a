"""The table builder: an exhaustive study trained once per seed, exported with its protocol, reproducible."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

import actlab
from actlab.bench import table
from actlab.bench.table import STATUSES, TableRow

TASK, STEPS, SEEDS = "digits-mlp", 30, 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, runs_dir: Path) -> tuple[Path, table.Table]:
    tmp = tmp_path_factory.mktemp("table")
    out = tmp / "tiny.csv.gz"
    tab = table.build(out, task=TASK, steps=STEPS, seeds=SEEDS, limit=3, order="random", workers=2,
                      baselines=("relu",), runs_dir=str(runs_dir))
    return tmp, tab


@pytest.mark.slow
def test_build_writes_every_function_and_baseline_per_seed_with_its_protocol(tiny) -> None:
    tmp, tab = tiny
    fns, base = tab.functions(), tab.functions("baseline")
    assert len(fns) == 3 and list(base) == ["relu"]
    side = json.loads(table.sidecar_path(tmp / "tiny.csv.gz").read_text())
    assert all(sorted(r.seed for r in f.rows) == list(range(SEEDS)) for f in fns.values())
    assert all(sorted(r.seed for r in f.rows) == side["baseline_seeds"] for f in base.values())
    assert len(side["baseline_seeds"]) == SEEDS
    assert all(r.status in STATUSES for r in tab.rows)
    ok = [r for r in tab.rows if r.status == "ok"]
    assert ok and all(0 <= r.val_acc <= 1 and math.isfinite(r.train_loss) and r.seconds > 0 for r in ok)
    assert all(fp == actlab.expr.fingerprint(f.expression) for fp, f in fns.items())
    side = json.loads(table.sidecar_path(tmp / "tiny.csv.gz").read_text())
    assert side["task"] == TASK and side["steps"] == STEPS and side["seeds"] == list(range(SEEDS))
    assert {"actlab_version", "git_commit", "torch_version"} <= set(side) and side["functions"] == 3
    assert side["cpu"] == actlab.train.cpu_signature()
    assert table.load(tmp / "tiny.csv.gz").rows == tab.rows  # floats read back exactly


@pytest.mark.slow
def test_rows_reproduce_exactly_with_the_public_evaluate(tiny) -> None:
    _, tab = tiny
    p = tab.protocol
    sample = [tab.rows[0], tab.rows[3], next(r for r in tab.rows if r.kind == "baseline")]
    for r in sample:
        ev = actlab.evaluate(r.expression, task=p["task"], seeds=[r.seed], steps=p["steps"], metric="val_acc")
        assert ev.median == r.val_acc, r
        assert ev.results[0].train_loss == r.train_loss, r


@pytest.mark.slow
def test_a_build_in_populations_writes_the_same_rows(tmp_path: Path) -> None:
    tab, pop = (table.build(tmp_path / f"p{k}.csv.gz", task=TASK, steps=STEPS, seeds=SEEDS, limit=5, workers=w,
                            baselines=("relu",), runs_dir=str(tmp_path), population=k) for k, w in ((1, 2), (4, 1)))

    def rows(t: table.Table) -> list[tuple]:  # everything but the time each row took
        return sorted((r.kind, r.expression, r.seed, r.val_acc, r.test_acc, r.train_loss, r.val_loss, r.status)
                      for r in t.rows)

    assert rows(pop) == rows(tab)
    assert all(r.seconds > 0 for r in pop.rows)


@pytest.mark.slow
def test_a_rerun_resumes_and_a_larger_limit_extends_without_retraining(tiny, runs_dir: Path) -> None:
    tmp, first = tiny
    again = table.build(tmp / "tiny.csv.gz", task=TASK, steps=STEPS, seeds=SEEDS, limit=4, order="random",
                        workers=2, baselines=("relu",), runs_dir=str(runs_dir))
    old = {(r.expression, r.seed): r for r in first.rows}
    assert len(again.functions()) == 4
    assert all(old[(r.expression, r.seed)] == r for r in again.rows if (r.expression, r.seed) in old)


@pytest.mark.slow
def test_a_shard_skips_the_excluded_table_and_merges_into_one(tiny, runs_dir: Path) -> None:
    tmp, _ = tiny
    first = table.load(tmp / "tiny.csv.gz")  # a resume test may have extended it
    shard = table.build(tmp / "shard.csv.gz", task=TASK, steps=STEPS, seeds=SEEDS, limit=2, order="random",
                        workers=2, baselines=("relu",), runs_dir=str(runs_dir), exclude=(tmp / "tiny.csv.gz",))
    assert not set(shard.functions()) & set(first.functions()) and len(shard.functions()) == 2
    assert shard.protocol["space_counts"]["excluded"] == len(first.functions())
    both = table.merge([tmp / "tiny.csv.gz", tmp / "shard.csv.gz"], tmp / "both.csv.gz")
    assert list(both.functions()) == list(first.functions()) + list(shard.functions())
    assert both.functions("baseline")["relu"].rows == first.functions("baseline")["relu"].rows  # shards agree
    counts = first.protocol["space_counts"]
    assert both.protocol["space_counts"]["survivors"] == counts["survivors"]
    assert len(both.protocol["merged_from"]) == 2 and table.load(tmp / "both.csv.gz").rows == both.rows
    with pytest.raises(ValueError, match="another protocol .*steps"):
        table.build(tmp / "x.csv.gz", task=TASK, steps=STEPS + 1, seeds=SEEDS, limit=1, runs_dir=str(runs_dir),
                    exclude=(tmp / "tiny.csv.gz",))


def test_merge_refuses_other_protocols_and_shards_that_disagree(tmp_path: Path) -> None:
    proto = {**{k: 1 for k in table.SAME_PROTOCOL}, "cpu": actlab.train.cpu_signature()}
    row = TableRow("candidate", "x", "fp", 0, 0.5, 0.5, 0.1, "ok", 1.0)
    a, b, c, d = (tmp_path / f"{n}.csv.gz" for n in "abcd")
    table.write_rows(a, [row], proto)
    table.write_rows(b, [TableRow(**{**row.__dict__, "val_acc": 0.25})], proto)
    table.write_rows(c, [row], {**proto, "task": "other"})
    table.write_rows(d, [TableRow(**{**row.__dict__, "val_acc": 0.25})], {**proto, "cpu": {"model": "elsewhere"}})
    with pytest.raises(ValueError, match="differs between shards"):
        table.merge([a, b], tmp_path / "m.csv.gz")
    with pytest.raises(ValueError, match="another protocol .task"):
        table.merge([a, c], tmp_path / "m.csv.gz")
    with pytest.raises(ValueError, match="at least two"):
        table.merge([a], tmp_path / "m.csv.gz")
    with pytest.raises(ValueError, match="different or unrecorded CPUs"):
        table.merge([a, d], tmp_path / "m.csv.gz")
    assert not (tmp_path / "m.csv.gz").exists()
    # On mixed hardware the first shard's row stays and the other value is recorded, not lost.
    mixed = table.merge([a, d], tmp_path / "m.csv.gz", mixed_hardware=True)
    assert mixed.rows == [row] and mixed.protocol["disagreements"][0]["other_val_acc"] == 0.25
    assert [m["cpu"] for m in mixed.protocol["merged_from"]] == [proto["cpu"], {"model": "elsewhere"}]


def test_rows_round_trip_and_bad_files_fail_in_one_line(tmp_path: Path) -> None:
    rows = [TableRow("candidate", "x * sigmoid(x)", "abc", 0, 0.1 + 0.2, math.nan, 1 / 3, "diverged", 0.5),
            TableRow("baseline", "relu", "", 1, 0.9, 0.8, 0.25, "ok", 1.0)]
    path = tmp_path / "t.csv.gz"
    table.write_rows(path, rows, {"task": "x", "steps": 1, "seeds": [0, 1]})
    back = table.load(path)
    assert back.rows[0].val_acc == 0.1 + 0.2 and math.isnan(back.rows[0].test_acc) and back.rows[1] == rows[1]
    assert back.protocol["seeds"] == [0, 1] and table.sidecar_path(path) == tmp_path / "t.json"
    with pytest.raises(FileNotFoundError, match="no table"):
        table.load(tmp_path / "missing.csv.gz")
    bad = tmp_path / "bad.csv.gz"
    with gzip.open(bad, "wt") as f:
        f.write("a,b\n1,2\n")
    with pytest.raises(ValueError, match="lacks the columns"):
        table.load(bad)
    with pytest.raises(ValueError, match=r"must end in \.csv\.gz"):
        table.write_rows(tmp_path / "t.csv", rows, {})
    with pytest.raises(ValueError, match="order must be"):
        table.build(tmp_path / "x.csv.gz", order="alphabetical")


def test_losses_round_trip_and_tables_without_them_still_load(tmp_path: Path) -> None:
    row = TableRow("candidate", "x", "fp", 0, 0.5, 0.5, 0.1, "ok", 1.0, val_loss=1.25, test_loss=1.5)
    path = tmp_path / "l.csv.gz"
    table.write_rows(path, [row], {})
    assert table.load(path).rows == [row]
    old = tmp_path / "old.csv.gz"  # a table written before the loss columns existed
    with gzip.open(old, "wt") as f:
        f.write("kind,expression,fingerprint,seed,val_acc,test_acc,train_loss,status,seconds\n"
                "candidate,x,fp,0,0.5,0.5,0.1,ok,1.0\n")
    back = table.load(old).rows[0]
    assert back.val_acc == 0.5 and math.isnan(back.val_loss) and math.isnan(back.test_loss)


def test_failed_seeds_rank_at_zero_and_diverged_at_their_chance_accuracy() -> None:
    f = table.Function("e", "fp", "candidate", [
        TableRow("candidate", "e", "fp", 0, 0.8, 0.7, 0.1, "ok", 1.0),
        TableRow("candidate", "e", "fp", 1, math.nan, math.nan, math.nan, "failed", 1.0),
        TableRow("candidate", "e", "fp", 2, 0.1, 0.1, math.nan, "diverged", 1.0)])
    assert f.val == [0.8, 0.0, 0.1] and f.mean_val == pytest.approx(0.3)


@pytest.mark.slow
def test_a_gated_table_trains_gates_reproduces_and_replays(tmp_path: Path, runs_dir: Path) -> None:
    from actlab.bench import replay

    tab = table.build(tmp_path / "g.csv.gz", task=TASK, steps=STEPS, seeds=2, limit=3, workers=1, space="gated",
                      runs_dir=str(runs_dir), population=4)
    assert tab.protocol["space"] == "gated" and "glu(" in tab.protocol["reproduce"]
    assert [b for b in tab.functions("baseline")] == ["relu", "swiglu", "geglu", "reglu", "glu"]  # the gated board's
    row = next(r for r in tab.rows if r.kind == "candidate" and r.status == "ok")
    assert tab.activation(row) == f"glu({row.expression})"
    again = actlab.evaluate(tab.activation(row), task=TASK, seeds=[row.seed], steps=STEPS, metric="val_acc")
    assert again.median == row.val_acc
    rep = replay.replay_all(tab.path, repeats=1, budget=2, strategies=["random"], runs_dir=str(runs_dir))
    assert rep.functions == 3 and len(rep.strategies["random"].evals["top1pct"]) == 1
    with pytest.raises(ValueError, match="space must be 1 or gated"):
        table.build(tmp_path / "x.csv.gz", task=TASK, space="2")
