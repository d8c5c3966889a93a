"""sympy and LaTeX forms of expressions (sympy is imported only when this module is).

Four operators get their own sympy functions so that their derivatives stay numerically stable in generated
kernels: ``sigmoid`` (σ' = σ(1−σ), never exp/exp overflow), ``softplus`` (derivative σ), ``Sinc`` (derivative
``SincD``, defined at 0) and ``RAbs`` (derivative sign(a) even where sympy cannot prove a real). :func:`standard`
rewrites them to plain sympy for canonical forms.
"""

from __future__ import annotations

import functools
import re
import types
from typing import Any, Sequence

import sympy as sp

from ._expr import Expr, parse
from ._ops import EPS

__all__ = ["sigmoid", "softplus", "Sinc", "SincD", "RAbs", "S", "to_sympy", "to_latex", "canonical", "standard",
           "X_SYM", "EPS_SYM", "beta_symbols"]

X_SYM = sp.Symbol("x", real=True)
EPS_SYM = sp.Symbol("epsilon", positive=True)


class sigmoid(sp.Function):
    """σ(a) = 1 / (1 + exp(−a))."""

    kernel = "_sigmoid"

    @classmethod
    def eval(cls, a: sp.Expr) -> sp.Expr | None:
        if a.is_zero:
            return sp.S.Half
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return (1 / (1 + sp.exp(-self.args[0])))._eval_evalf(prec)

    def _latex(self, printer: Any) -> str:
        return r"\sigma\left(%s\right)" % printer._print(self.args[0])


class softplus(sp.Function):
    """log(1 + exp(a)), evaluated stably in kernels."""

    kernel = "_softplus"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0])

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return sp.log(1 + sp.exp(self.args[0]))._eval_evalf(prec)


class RAbs(sp.Function):
    """|a| for real a, with derivative sign(a) (sympy's Abs differentiates via re/im when a's sign is unknown)."""

    kernel = "_abs"

    @classmethod
    def eval(cls, a: sp.Expr) -> sp.Expr | None:
        if a.is_number:
            return sp.Abs(a)
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.sign(self.args[0])

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return sp.Abs(self.args[0])._eval_evalf(prec)

    def _latex(self, printer: Any) -> str:
        return r"\left|%s\right|" % printer._print(self.args[0])


class SincD(sp.Function):
    """The derivative of sin(a)/a: (a cos a − sin a)/a², 0 at a = 0."""

    kernel = "_sincd"

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        a = self.args[0]
        return (-(a**2) * sp.sin(a) - 2 * a * sp.cos(a) + 2 * sp.sin(a)) / a**3

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real


class Sinc(sp.Function):
    """sin(a)/a with Sinc(0) = 1."""

    kernel = "_sinc"

    @classmethod
    def eval(cls, a: sp.Expr) -> sp.Expr | None:
        if a.is_zero:
            return sp.S.One
        return None

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return SincD(self.args[0])

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real

    def _eval_evalf(self, prec: int) -> sp.Expr:
        return sp.sinc(self.args[0])._eval_evalf(prec)


S = types.SimpleNamespace(
    Abs=RAbs, sqrt=sp.sqrt, log=sp.log, exp=sp.exp, sin=sp.sin, cos=sp.cos, sinh=sp.sinh, cosh=sp.cosh,
    tanh=sp.tanh, asinh=sp.asinh, atan=sp.atan, erf=sp.erf, Max=sp.Max, Min=sp.Min, sinc=Sinc, sigmoid=sigmoid,
    softplus=softplus, eps=EPS_SYM)
"""The namespace the operator table's ``sympy`` lambdas receive."""


def beta_symbols(n: int) -> list[sp.Symbol]:
    """``[beta]`` for one β, else ``[beta1, …, betan]`` (real)."""
    if n == 1:
        return [sp.Symbol("beta", real=True)]
    return [sp.Symbol(f"beta{i + 1}", real=True) for i in range(n)]


def to_sympy(expr: Expr, betas: Sequence[Any] | None = None) -> sp.Expr:
    """The sympy form of ``expr``; ``betas`` substitutes values (or symbols) for the β parameters."""
    values = [sp.sympify(b) for b in betas] if betas is not None else beta_symbols(expr.betas)
    if len(values) != expr.betas:
        raise ValueError(f"{expr} has {expr.betas} β parameters, got {len(values)} values")
    it = iter(values)

    def build(e: Expr) -> sp.Expr:
        if e.op is None:
            return X_SYM if e.value is None else sp.Float(e.value) if not float(e.value).is_integer() \
                else sp.Integer(int(e.value))
        args = [build(a) for a in e.args]
        if e.op.uses_beta:
            args.append(next(it))
        return e.op.sympy(S, *args)

    return build(expr)


def standard(e: sp.Expr) -> sp.Expr:
    """Rewrite the stable helper functions into plain sympy (for simplification and display)."""
    return e.replace(sigmoid, lambda a: 1 / (1 + sp.exp(-a))).replace(softplus, lambda a: sp.log(1 + sp.exp(a))) \
        .replace(Sinc, lambda a: sp.sinc(a)).replace(RAbs, lambda a: sp.Abs(a))


def to_latex(expr: Expr) -> str:
    """LaTeX from the table's templates (operands are parenthesised where a template asks for it)."""
    names = [r"\beta"] if expr.betas == 1 else [rf"\beta_{{{i + 1}}}" for i in range(expr.betas)]
    it = iter(names)

    def atomic(e: Expr) -> bool:
        node = e.syntax()
        return node.kind in ("name", "call") or (node.kind == "num" and float(node.value) >= 0) or (  # type: ignore
            node.kind == "bin" and node.value == "^")

    def build(e: Expr) -> str:
        if e.op is None:
            return "x" if e.value is None else sp.latex(sp.nsimplify(e.value))
        kw: dict[str, str] = {}
        for h, a in zip(e.op.holes, e.args, strict=False):
            s = build(a)
            kw[h] = s
            kw["p" + h] = s if atomic(a) else rf"\left({s}\right)"
        if e.op.uses_beta:
            kw["beta"] = next(it)
        return e.op.latex.format(**kw)

    return build(expr)


_SIMPLIFY_LIMIT = 60
"""Operations above which :func:`canonical` skips ``sympy.simplify`` (slow on big trees) and keeps the
auto-canonicalised form."""


@functools.lru_cache(maxsize=8192)
def canonical(text: str) -> str:
    """Canonical text of an expression: sympy-simplified, with β symbols renumbered in order of appearance."""
    expr = parse(text)
    tmp = [sp.Symbol(f"_b{i}_", real=True) for i in range(expr.betas)]
    e = standard(to_sympy(expr, tmp)).subs(EPS_SYM, sp.Rational(1, round(1 / EPS)))
    if sp.count_ops(e) <= _SIMPLIFY_LIMIT:
        try:
            e = sp.simplify(e)
        except Exception:  # simplify can fail on exotic Piecewise/Max forms; the unsimplified form is still valid
            pass
    s = sp.sstr(e)
    used = sorted((b for b in tmp if b in e.free_symbols), key=lambda b: s.find(b.name))
    final = beta_symbols(len(used))
    e = e.subs(dict(zip(used, final, strict=False)), simultaneous=True)
    return re.sub(r"\s+", " ", sp.sstr(e))
