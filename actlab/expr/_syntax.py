"""Readable syntax: a small arithmetic grammar, parsed to a syntax tree and printed back with minimal parentheses.

The grammar is generic (numbers, names, calls, ``+ - * / ^``, unary minus); :mod:`actlab.expr._expr` then covers the
syntax tree with the operator table's templates. Printing and parsing are inverse on printed text, which is what
makes ``str(parse(s)) == s`` exact.

Precedence, loosest first: ``+ -`` (left), ``* /`` (left), unary ``-``, ``^`` (right; ``-x^2`` is ``-(x^2)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["ExprSyntaxError", "Node", "tokenize", "parse_syntax", "render", "MAX_LENGTH", "MAX_DEPTH"]

MAX_LENGTH = 4000
"""Longest accepted expression text."""
MAX_DEPTH = 100
"""Deepest accepted nesting (parentheses, calls, operators), so no input can exhaust Python's stack."""


class ExprSyntaxError(ValueError):
    """A malformed expression. ``str()`` shows the text with a caret under the offending position.

    Attributes:
        text: the input. pos: 0-based offset of the problem. reason: the message without the caret line.
    """

    def __init__(self, reason: str, text: str, pos: int, length: int = 1) -> None:
        self.reason, self.text, self.pos = reason, text, max(0, min(pos, len(text)))
        shown = text if len(text) <= 200 else text[:200] + "…"
        caret = " " * min(self.pos, len(shown)) + "^" * max(1, min(length, len(shown) - self.pos))
        super().__init__(f"{reason} at position {self.pos}\n  {shown}\n  {caret}")


@dataclass(frozen=True, eq=False)
class Node:
    """A generic syntax node. ``kind`` is num/name/call/bin/neg/hole; ``value`` the number, name, callee or operator."""

    kind: str
    value: object
    args: tuple["Node", ...] = ()
    span: tuple[int, int] = field(default=(0, 0))

    def same(self, other: "Node") -> bool:
        """Structural equality, ignoring source positions."""
        return (self.kind == other.kind and self.value == other.value and len(self.args) == len(other.args)
                and all(a.same(b) for a, b in zip(self.args, other.args, strict=False)))

    def size(self) -> int:
        return 1 + sum(a.size() for a in self.args)


_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<name>[^\W\d]\w*)"
                    r"|(?P<op>\*\*|[-+*/^(),]))")


def tokenize(text: str) -> list[tuple[str, str, int]]:
    """Split ``text`` into (kind, token, position) triples; kinds are num, name, op and end."""
    out: list[tuple[str, str, int]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            out.append(("end", "", pos))
            return out
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ExprSyntaxError(f"unexpected character {text[pos]!r}", text, pos)
        kind = m.lastgroup or "op"
        tok = m.group(kind)
        start = m.start(kind)
        out.append((kind, "^" if tok == "**" else tok, start))
        pos = m.end()


_NAME_ALIASES = {"β": "beta", "ε": "eps"}
_BIN_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 4}
_NEG_PREC = 3


class _Parser:
    def __init__(self, text: str, holes: bool) -> None:
        self.text, self.holes = text, holes
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str, int]:
        return self.toks[self.i]

    def take(self) -> tuple[str, str, int]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, op: str) -> int:
        kind, tok, pos = self.take()
        if kind != "op" or tok != op:
            found = "end of input" if kind == "end" else repr(tok)
            raise ExprSyntaxError(f"expected {op!r}, found {found}", self.text, pos)
        return pos

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprSyntaxError(f"expression nested more than {MAX_DEPTH} levels deep", self.text, pos)

    def expr(self, min_prec: int = 1) -> Node:
        self.enter(self.peek()[2])
        left = self.unary()
        while True:
            kind, tok, pos = self.peek()
            prec = _BIN_PREC.get(tok) if kind == "op" else None
            if prec is None or prec < min_prec:
                break
            self.take()
            right = self.expr(prec if tok == "^" else prec + 1)  # ^ is right-associative
            left = Node("bin", tok, (left, right), (left.span[0], right.span[1]))
        self.depth -= 1
        return left

    def unary(self) -> Node:
        kind, tok, pos = self.peek()
        if kind == "op" and tok == "-":
            self.take()
            self.enter(pos)
            operand = self.expr(_NEG_PREC + 1)  # binds looser than ^: -x^2 = -(x^2)
            self.depth -= 1
            return Node("neg", "-", (operand,), (pos, operand.span[1]))
        if kind == "op" and tok == "+":
            raise ExprSyntaxError("unary '+' is not part of the syntax", self.text, pos)
        return self.primary()

    def primary(self) -> Node:
        kind, tok, pos = self.take()
        if kind == "num":
            value = float(tok)
            if value == float("inf"):
                raise ExprSyntaxError("number too large for a float", self.text, pos, len(tok))
            return Node("num", value, (), (pos, pos + len(tok)))
        if kind == "name":
            if self.peek()[:2] == ("op", "("):
                self.take()
                self.enter(pos)
                args = [self.expr()]
                while self.peek()[:2] == ("op", ","):
                    self.take()
                    args.append(self.expr())
                end = self.expect(")")
                self.depth -= 1
                return Node("call", tok, tuple(args), (pos, end + 1))
            if self.holes and tok in ("_a", "_b"):
                return Node("hole", tok[1], (), (pos, pos + len(tok)))
            return Node("name", _NAME_ALIASES.get(tok, tok), (), (pos, pos + len(tok)))
        if kind == "op" and tok == "(":
            self.enter(pos)
            inner = self.expr()
            self.expect(")")
            self.depth -= 1
            return inner
        found = "end of input" if kind == "end" else repr(tok)
        raise ExprSyntaxError(f"expected a number, a name or '(', found {found}", self.text, pos)


def parse_syntax(text: str, *, holes: bool = False) -> Node:
    """Parse ``text`` into a generic syntax tree; raise :class:`ExprSyntaxError` on malformed input."""
    if not isinstance(text, str):
        raise TypeError(f"expected an expression string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExprSyntaxError(f"expression longer than {MAX_LENGTH} characters", text, MAX_LENGTH)
    if not text.strip():
        raise ExprSyntaxError("empty expression", text, 0)
    p = _Parser(text, holes)
    node = p.expr()
    kind, tok, pos = p.peek()
    if kind != "end":
        raise ExprSyntaxError(f"unexpected {tok!r} after a complete expression", text, pos)
    return node


def _fmt_num(v: float) -> str:
    s = repr(float(v))
    return s[:-2] if s.endswith(".0") else s


def _prec(node: Node) -> int:
    if node.kind == "bin":
        return _BIN_PREC[str(node.value)]
    if node.kind == "neg" or (node.kind == "num" and float(node.value) < 0):  # type: ignore[arg-type]
        return _NEG_PREC
    return 5


def render(node: Node) -> str:
    """Print a syntax tree with the fewest parentheses that parse back to the same tree."""
    if node.kind == "num":
        return _fmt_num(node.value)  # type: ignore[arg-type]
    if node.kind in ("name", "hole"):
        return str(node.value)
    if node.kind == "call":
        return f"{node.value}({', '.join(render(a) for a in node.args)})"
    if node.kind == "neg":
        (a,) = node.args
        inner = render(a)
        # '--x' would read as a typo; and a negative literal must stay one token after the minus.
        return f"-({inner})" if _prec(a) <= _NEG_PREC else f"-{inner}"
    op = str(node.value)
    p = _BIN_PREC[op]
    left, right = node.args
    ls, rs = render(left), render(right)
    if op == "^":
        if _prec(left) <= p:
            ls = f"({ls})"
        if _prec(right) < p:
            rs = f"({rs})"
        return f"{ls}^{rs}"
    if _prec(left) < p:
        ls = f"({ls})"
    if _prec(right) <= p:
        rs = f"({rs})"
    return f"{ls} {op} {rs}"
