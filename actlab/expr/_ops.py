"""The one operator table of the search space (Ramachandran et al. 2017): 25 unary and 10 binary functions.

Every other part of :mod:`actlab.expr` reads this table: the parser and printer (``syntax``), torch evaluation
(``torch``), sympy (``sympy``), LaTeX (``latex``), the generated numba kernels (``kernel``), the space enumeration
(``kind``/``paper``), the prefilter (``invalid``) and cost estimates (``cost``). Adding an operator is one entry.

Templates use ``{a}``/``{b}`` for the operands and ``beta``/``{beta}`` for the operator's own trainable β: every
operator instance that mentions β owns one β (initial value 1.0), so ``beta * x + (1 - beta) * sin(x)`` has one β and
``beta * x + beta * sin(x)`` has two.

Domain choices (documented once, here):

* ``sqrt(a)`` follows the paper: it is undefined (NaN) for a < 0. The prefilter rejects a candidate whose
  square-root argument is negative anywhere on its probe range (reason ``out_of_domain``).
* ``log(abs(a) + eps)`` and ``a / (b + eps)`` are the paper's ε-guarded forms with ε = :data:`EPS` = 1e-3. The
  division still has a pole at b = −ε; the prefilter rejects a candidate whose denominator changes sign on its
  probe range as ``non_finite`` (a grid would step over the pole itself).
* ``sinc(a)`` is the unnormalised sin(a)/a with sinc(0) = 1 (NumPy's and torch's ``sinc`` are sin(πa)/(πa)).
* ``max``/``min`` split the gradient evenly at ties (torch's and sympy's Heaviside(0) = 1/2 convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import torch
from torch import Tensor

__all__ = ["Operator", "OPERATORS", "UNARY", "BINARY", "EPS", "HELPERS", "operator", "operator_table"]

EPS = 1e-3
"""The paper's small constant ε in ``log(|x| + ε)`` and ``x1 / (x2 + ε)``."""

Kind = Literal["unary", "binary", "leaf"]

HELPERS = ("_exp", "_log", "_sqrt", "_abs", "_sin", "_cos", "_sinh", "_cosh", "_tanh", "_asinh", "_atan", "_erf",
           "_sigmoid", "_softplus", "_sinc", "_sincd", "_max", "_min", "_sign", "_heaviside", "_pow")
"""The element helpers that the ``kernel`` templates and the printed derivatives call: every kernel backend's helper
module (``_kmath``: numba, ``_tlmath``: Triton) defines each of them (tests/expr/test_codegen_triton.py checks)."""


@dataclass(frozen=True, repr=False)
class Operator:
    """One function of the search space.

    Args:
        name: table key, e.g. ``"sigmoid"``.
        kind: ``"unary"``, ``"binary"`` or ``"leaf"`` (no operand, e.g. ``eps``).
        syntax: the readable form with holes ``{a}``/``{b}``; the parser matches it and the printer fills it.
        torch: ``(a[, b][, beta]) -> Tensor``.
        sympy: ``(S, a[, b][, beta]) -> sympy.Expr`` where ``S`` is the namespace from ``actlab.expr._sym``.
        latex: LaTeX with ``{a}``/``{b}`` (bare), ``{pa}``/``{pb}`` (parenthesised when compound) and ``{beta}``.
        kernel: the forward as backend-neutral element source, with ``{a}``/``{b}``/``{beta}`` as scalar (or
            block) variables. It calls only the helper names that every backend's helper module binds (:data:`HELPERS`:
            ``_exp``, ``_sqrt``, ``_sigmoid``…, in ``_kmath`` for numba and ``_tlmath`` for Triton) and the constants
            ``ONE``, ``ZERO``, ``EPS``, so one template serves every backend.
        display: short name for tables.
        cost: relative cost of one evaluation (an add is 1).
        paper: part of the paper's space (extras such as plain division are parse-only conveniences).
        invalid: ``(a) -> bool Tensor`` marking arguments outside the operator's domain, or ``None``.
        pole: ``(a, b) -> Tensor`` whose zero crossings are poles (a division's denominator), or ``None``.
        domain: human-readable domain note.
        aliases: extra call names accepted on input (printed back in ``syntax`` form).
        smooth: infinitely differentiable wherever its operands are (``False`` for kinks such as ``max`` or ``abs``).
        export: pure-torch source for ``actlab export`` when evaluating ``syntax`` literally is not numerically
            safe (softplus's ``log(1 + exp(a))`` overflows to inf above a ≈ 88 in float32); empty: ``syntax``.
    """

    name: str
    kind: Kind
    syntax: str
    torch: Callable[..., torch.Tensor]
    sympy: Callable[..., Any]
    latex: str
    kernel: str
    display: str
    cost: float
    paper: bool = True
    invalid: Callable[[Tensor], Tensor] | None = None
    pole: Callable[..., Tensor] | None = None
    domain: str = "all reals"
    aliases: tuple[str, ...] = field(default=())
    smooth: bool = True
    export: str = ""

    def __repr__(self) -> str:
        return f"Operator({self.name!r}: {self.syntax})"

    @property
    def holes(self) -> tuple[str, ...]:
        """Operand names used by ``syntax`` in order: ``()``, ``("a",)`` or ``("a", "b")``."""
        return tuple(h for h in ("a", "b") if "{" + h + "}" in self.syntax)

    @property
    def uses_beta(self) -> bool:
        return "beta" in self.syntax

    @property
    def passthrough(self) -> bool:
        """The identity unary: applying it returns its operand, so it never becomes a tree node."""
        return self.syntax == "{a}"


def _max0(a: torch.Tensor) -> torch.Tensor:
    return torch.maximum(a, a.new_zeros(()))


def _min0(a: torch.Tensor) -> torch.Tensor:
    return torch.minimum(a, a.new_zeros(()))


def _sinc(a: torch.Tensor) -> torch.Tensor:
    # torch.sinc is normalised; its gradient at 0 is handled (0), which a where(a == 0, 1, sin(a)/a) would turn NaN.
    return torch.sinc(a / math.pi)


_U: Literal["unary"] = "unary"
_B: Literal["binary"] = "binary"

_TABLE: tuple[Operator, ...] = (
    # ---- unary (25, the paper's order)
    Operator("x", _U, "{a}", lambda a: a, lambda S, a: a, "{a}", "{a}", "x", 0.0),
    Operator("neg", _U, "-{a}", lambda a: -a, lambda S, a: -a, "-{pa}", "-{a}", "-x", 0.5),
    Operator("abs", _U, "abs({a})", torch.abs, lambda S, a: S.Abs(a), r"\left|{a}\right|", "_abs({a})", "|x|", 1.0,
             smooth=False),
    Operator("square", _U, "{a}^2", torch.square, lambda S, a: a**2, "{pa}^{{2}}", "{a} * {a}", "x^2", 1.0),
    Operator("cube", _U, "{a}^3", lambda a: a * a * a, lambda S, a: a**3, "{pa}^{{3}}", "{a} * {a} * {a}", "x^3",
             2.0),
    Operator("sqrt", _U, "sqrt({a})", torch.sqrt, lambda S, a: S.sqrt(a), r"\sqrt{{{a}}}", "_sqrt({a})", "sqrt",
             4.0, invalid=lambda a: a < 0, domain="a >= 0 (NaN below: rejected by the prefilter)", smooth=False),
    Operator("scale", _U, "beta * {a}", lambda a, beta: beta * a, lambda S, a, beta: beta * a, r"{beta} {pa}",
             "{beta} * {a}", "beta*x", 1.0),
    Operator("shift", _U, "{a} + beta", lambda a, beta: a + beta, lambda S, a, beta: a + beta, r"{a} + {beta}",
             "{a} + {beta}", "x+beta", 1.0),
    Operator("log", _U, "log(abs({a}) + eps)", lambda a: torch.log(a.abs() + EPS),
             lambda S, a: S.log(S.Abs(a) + S.eps), r"\log\left(\left|{a}\right| + \epsilon\right)",
             "_log(_abs({a}) + EPS)", "log|x|", 10.0, smooth=False),
    Operator("exp", _U, "exp({a})", torch.exp, lambda S, a: S.exp(a), r"e^{{{a}}}", "_exp({a})", "exp", 8.0),
    Operator("sin", _U, "sin({a})", torch.sin, lambda S, a: S.sin(a), r"\sin\left({a}\right)", "_sin({a})", "sin",
             10.0),
    Operator("cos", _U, "cos({a})", torch.cos, lambda S, a: S.cos(a), r"\cos\left({a}\right)", "_cos({a})", "cos",
             10.0),
    Operator("sinh", _U, "sinh({a})", torch.sinh, lambda S, a: S.sinh(a), r"\sinh\left({a}\right)", "_sinh({a})",
             "sinh", 10.0),
    Operator("cosh", _U, "cosh({a})", torch.cosh, lambda S, a: S.cosh(a), r"\cosh\left({a}\right)", "_cosh({a})",
             "cosh", 10.0),
    Operator("tanh", _U, "tanh({a})", torch.tanh, lambda S, a: S.tanh(a), r"\tanh\left({a}\right)", "_tanh({a})",
             "tanh", 10.0),
    Operator("asinh", _U, "asinh({a})", torch.asinh, lambda S, a: S.asinh(a), r"\sinh^{{-1}}\left({a}\right)",
             "_asinh({a})", "asinh", 12.0, aliases=("arcsinh",)),
    Operator("atan", _U, "atan({a})", torch.atan, lambda S, a: S.atan(a), r"\tan^{{-1}}\left({a}\right)",
             "_atan({a})", "atan", 12.0, aliases=("arctan",)),
    Operator("sinc", _U, "sinc({a})", _sinc, lambda S, a: S.sinc(a), r"\operatorname{{sinc}}\left({a}\right)",
             "_sinc({a})", "sinc", 12.0, domain="all reals; sin(a)/a, 1 at a = 0 (unnormalised)"),
    Operator("relu", _U, "max({a}, 0)", _max0, lambda S, a: S.Max(a, 0), r"\max\left({a}, 0\right)",
             "_max({a}, ZERO)", "max(x,0)", 1.0, aliases=("relu",), smooth=False),
    Operator("minzero", _U, "min({a}, 0)", _min0, lambda S, a: S.Min(a, 0), r"\min\left({a}, 0\right)",
             "_min({a}, ZERO)", "min(x,0)", 1.0, smooth=False),
    Operator("sigmoid", _U, "sigmoid({a})", torch.sigmoid, lambda S, a: S.sigmoid(a), r"\sigma\left({a}\right)",
             "_sigmoid({a})", "sigmoid", 9.0),
    Operator("softplus", _U, "log(1 + exp({a}))", torch.nn.functional.softplus, lambda S, a: S.softplus(a),
             r"\log\left(1 + e^{{{a}}}\right)", "_softplus({a})", "softplus", 18.0, aliases=("softplus",),
             export="softplus({a})"),
    Operator("gauss", _U, "exp(-{a}^2)", lambda a: torch.exp(-a * a), lambda S, a: S.exp(-a**2),
             r"e^{{-{pa}^{{2}}}}", "_exp(-({a} * {a}))", "exp(-x^2)", 9.0),
    Operator("erf", _U, "erf({a})", torch.erf, lambda S, a: S.erf(a), r"\operatorname{{erf}}\left({a}\right)",
             "_erf({a})", "erf", 12.0),
    Operator("beta", _U, "beta", lambda beta: beta, lambda S, beta: beta, "{beta}", "{beta}", "beta", 0.0),
    # ---- binary (10)
    Operator("add", _B, "{a} + {b}", torch.add, lambda S, a, b: a + b, "{a} + {b}", "{a} + {b}", "x1+x2", 1.0),
    Operator("mul", _B, "{a} * {b}", torch.mul, lambda S, a, b: a * b, r"{pa} {pb}", "{a} * {b}", "x1*x2", 1.0),
    Operator("sub", _B, "{a} - {b}", torch.sub, lambda S, a, b: a - b, "{a} - {pb}", "{a} - {b}", "x1-x2", 1.0),
    Operator("div", _B, "{a} / ({b} + eps)", lambda a, b: a / (b + EPS), lambda S, a, b: a / (b + S.eps),
             r"\frac{{{a}}}{{{b} + \epsilon}}", "{a} / ({b} + EPS)", "x1/(x2+eps)", 4.0,
             pole=lambda a, b: b + EPS, domain="pole at b = -eps (the prefilter rejects it as non_finite)"),
    Operator("max", _B, "max({a}, {b})", torch.maximum, lambda S, a, b: S.Max(a, b), r"\max\left({a}, {b}\right)",
             "_max({a}, {b})", "max", 1.0, smooth=False),
    Operator("min", _B, "min({a}, {b})", torch.minimum, lambda S, a, b: S.Min(a, b), r"\min\left({a}, {b}\right)",
             "_min({a}, {b})", "min", 1.0, smooth=False),
    Operator("sigmul", _B, "sigmoid({a}) * {b}", lambda a, b: torch.sigmoid(a) * b,
             lambda S, a, b: S.sigmoid(a) * b, r"\sigma\left({a}\right) {pb}", "_sigmoid({a}) * {b}", "sig(x1)*x2",
             10.0),
    Operator("gaussdiff", _B, "exp(-beta * ({a} - {b})^2)", lambda a, b, beta: torch.exp(-beta * (a - b) ** 2),
             lambda S, a, b, beta: S.exp(-beta * (a - b) ** 2), r"e^{{-{beta} \left({a} - {b}\right)^{{2}}}}",
             "_exp(-{beta} * (({a} - {b}) * ({a} - {b})))", "exp(-b(x1-x2)^2)", 11.0),
    Operator("laplacediff", _B, "exp(-beta * abs({a} - {b}))", lambda a, b, beta: torch.exp(-beta * (a - b).abs()),
             lambda S, a, b, beta: S.exp(-beta * S.Abs(a - b)), r"e^{{-{beta} \left|{a} - {b}\right|}}",
             "_exp(-{beta} * _abs({a} - {b}))", "exp(-b|x1-x2|)", 11.0, smooth=False),
    Operator("lerp", _B, "beta * {a} + (1 - beta) * {b}", lambda a, b, beta: beta * a + (1 - beta) * b,
             lambda S, a, b, beta: beta * a + (1 - beta) * b, r"{beta} {pa} + \left(1 - {beta}\right) {pb}",
             "{beta} * {a} + (ONE - {beta}) * {b}", "lerp", 3.0),
    # ---- parse-only extras (not in the paper's space)
    Operator("eps", "leaf", "eps", lambda: torch.tensor(EPS, dtype=torch.float64), lambda S: S.eps, r"\epsilon",
             "EPS", "eps", 0.0, paper=False),
    Operator("fdiv", _B, "{a} / {b}", torch.div, lambda S, a, b: a / b, r"\frac{{{a}}}{{{b}}}", "{a} / {b}",
             "x1/x2", 4.0, paper=False, pole=lambda a, b: b,
             domain="pole at b = 0"),
)

OPERATORS: dict[str, Operator] = {op.name: op for op in _TABLE}
"""Every operator by name, in table order."""

UNARY: tuple[Operator, ...] = tuple(op for op in _TABLE if op.kind == "unary" and op.paper)
BINARY: tuple[Operator, ...] = tuple(op for op in _TABLE if op.kind == "binary" and op.paper)

assert len(UNARY) == 25 and len(BINARY) == 10, "the paper's space has 25 unary and 10 binary functions"


def operator(name: str) -> Operator:
    """Look an operator up by name; an unknown name lists the closest ones."""
    try:
        return OPERATORS[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, list(OPERATORS), n=4)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(OPERATORS)}"
        raise KeyError(f"unknown operator {name!r}{hint}") from None


def operator_table() -> str:
    """The operator table as Markdown (name, syntax, LaTeX, cost, domain); ``docs/expr.md`` embeds it."""
    rows = ["| name | kind | syntax | LaTeX | cost | in the paper's space | domain |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for op in OPERATORS.values():
        syntax = op.syntax.format(a="a", b="b")
        tex = op.latex.format(a="a", b="b", pa="a", pb="b", beta=r"\beta").replace("|", r"\|")
        rows.append(f"| {op.name} | {op.kind} | `{syntax}` | ${tex}$ | {op.cost:g} | "
                    f"{'yes' if op.paper else 'no'} | {op.domain} |")
    return "\n".join(rows)
