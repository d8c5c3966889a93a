"""The operator table: every entry is complete and its torch, sympy and LaTeX forms agree."""

import pytest
import torch

from actlab.expr import BINARY, OPERATORS, UNARY, Expr, X, operator, parse

ALL = list(OPERATORS.values())


def test_paper_counts():
    assert len(UNARY) == 25 and len(BINARY) == 10
    assert len({op.name for op in ALL}) == len(ALL)


def _instance(op) -> Expr:
    # Operands that keep every operator inside its domain (sqrt needs a positive argument).
    a = Expr.apply("cosh", X) if op.name == "sqrt" else X
    b = Expr.apply("sin", X)
    return {"unary": lambda: Expr.apply(op, a), "binary": lambda: Expr.apply(op, a, b),
            "leaf": lambda: Expr(op, ())}[op.kind]()


@pytest.mark.parametrize("op", ALL, ids=lambda op: op.name)
def test_torch_matches_sympy(op):
    import sympy as sp

    from actlab.expr._sym import EPS_SYM, X_SYM, standard

    e = _instance(op)
    xs = torch.linspace(-3.1, 2.9, 13, dtype=torch.float64)
    betas = [1.3] * e.betas
    got = e.torch_fn()(xs, *[torch.tensor(b, dtype=torch.float64) for b in betas])
    f = sp.lambdify(X_SYM, standard(e.to_sympy(betas)).subs(EPS_SYM, 1e-3), modules=[{"erf": _erf}, "numpy"])
    want = torch.as_tensor(f(xs.numpy()), dtype=torch.float64).expand_as(xs)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("op", ALL, ids=lambda op: op.name)
def test_entry_is_complete_and_prints(op):
    e = _instance(op)
    assert op.display and op.cost >= 0 and op.domain
    assert e.latex().strip()
    if not op.passthrough:
        assert str(parse(str(e))) == str(e)
    for h in op.holes:
        assert "{" + h + "}" in op.kernel


def test_operator_lookup_suggests():
    assert operator("tanh").name == "tanh"
    with pytest.raises(KeyError, match="sigmoid"):
        operator("sigmod")


def test_sqrt_domain_is_nan_below_zero_and_documented():
    assert torch.isnan(parse("sqrt(x)")(torch.tensor([-1.0]))).all()
    assert "NaN" in OPERATORS["sqrt"].domain


def _erf(a):
    from scipy.special import erf

    return erf(a)


def test_docs_embed_the_current_table():
    from pathlib import Path

    from actlab.expr import operator_table

    doc = (Path(__file__).resolve().parents[2] / "docs" / "expr.md").read_text()
    assert operator_table() in doc, "regenerate the table in docs/expr.md from actlab.expr.operator_table()"


@pytest.mark.parametrize("op", ALL, ids=lambda op: op.name)
def test_latex_has_each_operand_beta_and_eps_as_the_syntax_does(op):
    # Sentinels for the operands: a LaTeX template that drops, repeats or swaps an operand (or forgets β or ε)
    # renders differently from the syntax it stands for.
    kw = {"a": "AAA", "b": "BBB", "pa": "AAA", "pb": "BBB", "beta": "BETA"}
    tex, syn = op.latex.format(**kw), op.syntax
    for h in op.holes:
        assert tex.count(kw[h]) == syn.count("{" + h + "}"), (op.name, h, tex)
    assert tex.count("BETA") == syn.count("beta"), tex
    assert tex.count(r"\epsilon") == syn.count("eps"), tex
    assert tex.count("{") == tex.count("}"), tex
    if len(op.holes) == 2:
        assert (tex.index("AAA") < tex.index("BBB")) == (syn.index("{a}") < syn.index("{b}")), tex
