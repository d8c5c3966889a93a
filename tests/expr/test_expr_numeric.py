"""Deduplication merges equal functions and keeps different ones apart; the prefilter gives a reason per rejection."""

import pytest

from actlab.expr import REASONS, dedupe, fingerprint, parse, prefilter, space

EQUAL = [
    ("max(x, 0)", "x - min(x, 0)"),
    ("max(x, 0)", "relu(x)"),
    ("x * sigmoid(beta * x)", "sigmoid(beta * x) * x"),
    ("x + x", "x * x + x - x^2 + x"),
    ("tanh(asinh(x))", "x / sqrt(1 + x^2)"),
    ("max(x, sin(x))", "max(sin(x), x)"),
    ("beta * x + sin(beta * x)", "sin(beta * x) + beta * x"),  # βs in a different order
    ("exp(-beta * (x - sin(x))^2)", "exp(-beta * (sin(x) - x)^2)"),
]
DIFFERENT = [
    ("max(x, 0)", "abs(x)"),
    ("x * sigmoid(beta * x)", "x * sigmoid(x)"),  # equal at β = 1 only: the second β probe separates them
    ("beta * x + beta", "beta * x + beta * beta"),
    ("sin(x)", "sinc(x)"),
    ("max(x, tanh(x))", "max(x, sigmoid(x))"),
    ("beta * x", "beta * beta * x"),
]


@pytest.mark.parametrize("a, b", EQUAL)
def test_equal_functions_merge(a, b):
    groups = dedupe([a, b])
    assert len(groups) == 1
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize("a, b", DIFFERENT)
def test_different_functions_stay_apart(a, b):
    assert len(dedupe([a, b])) == 2


def test_representative_is_simplest_and_order_is_stable():
    groups = dedupe(["x - min(x, 0)", "sin(x)", "max(x, 0)", "max(min(x, 0) + max(x, 0), 0)"])
    assert [str(g.representative) for g in groups] == ["max(x, 0)", "sin(x)"]
    assert len(groups[0].members) == 3
    assert groups[0].canonical == "Max(0, x)"


def test_one_unit_space_dedupes_and_prefilters_at_least_half():
    s = space(1)
    groups = dedupe(s.enumerate())
    assert 2000 < len(groups) < s.size()
    res = prefilter(g.representative for g in groups)
    assert set(res.counts) == set(REASONS)
    assert sum(res.counts.values()) + len(res.survivors) == len(groups)
    assert all(res.counts[r] > 0 for r in ("out_of_domain", "non_finite", "constant", "linear",
                                           "exploding_gradient"))
    assert len(res.survivors) <= s.size() / 2  # the target
    # Swish (x·σ(βx)) and SiLU must survive: compare by the canonical form, not by how the text happens to print
    kept = {e.canonical() for e in res.survivors}
    assert parse("x * sigmoid(beta * x)").canonical() in kept and parse("x * sigmoid(x)").canonical() in kept


@pytest.mark.parametrize("text, reason", [
    ("x + sqrt(x)", "out_of_domain"),
    ("x / (x + eps)", "non_finite"),
    ("exp(exp(exp(x))) * x", "non_finite"),
    ("x - x", "constant"),
    ("exp(-beta * (x - x)^2)", "constant"),
    ("beta * x + (1 - beta) * -x", "linear"),
    ("x + x", "linear"),
    ("exp(-x^2) * 1e-5", "vanishing_gradient"),
    ("cosh(x)^3", "exploding_gradient"),
    ("x * sigmoid(beta * x)", None),
    ("max(x, 0)", None),
    ("sqrt(exp(x)) * x", None),
])
def test_prefilter_reasons(text, reason):
    res = prefilter([text])
    got = res.rejected.get(parse(text))
    assert got == reason
    assert (len(res.survivors) == 1) == (reason is None)
    if reason:
        assert res.counts[reason] == 1


def test_same_as_names_the_baseline_an_expression_computes() -> None:
    from actlab.expr import same_as

    assert same_as("sigmoid(x) * x", ["relu", "gelu", "swish"]) == "swish"
    assert same_as("x * sigmoid(beta * x)", ["swish"]) == "swish"  # at β = 1, the default
    assert same_as("max(x, 0)", ["swish", "relu"]) == "relu"
    assert same_as("x * tanh(x)", ["relu", "gelu", "swish", "mish"]) is None
    assert same_as("sigmoid(x) * x", ["swiglu", "geglu"], gated=True) == "swiglu"  # a gate, through swiglu's
    assert same_as("x", ["bilinear"], gated=True) == "bilinear"
    assert same_as("sigmoid(x) * x", ["swiglu"]) is None  # a unary function is not a gated baseline
