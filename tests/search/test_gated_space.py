"""--space gated: the 1-unit space's functions searched as gates f of f(g)·a."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import actlab
from actlab.search import SearchConfig, run_search
from actlab.search._config import BASELINES, GATED_BASELINES
from actlab.search._objective import Job, run_job

SEEN: list[dict[str, Any]] = []


def recording_eval(expression: str, task: str, seed: int, steps: int | None, report: Any,
                   **kw: Any) -> dict[str, Any]:
    SEEN.append({"expression": expression, **kw})
    return {"val_acc": 0.5, "test_acc": 0.5, "steps_done": 1}


def test_the_gated_space_is_the_one_unit_space_with_gated_baselines() -> None:
    cfg = SearchConfig(task="digits-mlp", space="gated", check_task="none")
    assert cfg.gated and cfg.units == 1 and cfg.baselines == GATED_BASELINES
    assert "gated" in cfg.study_name() and cfg.protocol()["space"] == "gated"
    assert SearchConfig(task="digits-mlp", check_task="none").baselines == BASELINES
    with pytest.raises(ValueError, match="1 or 2 .* or gated"):
        _ = SearchConfig(task="digits-mlp", space="3", check_task="none").units


def test_a_gated_job_tells_the_evaluator_and_a_plain_one_does_not() -> None:
    SEEN.clear()
    ev = f"{__name__}:recording_eval"
    run_job(Job(key=0, expression="x * tanh(x)", task="t", seeds=(0,), evaluator=ev, analyse=False, gated=True))
    run_job(Job(key=1, expression="x * tanh(x)", task="t", seeds=(0,), evaluator=ev, analyse=False))
    assert SEEN[0].get("gated") is True and "gated" not in SEEN[1]


def test_a_gated_search_trains_gates_and_the_gated_baselines(tmp_path: Path) -> None:
    cfg = SearchConfig(task="digits-mlp", space="gated", strategy="random", budget="2", steps=30, seeds=1,
                       race_seeds=0, top_k=1, reeval_seeds=2, check_task="none", workers=1, runs_dir=str(tmp_path),
                       pruner="none", baselines=("relu", "swiglu"))
    res = run_search(cfg)
    board = res.board
    kinds = {r.name: r.kind for r in board.rows}
    assert set(kinds.values()) == {"found", "baseline"} and {"relu", "swiglu"} <= set(kinds)
    for r in board.rows:
        assert len(r.val) == 2 and r.failed == 0, (r.name, r.val, r.failed)
    # the export writes what the search trained: the GLU with the found gate
    from actlab.search import export_study

    path = export_study(res.study, res.storage, 1, tmp_path / "found.py", runs_dir=str(tmp_path))
    mod = _load(path)
    found = next(r.name for r in board.rows if r.kind == "found")
    x = torch.randn(3, 8, dtype=torch.float64)
    a, g = x.chunk(2, dim=-1)
    torch.testing.assert_close(mod.GatedFoundActivation()(x), a * mod.FoundActivation()(g))
    assert mod.EXPRESSION == found


def test_an_exported_gate_is_the_zoo_gated_activation() -> None:
    import tempfile

    from actlab.search import export_expression

    with tempfile.TemporaryDirectory() as d:
        mod = _load(export_expression("x * sigmoid(x)", Path(d) / "m.py", gated=True))
    x = torch.randn(4, 10)
    torch.testing.assert_close(mod.GatedFoundActivation()(x), actlab.get("swiglu")(x), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(mod.GatedFoundActivation(gate_last=False)(x),
                               actlab.get("swiglu", gate_last=False)(x), atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="even last dimension"):
        mod.GatedFoundActivation()(torch.randn(2, 5))


def _load(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_loss_metric_is_minimised_and_refuses_the_test_split() -> None:
    cfg = SearchConfig(task="digits-mlp", metric="val_loss", check_task="none")
    assert cfg.directions == ["minimize"] and cfg.study_name().endswith("-val_loss")
    assert SearchConfig(task="digits-mlp", check_task="none").directions == ["maximize"]
    with pytest.raises(ValueError, match="validation metric .* use val_loss"):
        SearchConfig(task="digits-mlp", metric="test_loss", check_task="none")
    with pytest.raises(ValueError, match="unknown metric"):
        SearchConfig(task="digits-mlp", metric="perplexity", check_task="none")


def test_a_loss_search_ranks_the_lowest_loss_first(tmp_path: Path) -> None:
    cfg = SearchConfig(task="digits-mlp", metric="val_loss", strategy="evolution", budget="4", steps=30, seeds=1,
                       race_seeds=1, top_k=2, reeval_seeds=2, check_task="none", workers=1,
                       runs_dir=str(tmp_path), baselines=("relu",), extra={"population": 2, "sample": 2})
    res = run_search(cfg)
    board = res.board
    assert board.config["metric"] == "val_loss"
    means = [r.test_ci[0] for r in board.rows]
    assert means == sorted(means)  # lowest test loss ranks first
    for r in board.rows:  # losses in nats: chance is log(10) = 2.3
        assert all(0 < v < 5 for v in r.val.values()), r.val
    found = [r for r in board.rows if r.kind == "found"]
    assert found and all(t.sign == -1 for r in found for t in r.vs.values())
