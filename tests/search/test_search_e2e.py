"""End to end on the real space and real training: every strategy, the leaderboard, show and export."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from actlab import expr
from actlab.search import STRATEGIES, SearchConfig, export_expression, export_study, run_search
from tests._saved import saved_count

# A real task where good functions clearly beat tanh and the identity in seconds of training (300 steps of the
# MNIST-1D CNN: relu ~0.75, tanh ~0.57, identity ~0.30 validation accuracy; about half of the prefiltered 1-unit
# functions beat tanh, so the best of 8 does unless a strategy is broken).
TASK, STEPS, BUDGET = "mnist1d-cnn", 300, 8


def _search(strategy: str, tmp_path: Path, **kw) -> object:
    cfg = SearchConfig(task=TASK, steps=kw.pop("steps", STEPS), strategy=strategy, budget=kw.pop("budget", BUDGET),
                       workers=2, runs_dir=str(tmp_path), top_k=1, reeval_seeds=2, baselines=kw.pop("baselines", ()),
                       analyse=False, pruner="none", check_task=None, race_seeds=0, **kw)
    return run_search(cfg)


@pytest.fixture(scope="module")
def reference() -> dict[str, float]:
    """Test accuracy of identity and tanh under the final stage's protocol (same task and steps, first fresh seed)."""
    from actlab.search._config import FRESH_SEED_BASE
    from actlab.search._candidate import train_candidate

    return {act: train_candidate(act, TASK, FRESH_SEED_BASE, STEPS, None)["test_acc"] for act in ("x", "tanh")}


@pytest.fixture(scope="module")
def exhaustive(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("exhaustive")
    return tmp, _search("exhaustive", tmp, baselines=("tanh",))


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_each_strategy_finds_better_than_identity_and_tanh(strategy: str, tmp_path: Path, exhaustive,
                                                          reference) -> None:
    if strategy == "exhaustive":
        res = exhaustive[1]
    else:
        res = _search(strategy, tmp_path, extra={"batch": 4} if strategy == "controller" else {})
    assert res.evaluated == BUDGET
    best = next(r for r in res.board.rows if r.kind == "found")
    first = best.test[min(best.test)]  # the first fresh seed
    # DNAS proposes the 8 most probable units of one supernet, which are correlated (on an AVX2 EPYC all 8 are
    # tanh/erf blends: 0.659 against tanh's 0.663), not 8 independent draws; its bar is tanh within the 0.02 that
    # the CPU alone moves a run (benchmarks/RESULTS.md, issue 13), and clearly above the identity.
    slack = 0.02 if strategy == "dnas" else 0.0
    assert first > reference["tanh"] - slack and first > reference["x"], (best, reference)


def test_the_leaderboard_trains_baselines_under_the_same_protocol(exhaustive, reference) -> None:
    board = exhaustive[1].board
    tanh = next(r for r in board.rows if r.kind == "baseline")
    assert tanh.name == "tanh" and tanh.test[min(tanh.test)] == reference["tanh"]  # same seed, same numbers
    assert len(tanh.test) == 2 and min(tanh.test) >= 1000  # fresh seeds, none of the search's
    found = board.rows[0]
    assert found.kind == "found" and found.vs["tanh"].delta > 0 and found.vs["tanh"].n == 2


def test_a_search_in_populations_trains_what_one_at_a_time_trains(exhaustive, tmp_path: Path) -> None:
    """--population 4: the same candidates, the same values and the same board as the search one at a time."""
    import optuna

    pop = _search("exhaustive", tmp_path, baselines=("tanh",), population=4)

    def trials(res: object) -> dict[str, list[float]]:
        study = optuna.load_study(study_name=res.study, storage=res.storage)
        return {t.user_attrs["expression"]: t.values for t in study.trials if t.values}

    assert trials(pop) == trials(exhaustive[1])
    assert [(r.name, r.test) for r in pop.board.rows] == [(r.name, r.test) for r in exhaustive[1].board.rows]


def test_multi_objective_search_gives_a_pareto_front_of_measured_costs(tmp_path: Path) -> None:
    res = _search("nsga2", tmp_path, objective="accuracy,speed", budget=3, steps=100)
    front = res.board.pareto
    assert front and all(r.cost is not None and r.cost > 0 for r in front)
    accs = [r.val_median for r in front]  # on a front, more accuracy costs more time
    costs = [r.cost for r in front]
    assert accs == sorted(accs, reverse=True) and costs == sorted(costs, reverse=True)


def test_robustness_objective_gives_a_non_dominated_front_of_clean_and_adversarial_accuracy(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    from actlab.search._candidate import train_candidate
    from actlab.search._records import AttackSpec
    from actlab.search._study import open_study

    res = _search("nsga2", tmp_path, objective="accuracy,robustness", budget=4, steps=100)
    study = open_study(res.study, res.storage, [], create=False)
    assert study.metric_names == ["val_acc", "adv_acc"]
    done = [t for t in study.get_trials() if t.state == TrialState.COMPLETE]
    assert len(done) >= 2 and all(len(t.values) == 2 for t in done)

    def dominated(v: list[float]) -> bool:
        return any(w[0] >= v[0] and w[1] >= v[1] and w != v for w in (t.values for t in done))

    front = res.board.pareto
    assert {r.trial for r in front} == {t.number for t in done if not dominated(t.values)}
    assert all(r.adv_score is not None for r in front)
    assert any(t.values[1] < t.values[0] for t in done)  # the attack does hurt
    # The recorded value is the attack's on the trained network: the same training and attack reproduce it.
    r = front[0]
    again = train_candidate(r.name, TASK, 0, 100, None, attack=AttackSpec("fgsm", 0.1))
    assert again["adv_acc"] == r.adv_score and again["val_acc"] == r.search_score
    found = next(row for row in res.board.rows if row.kind == "found")
    assert sorted(found.adv) == sorted(found.test) and len(found.adv) == 2  # fresh seeds attacked too
    from actlab.report.search import plot_search

    figs = plot_search(study, res.board, out_dir=tmp_path / "plots")
    assert "clean_vs_adversarial" in figs and (tmp_path / "plots" / "clean_vs_adversarial.png").stat().st_size > 1000
    assert "adv_acc" in found.to_json()


def test_rerunning_the_same_search_resumes_without_retraining(exhaustive) -> None:
    tmp, first = exhaustive
    again = _search("exhaustive", tmp)
    assert again.study == first.study and again.started == 0 and again.evaluated == first.evaluated


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_export_writes_a_module_equal_to_the_expression_module(exhaustive) -> None:
    tmp, res = exhaustive
    out = export_study(res.study, top=1, out=tmp / "my_act.py", runs_dir=str(tmp))
    mod = _import(out, "my_act")
    best = next(r for r in res.board.rows if r.kind == "found")
    assert mod.EXPRESSION == best.name
    e = expr.parse(best.name)
    ref = e.to_module(fused=False).double()
    act = mod.FoundActivation().double()
    with torch.no_grad():
        for i, p in enumerate(act.betas):
            p.fill_(0.6 + 0.3 * i)
        for i, p in enumerate(ref.parameters()):
            p.fill_(0.6 + 0.3 * i)
    x = torch.linspace(-4, 4, 257, dtype=torch.float64, requires_grad=True)
    for fused in (False, True):
        act.fused = fused
        y, y_ref = act(x), ref(x)
        assert torch.allclose(y, y_ref, atol=1e-10)
        (g,), (g_ref,) = torch.autograd.grad(y.sum(), [x]), torch.autograd.grad(y_ref.sum(), [x])
        assert torch.allclose(g, g_ref, atol=1e-8)


@pytest.mark.parametrize("op", [o for o in expr.OPERATORS.values() if o.paper], ids=lambda o: o.name)
def test_export_source_covers_every_operator(op, tmp_path: Path) -> None:
    X = expr.X
    inner = expr.Expr.apply("scale", X)  # a β below the operator checks the β numbering too
    e = expr.Expr.apply(op, inner) if op.kind == "unary" else expr.Expr.apply(op, inner, X)
    out = export_expression(str(e), tmp_path / f"m_{op.name}.py")
    fn = _import(out, f"m_{op.name}").found_activation
    x = torch.linspace(0.05, 3.0, 101, dtype=torch.float64)  # inside every operator's domain (sqrt, log)
    betas = [torch.tensor(0.7 + 0.2 * i, dtype=torch.float64) for i in range(e.betas)]
    want = e.torch_fn()(x, *betas)
    got = fn(x, *betas).expand_as(x)
    assert torch.allclose(got, want, atol=1e-12, equal_nan=True), (str(e), got[:3], want[:3])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float64], ids=str)
def test_exported_module_saves_one_tensor_and_traces_with_actlab(dtype: torch.dtype, tmp_path: Path) -> None:
    # With actlab importable the export goes through kernels.apply on every dtype (not only CPU float32/64), and
    # jit.trace records the registered operator rather than the composite's ops.
    text = "x * sigmoid(beta * x)"
    mod = _import(export_expression(text, tmp_path / "sw.py"), "sw")
    act = mod.FoundActivation().to(dtype)
    x = (torch.linspace(-4, 4, 97, dtype=dtype)).requires_grad_(True)
    y, n = saved_count(act, x)
    assert n == 1
    want = mod.FoundActivation(fused=False).to(dtype)(x)
    torch.testing.assert_close(y, want)
    y.sum().backward()
    assert x.grad is not None and act.betas[0].grad is not None
    graph = str(torch.jit.trace(act, (x.detach(),)).graph)
    assert "actlab::" in graph


def test_exported_softplus_stays_finite_and_exact_in_float32(tmp_path: Path) -> None:
    # log(1 + exp(x)) written literally overflows to inf above x ≈ 88 and loses everything below x ≈ -17.
    text = "log(1 + exp(x))"
    mod = _import(export_expression(text, tmp_path / "sp.py"), "sp")
    x = torch.tensor([-100.0, 100.0])
    for fused in (False, True):
        want = expr.parse(text).to_module(fused=fused)(x)
        got = mod.FoundActivation(fused=fused)(x)
        assert torch.isfinite(got).all(), (fused, got)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=0)
    assert float(got[1]) == 100.0 and float(got[0]) > 0


@pytest.mark.parametrize("op", [o for o in expr.OPERATORS.values() if o.kind != "leaf"], ids=lambda o: o.name)
def test_export_is_as_safe_as_the_table_at_float32_extremes(op, tmp_path: Path) -> None:
    # Where the function itself overflows (exp, cosh at 100) both give inf; the export must never add one.
    X = expr.X
    e = expr.Expr.apply(op, X) if op.kind == "unary" else expr.Expr.apply(op, X, expr.Expr.apply("neg", X))
    fn = _import(export_expression(str(e), tmp_path / f"x_{op.name}.py"), f"x_{op.name}").found_activation
    x = torch.tensor([-100.0, -89.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 89.0, 100.0])
    betas = [torch.tensor(0.7)] * e.betas
    torch.testing.assert_close(fn(x, *betas).expand_as(x), e.torch_fn()(x, *betas), rtol=1e-5, atol=1e-6,
                               equal_nan=True)


def test_show_prints_the_board_and_writes_plots(exhaustive, capsys) -> None:
    from actlab.report.search import board_markdown, show

    tmp, res = exhaustive
    paths = show(res.study, runs_dir=str(tmp), out_dir=tmp / "plots")
    assert {p.name for p in paths} >= {"progress.png", "accuracy_vs_cost.png", "top_functions.png"}
    assert all(p.stat().st_size > 1000 for p in paths)
    text = capsys.readouterr().out
    assert "Hall of fame" in text and "tanh" in text
    md = board_markdown(res.board)
    assert sum(line.startswith("| ") for line in md.splitlines()) == len(res.board.rows) + 1  # + the header
    assert not math.isnan(res.board.rows[0].test_ci[0])
    assert "Holm" in md


def test_cli_show_export_and_errors(exhaustive, tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from actlab.cli import app

    tmp, res = exhaustive
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    url = ["--storage", res.storage]
    out = runner.invoke(app, ["export", res.study, "--top", "1", "--out", str(tmp_path / "a.py"), *url])
    assert out.exit_code == 0, out.output
    assert _import(tmp_path / "a.py", "a_cli").EXPRESSION == next(r for r in res.board.rows if r.kind == "found").name
    out = runner.invoke(app, ["show", res.study, "--out-dir", str(tmp_path / "plots"), *url])
    assert out.exit_code == 0 and "Hall of fame" in out.output and (tmp_path / "plots" / "progress.png").exists()
    for args, words in ((["show", "no-such-study"], "no study database"),
                        (["export", res.study, "--top", "99", *url], "--top must be between"),
                        (["search", "--budget", "ten"], "budget"),
                        (["search", "--strategy", "evolutoin"], "evolution")):
        out = runner.invoke(app, args)
        assert out.exit_code == 2 and words in out.output, (args, out.output)
