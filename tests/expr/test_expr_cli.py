"""``actlab expr`` and ``actlab space`` as a user runs them."""

import pytest
from typer.testing import CliRunner

from actlab.cli import app

pytestmark = pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaIRAssumptionWarning")
runner = CliRunner()


def test_expr_prints_canonical_latex_properties_and_plots(tmp_path):
    out = tmp_path / "swish.png"
    r = runner.invoke(app, ["expr", "x * sigmoid(beta*x)", "--plot", str(out)])
    assert r.exit_code == 0, r.output
    for needle in ["canonical", r"x \sigma\left(\beta x\right)", "monotonic", "smoothness", "Cinf",
                   "bump below zero", "ns/element", "relative op cost", "1 trainable β"]:
        assert needle in r.output, needle
    assert out.stat().st_size > 10_000


def test_expr_bad_input_is_a_clear_error():
    r = runner.invoke(app, ["expr", "x * sigmod(x)", "--no-measure"])
    assert r.exit_code == 2
    assert "did you mean sigmoid" in r.output and "^^^^^^" in r.output


def test_space_one_unit_counts():
    r = runner.invoke(app, ["space", "--units", "1"])
    assert r.exit_code == 0, r.output
    assert "raw size 6,250" in r.output and "distinct functions" in r.output
    for reason in ["out_of_domain", "non_finite", "constant", "linear", "vanishing_gradient",
                   "exploding_gradient"]:
        assert reason in r.output


def test_space_two_units_is_sampled():
    r = runner.invoke(app, ["space", "--units", "2", "--sample", "50"])
    assert r.exit_code == 0, r.output
    assert "raw size 156,250,000" in r.output and "random sample of 50" in r.output
