"""Expression trees over the operator table: parse, print, evaluate, and convert (sympy, LaTeX, modules, kernels)."""

from __future__ import annotations

import difflib
import functools
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import torch

from ._ops import OPERATORS, Operator
from ._syntax import ExprSyntaxError, Node, parse_syntax, render

if TYPE_CHECKING:
    import sympy
    from torch import nn

__all__ = ["Expr", "parse", "X"]

_NAMES = {"x": "x", "beta": "beta", "eps": "eps"}


class Expr:
    """An activation expression: a tree of operators from :data:`~actlab.expr.OPERATORS` over the input ``x``.

    Build one with :func:`parse` or :meth:`apply`. Each operator instance that uses β owns one trainable β (initial
    value 1.0); ``betas`` counts them, numbered operands first (post-order) in the torch, sympy, LaTeX and kernel
    forms alike. Expressions compare and hash by their printed text, which is exact: ``str(parse(str(e))) == str(e)``.

    Example:
        >>> e = parse("x * sigmoid(beta * x)")
        >>> str(e), e.betas
        ('x * sigmoid(beta * x)', 1)
        >>> e(torch.tensor([1.0]))          # evaluates with every β = 1.0
        tensor([0.7311])
    """

    __slots__ = ("op", "args", "value", "_str", "_fn", "__weakref__")

    def __init__(self, op: Operator | None = None, args: tuple["Expr", ...] = (), value: float | None = None) -> None:
        self.op, self.args, self.value = op, args, value
        self._str: str | None = None
        self._fn: Callable[..., torch.Tensor] | None = None

    # ---- construction
    @staticmethod
    def apply(op: Operator | str, *args: "Expr") -> "Expr":
        """Apply ``op`` to operand expressions, with the paper's unary semantics (identity passes through and the
        constant β ignores its operand)."""
        if isinstance(op, str):
            from ._ops import operator

            op = operator(op)
        if op.passthrough:
            return args[0]
        holes = op.holes
        if op.kind == "unary" and not holes:
            return Expr(op, ())
        if len(args) != len(holes):
            raise TypeError(f"operator {op.name!r} takes {len(holes)} operands, got {len(args)}")
        return Expr(op, tuple(args))

    @staticmethod
    def const(value: float) -> "Expr":
        return Expr(None, (), float(value))

    # ---- structure
    @property
    def is_x(self) -> bool:
        return self.op is None and self.value is None

    def nodes(self) -> Iterator["Expr"]:
        """Every node, pre-order."""
        yield self
        for a in self.args:
            yield from a.nodes()

    @property
    def betas(self) -> int:
        """Number of trainable β parameters."""
        return sum(1 for n in self.nodes() if n.op is not None and n.op.uses_beta)

    def size(self) -> int:
        """Number of operator nodes."""
        return sum(1 for n in self.nodes() if n.op is not None)

    def depth(self) -> int:
        """Longest chain of operator nodes from the root to a leaf."""
        return 0 if self.op is None else 1 + max((a.depth() for a in self.args), default=0)

    def cost(self) -> float:
        """Relative evaluation cost: the sum of the operators' table costs."""
        return sum(n.op.cost for n in self.nodes() if n.op is not None)

    def operators(self) -> list[str]:
        return [n.op.name for n in self.nodes() if n.op is not None]

    # ---- text
    def syntax(self) -> Node:
        """The generic syntax tree this expression prints as."""
        if self.op is None:
            return Node("name", "x") if self.value is None else Node("num", self.value)
        return _fill(_pattern(self.op), dict(zip(self.op.holes, (a.syntax() for a in self.args), strict=False)))

    def __str__(self) -> str:
        if self._str is None:
            self._str = render(self.syntax())
        return self._str

    def __repr__(self) -> str:
        return f"Expr({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expr) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __reduce__(self) -> tuple[Any, ...]:
        return (parse, (str(self),))

    # ---- evaluation
    def torch_fn(self, hook: Callable[[Operator, tuple[torch.Tensor, ...]], None] | None = None
                 ) -> Callable[..., torch.Tensor]:
        """The composite torch function ``f(x, *betas)`` (β values broadcast against ``x``).

        ``hook(op, operands)``, if given, sees every operator application (the prefilter checks domains with it).
        """
        if hook is None and self._fn is not None:
            return self._fn
        counter = iter(range(10**9))

        def build(e: Expr) -> Callable[[torch.Tensor, Sequence[Any]], torch.Tensor]:
            if e.op is None:
                if e.value is None:
                    return lambda x, b: x
                v = e.value
                return lambda x, b: torch.full((), v, dtype=x.dtype, device=x.device)
            subs = [build(a) for a in e.args]
            fn = e.op.torch
            if hook is not None:
                fn = _hooked(e.op, hook)
            if e.op.kind == "leaf":
                return lambda x, b: fn().to(x.dtype)
            if e.op.uses_beta:
                k = next(counter)
                return lambda x, b: fn(*(s(x, b) for s in subs), b[k])
            return lambda x, b: fn(*(s(x, b) for s in subs))

        root = build(self)
        n = self.betas

        def f(x: torch.Tensor, *betas: Any) -> torch.Tensor:
            if len(betas) != n:
                raise TypeError(f"{self} takes {n} β values, got {len(betas)}")
            bs = [b if isinstance(b, torch.Tensor) else torch.tensor(float(b), dtype=x.dtype, device=x.device)
                  for b in betas]
            y = root(x, bs)
            return y if y.shape == x.shape else y.expand_as(x)

        if hook is None:
            self._fn = f
        return f

    def __call__(self, x: torch.Tensor, *betas: Any) -> torch.Tensor:
        """Evaluate with the given β values (default: every β = 1.0)."""
        return self.torch_fn()(x, *(betas or (1.0,) * self.betas))

    # ---- conversions
    def to_sympy(self, betas: Sequence[Any] | None = None) -> "sympy.Expr":
        """The sympy form over the real symbol ``x``; β symbols are ``beta`` (one β) or ``beta1``, ``beta2``…"""
        from ._sym import to_sympy

        return to_sympy(self, betas)

    def latex(self) -> str:
        """LaTeX of the expression, from the table's templates."""
        from ._sym import to_latex

        return to_latex(self)

    def canonical(self) -> str:
        """The sympy-simplified form with β symbols renumbered by first appearance: the candidate's identity."""
        from ._sym import canonical

        return canonical(str(self))

    def to_module(self, per_channel: bool = False, channels: int | None = None, fused: bool = True) -> "nn.Module":
        """An ``nn.Module`` computing this expression with trainable β (see :class:`ExprActivation`)."""
        from ._module import ExprActivation

        return ExprActivation(self, per_channel=per_channel, channels=channels, fused=fused)

    def to_gated(self, gate_last: bool = True, fused: bool = True) -> "nn.Module":
        """This expression as the gate of a gated activation, ``glu(expr)``: f(g)·a (see
        :class:`~actlab.expr.GatedExprActivation`)."""
        from ._module import GatedExprActivation

        return GatedExprActivation(self, gate_last=gate_last, fused=fused)

    def kernel(self) -> Any:
        """The generated fused kernel (a ``FusedKernel``); compiled and cached on first use."""
        from ._codegen import compile_kernel

        return compile_kernel(self)


X = Expr()
"""The input ``x``."""


def _hooked(op: Operator, hook: Callable[[Operator, tuple[torch.Tensor, ...]], None]) -> Callable[..., torch.Tensor]:
    def fn(*args: torch.Tensor) -> torch.Tensor:
        hook(op, args)
        return op.torch(*args)

    return fn


# ---- templates: parse each operator's syntax once, then cover user syntax trees with them

@functools.lru_cache(maxsize=None)
def _pattern(op: Operator) -> Node:
    return parse_syntax(op.syntax.replace("{a}", "_a").replace("{b}", "_b"), holes=True)


def _fill(pattern: Node, holes: dict[str, Node]) -> Node:
    if pattern.kind == "hole":
        return holes[str(pattern.value)]
    if not pattern.args:
        return pattern
    return Node(pattern.kind, pattern.value, tuple(_fill(a, holes) for a in pattern.args))


def _match(pattern: Node, node: Node, bound: dict[str, Node]) -> bool:
    if pattern.kind == "hole":
        prev = bound.get(str(pattern.value))
        if prev is not None:
            return prev.same(node)
        bound[str(pattern.value)] = node
        return True
    if pattern.kind != node.kind or pattern.value != node.value or len(pattern.args) != len(node.args):
        return False
    return all(_match(p, n, bound) for p, n in zip(pattern.args, node.args, strict=False))


@functools.lru_cache(maxsize=None)
def _templates() -> tuple[tuple[Operator, Node], ...]:
    """Matchable templates, most specific first (more fixed syntax nodes win: ``beta * {a}`` before ``{a} * {b}``)."""
    pats = [(op, _pattern(op)) for op in OPERATORS.values() if not op.passthrough]
    pats.sort(key=lambda t: -(t[1].size() - len(t[0].holes)))
    return tuple(pats)


def _aliases() -> dict[str, Operator]:
    return {a: op for op in OPERATORS.values() for a in op.aliases}


def _call_names() -> set[str]:
    names: set[str] = set()
    for _, pat in _templates():
        stack = [pat]
        while stack:
            n = stack.pop()
            if n.kind == "call":
                names.add(str(n.value))
            stack.extend(n.args)
    return names


def _cover(node: Node, text: str) -> Expr:
    for op, pat in _templates():
        bound: dict[str, Node] = {}
        if _match(pat, node, bound):
            return Expr(op, tuple(_cover(bound[h], text) for h in op.holes))
    start, end = node.span
    if node.kind == "num":
        return Expr.const(float(node.value))  # type: ignore[arg-type]
    if node.kind == "name":
        name = _NAMES.get(str(node.value))
        if name == "x":
            return X
        close = difflib.get_close_matches(str(node.value), list(_NAMES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; names are x, beta and eps"
        raise ExprSyntaxError(f"unknown name {node.value!r}{hint}", text, start, end - start)
    if node.kind == "call":
        name = str(node.value)
        alias = _aliases().get(name)
        if alias is not None and len(node.args) == len(alias.holes):
            return Expr(alias, tuple(_cover(a, text) for a in node.args))
        known = _call_names() | set(_aliases())
        if name in known:
            forms = [op.syntax.format(a="a", b="b") for op, pat in _templates() if _head(pat) == name]
            forms += [f"{a}(a)" for a, op in _aliases().items() if a == name]
            raise ExprSyntaxError(f"{name}(...) is not a form of the operator table; available: "
                                  f"{', '.join(sorted(set(forms)))}", text, start, end - start)
        close = difflib.get_close_matches(name, sorted(known), n=4)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(known))}"
        raise ExprSyntaxError(f"unknown function {name!r}{hint}", text, start, len(name))
    if node.kind == "bin" and node.value == "^":
        raise ExprSyntaxError("only the powers ^2 and ^3 are operators", text, node.args[1].span[0],
                              max(1, node.args[1].span[1] - node.args[1].span[0]))
    raise ExprSyntaxError(f"no operator matches this {node.kind!r} form", text, start, max(1, end - start))


def _head(pat: Node) -> str | None:
    while pat.kind != "call":
        if not pat.args:
            return None
        pat = pat.args[0]
    return str(pat.value)


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Expr:
    return _cover(parse_syntax(text), text)


def parse(text: str) -> Expr:
    """Parse readable syntax such as ``"x * sigmoid(beta * x)"`` into an :class:`Expr`.

    Raises:
        ExprSyntaxError: (a ``ValueError``) for malformed text or unknown names, with the position marked.
        TypeError: if ``text`` is not a string.
    """
    if isinstance(text, Expr):
        return text
    if not isinstance(text, str):
        raise TypeError(f"expected an expression string, got {type(text).__name__}")
    return _parse_cached(text)
