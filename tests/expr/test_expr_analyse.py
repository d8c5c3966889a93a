"""Analysis: known properties of known functions."""

import math

import pytest

from actlab.expr import analyse

pytestmark = pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaIRAssumptionWarning")

# text: (monotonic, bounded below, bounded above, smoothness, bump below zero)
KNOWN = {
    "x * sigmoid(beta * x)": (False, True, False, "Cinf", True),
    "max(x, 0)": (True, True, False, "C0", False),
    "max(x, 0) + exp(min(x, 0)) - 1": (True, True, False, "C1", False),  # ELU
    "max(x, 0) + tanh(asinh(min(x, 0)))": (True, True, False, "C2", False),  # ISRLU, alpha = 1
    "tanh(x)": (True, True, True, "Cinf", False),
    "cos(x) - x": (True, False, False, "Cinf", False),
    "x * abs(x)": (True, False, False, "C1", False),
    "exp(-x^2)": (False, True, True, "Cinf", False),
    "sin(x) - x": (True, False, False, "Cinf", False),
    "x / (x + eps)": (False, False, False, "discontinuous", False),
}


@pytest.mark.parametrize("text", list(KNOWN))
def test_known_properties(text):
    a = analyse(text, measure=False, canonical=False)
    assert (a.monotonic, a.bounded_below, a.bounded_above, a.smoothness, a.bump_below_zero) == KNOWN[text]


def test_normal_moments():
    a = analyse("max(x, 0)", measure=False, canonical=False)
    assert math.isclose(a.mean, 1 / math.sqrt(2 * math.pi), rel_tol=1e-6)
    assert math.isclose(a.var, 0.5 - 1 / (2 * math.pi), rel_tol=1e-6)
    b = analyse("tanh(x)", measure=False, canonical=False)
    assert abs(b.mean) < 1e-12 and 0 < b.var < 1


def test_full_report_with_timing_and_canonical():
    a = analyse("x * sigmoid(beta * x)")
    assert a.ns_per_element is not None and a.ns_per_element > 0
    assert a.canonical and "exp" in a.canonical
    text = str(a)
    assert "ns/element" in text and "smoothness" in text
    assert a.as_dict()["smoothness"] == "Cinf"


def test_non_finite_functions_are_flagged():
    for text in ["sqrt(x)", "exp(exp(exp(x)))"]:
        a = analyse(text, measure=False, canonical=False)
        assert not a.finite and not a.bounded_above and a.smoothness == "discontinuous"
    assert analyse("tanh(x)", measure=False, canonical=False).finite
