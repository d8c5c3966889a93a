"""The paper's search space of core units, its combinatorics, enumeration, sampling and size checks.

A core unit is b(u1(a), u2(c)) with u1, u2 unary, b binary, and each input a, c either x or the output of an earlier
unit; the activation is the last unit. For k units with U unary and B binary functions, unit i (1-based) chooses its
two inputs among i sources, so the raw count is

    size(k) = Π_{i=1..k} i² · U² · B        (U = 25, B = 10: 6 250 for k = 1, 156 250 000 for k = 2).

The raw count includes later units that ignore earlier ones and every algebraic duplicate; :func:`dedupe` and
:func:`prefilter` reduce it. Candidates are numbered 0 … size−1 in :meth:`Space.enumerate` order, so an integer
identifies a candidate (``space[i]``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from ._expr import X, Expr, parse
from ._ops import BINARY, UNARY, Operator

__all__ = ["Space", "space", "ExprTooLargeError"]


class ExprTooLargeError(ValueError):
    """An expression does not fit the declared space (too many operators, too deep, or foreign operators)."""


@dataclass(frozen=True)
class Space:
    """The space of ``units`` chained core units over the given operator lists (the paper's by default).

    Example:
        >>> s = space(units=1)
        >>> s.size(), str(s[0])
        (6250, 'x + x')
    """

    units: int = 1
    unary: tuple[Operator, ...] = UNARY
    binary: tuple[Operator, ...] = BINARY

    def __post_init__(self) -> None:
        if not isinstance(self.units, int) or self.units < 1:
            raise ValueError(f"units must be a positive integer, got {self.units!r}")
        if not self.unary or not self.binary:
            raise ValueError("a space needs at least one unary and one binary operator")
        bad = [op.name for op in self.unary if op.kind != "unary"] + [op.name for op in self.binary
                                                                       if op.kind != "binary"]
        if bad:
            raise ValueError(f"operators of the wrong kind: {', '.join(bad)}")

    # ---- combinatorics
    def _radices(self) -> list[int]:
        """Per slot, in decoding order: for each unit, (input1, input2, u1, u2, b)."""
        r: list[int] = []
        for i in range(1, self.units + 1):
            r += [i, i, len(self.unary), len(self.unary), len(self.binary)]
        return r

    def size(self) -> int:
        """The raw number of candidates: Π_{i=1..units} i²·U²·B."""
        return math.prod(self._radices())

    def __len__(self) -> int:
        return self.size()

    def __getitem__(self, index: int) -> Expr:
        """The candidate numbered ``index`` (mixed radix over :meth:`slots`; the last slot varies fastest)."""
        n = self.size()
        if not -n <= index < n:
            raise IndexError(f"candidate {index} is outside a space of {n}")
        index %= n
        digits = []
        for r in reversed(self._radices()):
            index, d = divmod(index, r)
            digits.append(d)
        digits.reverse()
        return self._build(digits)

    def _build(self, digits: Sequence[int]) -> Expr:
        outputs: list[Expr] = [X]
        for i in range(self.units):
            a, c, u1, u2, b = digits[5 * i:5 * i + 5]
            outputs.append(Expr.apply(self.binary[b], Expr.apply(self.unary[u1], outputs[a]),
                                      Expr.apply(self.unary[u2], outputs[c])))
        return outputs[-1]

    def enumerate(self) -> Iterator[Expr]:
        """Every candidate, lazily, in index order (6 250 for one unit; two units are too many to exhaust)."""
        for i in range(self.size()):
            yield self[i]

    def sample(self, rng: random.Random | int | None = None) -> Expr:
        """One candidate drawn uniformly from the raw space."""
        r = rng if isinstance(rng, random.Random) else random.Random(rng)
        return self[r.randrange(self.size())]

    # ---- slots, for strategies that pick one component at a time (e.g. Optuna categorical parameters)
    def slots(self) -> list[tuple[str, tuple[str, ...]]]:
        """The choices that define a candidate: ``[(slot name, option names), …]``, e.g. ``("u1.b", ("add", …))``."""
        out: list[tuple[str, tuple[str, ...]]] = []
        for i in range(1, self.units + 1):
            sources = ("x",) + tuple(f"u{j}" for j in range(1, i))
            out += [(f"u{i}.in1", sources), (f"u{i}.in2", sources),
                    (f"u{i}.unary1", tuple(op.name for op in self.unary)),
                    (f"u{i}.unary2", tuple(op.name for op in self.unary)),
                    (f"u{i}.binary", tuple(op.name for op in self.binary))]
        return out

    def build(self, choices: dict[str, Any]) -> Expr:
        """The candidate for ``choices`` mapping every slot name of :meth:`slots` to an option name or index."""
        digits = []
        for name, options in self.slots():
            if name not in choices:
                raise KeyError(f"missing choice for slot {name!r}")
            v = choices[name]
            if isinstance(v, int):
                if not 0 <= v < len(options):
                    raise ValueError(f"slot {name!r}: index {v} outside 0..{len(options) - 1}")
                digits.append(v)
            elif v in options:
                digits.append(options.index(v))
            else:
                raise ValueError(f"slot {name!r}: {v!r} is not one of {', '.join(options)}")
        return self._build(digits)

    # ---- membership
    def units_needed(self, expr: Expr | str) -> int | None:
        """The fewest core units that write ``expr`` with this space's operators, or ``None`` if none can.

        Units are counted once even when used twice (later units may read an earlier one in both inputs). Besides
        the tree as parsed, it tries the two rewrites the printed syntax hides: a lone unary or x as a unit
        ``max(u(a), u(a))`` (when max or min is available) and ``a * sigmoid(b)`` as the binary ``sigmoid(b) * a``.
        """
        e = parse(expr) if isinstance(expr, str) else expr
        names = {op.name for op in self.unary + self.binary}
        wrap = "max" in names or "min" in names
        memo: dict[tuple[str, int], frozenset[str] | None] = {}

        def best(*opts: frozenset[str] | None) -> frozenset[str] | None:
            valid = [o for o in opts if o is not None]
            return min(valid, key=len) if valid else None

        def both(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
            return None if a is None or b is None else a | b

        def unit(n: Expr) -> frozenset[str] | None:
            key = ("unit", id(n))
            if key not in memo:
                opts: list[frozenset[str] | None] = []
                if n.op is not None and n.op.kind == "binary" and n.op.name in names:
                    opts.append(both(slot(n.args[0]), slot(n.args[1])))
                    if n.op.name == "mul" and "sigmul" in names:
                        for sig, other in ((n.args[0], n.args[1]), (n.args[1], n.args[0])):
                            if sig.op is not None and sig.op.name == "sigmoid":
                                opts.append(both(slot(sig.args[0]), slot(other)))
                elif wrap:
                    opts.append(slot(n))
                got = best(*opts)
                memo[key] = None if got is None else got | {str(n)}
            return memo[key]

        def slot(n: Expr) -> frozenset[str] | None:
            key = ("slot", id(n))
            if key not in memo:
                if n.is_x:
                    got: frozenset[str] | None = frozenset() if "x" in names else None
                elif n.op is None or n.op.name not in names:  # a constant or a foreign operator
                    got = None
                elif n.op.kind == "unary":
                    got = operand(n.args[0]) if n.args else frozenset()
                else:
                    got = unit(n) if "x" in names else None
                memo[key] = got
            return memo[key]

        def operand(n: Expr) -> frozenset[str] | None:
            return frozenset() if n.is_x else unit(n)

        got = unit(e)
        return None if got is None else len(got)

    def check(self, expr: Expr | str) -> Expr:
        """Return ``expr`` (parsed) if it can be written in this space, else raise :class:`ExprTooLargeError`.

        The message says why: operators outside the space, numeric constants, or more core units than the space has
        (see :meth:`units_needed`).
        """
        e = parse(expr) if isinstance(expr, str) else expr
        allowed = {op.name for op in self.unary + self.binary}
        foreign = sorted({n.op.name for n in e.nodes() if n.op is not None and n.op.name not in allowed})
        if foreign:
            raise ExprTooLargeError(f"{e}: operators outside the space: {', '.join(foreign)}")
        consts = sorted({str(n) for n in e.nodes() if n.op is None and n.value is not None})
        if consts:
            raise ExprTooLargeError(f"{e}: numeric constants are not in the space: {', '.join(consts)}")
        need = self.units_needed(e)
        if need is None:
            raise ExprTooLargeError(f"{e}: cannot be written as core units of this space")
        if need > self.units:
            raise ExprTooLargeError(f"{e}: needs {need} core units; this space has {self.units}")
        return e

    def __contains__(self, expr: object) -> bool:
        try:
            self.check(expr)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            return False
        return True


def space(units: int = 1, unary: Sequence[Operator | str] | None = None,
          binary: Sequence[Operator | str] | None = None) -> Space:
    """The paper's space of ``units`` core units, optionally over a subset of operators (names or entries)."""
    from ._ops import operator

    def ops(seq: Sequence[Operator | str] | None, default: tuple[Operator, ...]) -> tuple[Operator, ...]:
        return default if seq is None else tuple(operator(o) if isinstance(o, str) else o for o in seq)

    return Space(units, ops(unary, UNARY), ops(binary, BINARY))
