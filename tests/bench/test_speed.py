"""Smoke test of the speed benchmark at tiny sizes (not timed: speed figures live in benchmarks/RESULTS.md)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from actlab.bench import speed
from actlab.cli import app


def test_run_records_every_variant(tmp_path) -> None:
    records = speed.run(names=["isrlu", "elu", "gelu"], sizes=[64, 1000], repeats=1, newton=[1])
    labels = [(r.name, r.size) for r in records]
    assert labels == [(n, s) for s in (64, 1000) for n in ("isrlu", "isrlu[newton=1]", "elu", "gelu")]
    for r in records:
        for v in (r.copy, r.fused_fwd, r.fused_bwd, r.reference_fwd, r.reference_bwd, r.user_fused):
            assert v > 0
    isrlu = records[0]
    assert isrlu.native_op == "elu" and isrlu.native_fwd is not None and isrlu.user_native is not None
    assert isrlu.fused_bwd_param is not None and records[3].fused_bwd_param is None  # gelu has no parameter
    speed.write_json(records, tmp_path / "s.json")
    rows = json.loads((tmp_path / "s.json").read_text())
    assert len(rows) == len(records) and {"fused_fwd", "copy", "native_fwd", "reference_bwd"} <= set(rows[0])
    md = speed.to_markdown(records)
    assert md.count("\n") == len(records) + 1 and "isrlu[newton=1]" in md
    from rich.console import Console

    c = Console(width=200, record=True)
    c.print(speed.rich_table(records))
    assert c.export_text().count("isrlu[newton=1]") == 2  # a label, not markup that rich drops


def test_every_kernel_activation_is_benchmarked() -> None:
    import actlab.activations as A

    rows = {name for _, name, _ in speed._rows(None, ())}
    assert rows == {n for n in A.names() if A.spec(n).kernel is not None or A.spec(n).gated}


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="repeats"):
        speed.run(names=["elu"], sizes=[10], repeats=0)
    with pytest.raises(KeyError, match="did you mean"):
        speed.run(names=["isrlux"], sizes=[10], repeats=1)


def test_cli(tmp_path) -> None:
    out = tmp_path / "speed.json"
    res = CliRunner().invoke(app, ["bench", "speed", "--act", "isru", "--sizes", "32", "--repeats", "1",
                                   "--markdown", "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "| isru |" in res.output and json.loads(out.read_text())[0]["name"] == "isru"
    res = CliRunner().invoke(app, ["bench", "speed", "--act", "nope", "--sizes", "32"])
    assert res.exit_code == 2 and "unknown activation" in res.output


def test_native_baselines_compute_the_activation() -> None:
    """Every kernel's NativeOp (from the activation's description) computes the same function and slope as its
    functional form at the default hyperparameters, so the speed table compares like with like."""
    import torch

    from actlab import kernels as K

    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, generator=g, dtype=torch.float64) * 3
    gy = torch.randn(300, generator=g, dtype=torch.float64)
    checked = 0
    for name, k in K.KERNELS.items():
        op = k.native_op
        if op is None:
            continue
        xg = x.clone().requires_grad_(True)
        y = op.functional(xg)
        (want,) = torch.autograd.grad(y, xg, gy)
        out = torch.empty_like(x)
        op.forward(x, out)
        assert torch.allclose(out, y.detach(), rtol=1e-12, atol=1e-12), name
        backs = [op.backward] + ([op.backward_from_output] if op.backward_from_output else [])
        for bwd in backs:
            gx = torch.full_like(x, float("nan"))
            got = bwd(x, y.detach(), gy, gx)
            assert torch.allclose(got, want, rtol=1e-10, atol=1e-12), f"{name}: {op.name} backward"
        checked += 1
    assert checked >= 10


def test_gated_rows_time_the_gated_kernel_against_the_gates_native_op() -> None:
    records = speed.run(names=["swiglu", "bilinear"], sizes=[2048], repeats=1)
    sw, bi = records
    assert sw.name == "swiglu" and sw.size == 2048 and sw.native_op == "a·silu(g)" and sw.user_native is not None
    assert bi.native_op is None and bi.user_native is None  # the identity gate has no native op to stand in for
    for r in records:
        assert min(r.copy, r.fused_fwd, r.fused_bwd, r.reference_fwd, r.reference_bwd, r.user_fused) > 0
    assert "swiglu" in speed.to_markdown(records)
