"""The search space: counts match the combinatorics, indexing is a bijection, and oversize input is refused."""

import math
import random

import pytest

from actlab.expr import BINARY, UNARY, ExprTooLargeError, X, parse, space

U, B = len(UNARY), len(BINARY)


@pytest.mark.parametrize("units", [1, 2, 3])
def test_size_formula(units):
    assert space(units).size() == math.prod(i * i * U * U * B for i in range(1, units + 1))


def test_known_sizes():
    assert space(1).size() == 6250
    assert space(2).size() == 156_250_000


def test_enumerate_one_unit_is_every_structural_choice():
    exprs = list(space(1).enumerate())
    assert len(exprs) == 6250
    # every (binary, u1, u2) triple appears once: rebuild the slot choices from the index order
    s = space(1)
    seen = {(c["u1.binary"], c["u1.unary1"], c["u1.unary2"]) for c in _choices(s, range(0, 6250, 7))}
    assert len(seen) == len(range(0, 6250, 7))
    assert str(exprs[0]) == "x + x" and str(exprs[1]) == "x * x"


def _choices(s, indices):
    for i in indices:
        names = [n for n, _ in s.slots()]
        digits, j = [], i
        for _, opts in reversed(s.slots()):
            j, d = divmod(j, len(opts))
            digits.append(d)
        yield dict(zip(names, reversed(digits), strict=False))


def test_small_custom_space_enumerates_exactly():
    s = space(2, unary=["x", "neg"], binary=["add", "max"])
    assert s.size() == (1 * 2 * 2 * 2) * (4 * 2 * 2 * 2)
    assert len(list(s.enumerate())) == s.size()


def test_index_build_and_slots_agree():
    s = space(2)
    rng = random.Random(0)
    for _ in range(50):
        i = rng.randrange(s.size())
        c = next(_choices(s, [i]))
        assert str(s.build(c)) == str(s[i])
        named = {k: dict(s.slots())[k][v] for k, v in c.items()}
        assert str(s.build(named)) == str(s[i])
    with pytest.raises(IndexError):
        s[s.size()]
    with pytest.raises(ValueError, match="not one of"):
        s.build({**next(_choices(s, [0])), "u1.binary": "plus"})


def test_sample_is_reproducible_and_in_space():
    s = space(2)
    a = [str(s.sample(random.Random(3))) for _ in range(3)]
    assert len(set(a)) == 1
    e = s.sample(7)
    assert e in s and str(parse(str(e))) == str(e)


def test_raw_x_and_paper_functions_fit_one_unit():
    s = space(1)
    for text in ["x * sigmoid(beta * x)", "max(x, sigmoid(x))", "cos(x) - x", "min(x, sin(x))", "max(x, tanh(x))",
                 "sinc(x) + x"]:
        assert s.check(text) == parse(text)
    for text in ["x * asinh(x)^2", "atan(x)^2 - x"]:  # a squared unary is a unary of a unary: two units
        assert text not in s and space(2).check(text) == parse(text)
    assert X in s  # max(x, x)
    rng = random.Random(1)
    assert all(space(1).units_needed(space(1).sample(rng)) == 1 for _ in range(200))
    assert all(space(2).units_needed(space(2).sample(rng)) <= 2 for _ in range(200))


def test_units_needed_counts_shared_units_once():
    s = space(2)
    assert s.units_needed("sin(x) * x") == 1
    assert s.units_needed("x * sigmoid(beta * x)") == 1  # the binary sigmoid(a) * b, written the other way
    assert s.units_needed("max(x, sin(x)) * max(x, sin(x))") == 2
    assert s.units_needed("tanh(max(x, sin(x))) - cos(max(x, sin(x)))") == 2
    assert s.units_needed("max(x, sin(x)) + min(x, cos(x))") == 3


@pytest.mark.parametrize("text, why", [
    ("sin(cos(x)) + x", "needs 2 core units; this space has 1"),
    ("sin(sin(sin(x)))", "needs 3 core units"),
    ("x + 1", "numeric constants"),
    ("x / x", "outside the space: fdiv"),
])
def test_too_large_is_refused_with_a_message(text, why):
    s = space(1)
    with pytest.raises(ExprTooLargeError, match=why.replace("(", r"\(").replace(")", r"\)")):
        s.check(text)
    assert text not in s
    if "needs 2" in why:
        assert text in space(2)


def test_bad_space_arguments():
    with pytest.raises(ValueError, match="units"):
        space(0)
    with pytest.raises(ValueError, match="wrong kind"):
        space(1, unary=["add"])
    with pytest.raises(KeyError, match="did you mean"):
        space(1, unary=["sigmod"])
