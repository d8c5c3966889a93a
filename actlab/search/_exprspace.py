"""The real search space: :mod:`actlab.expr`'s core-unit space seen as slots.

Identity is :func:`actlab.expr.fingerprint` (numeric, ~0.5 ms, and it merges forms sympy cannot prove equal); the
sympy ``canonical()`` form (~0.1 s) is computed in the worker and stored for display. The exhaustive order is
computed once per operator table and cached as JSON under ``runs/.cache`` (deduping 6 250 candidates takes seconds).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

from ._space import SearchSpace, Slot

__all__ = ["ExprSpace"]

# Above this raw size the exhaustive strategy refuses (the 2-unit space has 156 million candidates).
MAX_EXHAUSTIVE = 100_000


class ExprSpace(SearchSpace):
    """``actlab.expr.space(units)`` with its slots as categorical tokens.

    Args:
        units: core units (1 or 2).
        cache_dir: where the exhaustive order is cached (``None``: no cache).
        exclude: identities left out of :meth:`enumerate` (functions trained elsewhere, e.g. by the table this
            build extends or another machine's shard); counted as ``"excluded"``.
        gated: the candidates are gates (``--space gated``): the same functions, deduplicated and prefiltered as
            they are, trained as f(g)·a by the evaluator (``Job.gated``).
    """

    def __init__(self, units: int = 1, cache_dir: str | Path | None = "runs", exclude: Iterable[str] = (),
                 gated: bool = False) -> None:
        from actlab import expr

        self._expr = expr
        self.units = units
        self.space = expr.space(units)
        self.name = f"u{units}"
        self.slots = tuple(Slot(n, tuple(c)) for n, c in self.space.slots())
        self.cache_dir = Path(cache_dir) / ".cache" if cache_dir is not None else None
        self._identity = lru_cache(maxsize=100_000)(self._identity_uncached)
        self._check = lru_cache(maxsize=100_000)(self._check_uncached)
        self._render = lru_cache(maxsize=100_000)(self._render_uncached)
        self._enum: tuple[list[dict[str, str]], dict[str, int]] | None = None
        self.exclude = frozenset(exclude)
        self.gated = gated

    def render(self, tokens: Mapping[str, str]) -> str:
        # Cached: the random and surrogate strategies render the whole exhaustive pool at every proposal.
        return self._render(tuple(tokens[s.name] for s in self.slots))

    def _render_uncached(self, values: tuple[str, ...]) -> str:
        return str(self.space.build(dict(zip((s.name for s in self.slots), values, strict=True))))

    def _identity_uncached(self, text: str) -> str:
        return self._expr.fingerprint(text)

    def identity(self, text: str) -> str:
        return self._identity(text)

    def _check_uncached(self, text: str) -> str | None:
        res = self._expr.prefilter([text])
        return next(iter(res.rejected.values()), None)

    def check(self, text: str) -> str | None:
        return self._check(text)

    def complexity(self, tokens: Mapping[str, str]) -> float:
        e = self.space.build(dict(tokens))
        return float(e.betas * 1000 + e.size() * 100 + e.cost())

    def _signature(self) -> str:
        h = hashlib.sha1(json.dumps([[s.name, s.choices] for s in self.slots]).encode())
        h.update(b"v1")
        return h.hexdigest()[:12]

    def enumerate(self) -> tuple[list[dict[str, str]], dict[str, int]]:
        """Deduplicated (one representative per function) and prefiltered, simplest first, without ``exclude``."""
        if self._enum is None:
            order, counts = self._enumerate_all()
            if self.exclude:  # the cache holds the whole order; exclusion is per build
                kept = [t for t in order if self.identity(self.render(t)) not in self.exclude]
                counts = {**counts, "excluded": len(order) - len(kept), "survivors": len(kept)}
                order = kept
            self._enum = (order, counts)
        return self._enum

    def _enumerate_all(self) -> tuple[list[dict[str, str]], dict[str, int]]:
        if self.space.size() > MAX_EXHAUSTIVE:
            raise ValueError(f"the {self.units}-unit space has {self.space.size():,} raw candidates; exhaustive "
                             f"search is for spaces up to {MAX_EXHAUSTIVE:,} (use --space 1 or another strategy)")
        path = self.cache_dir / f"space-{self.name}-{self._signature()}.json" if self.cache_dir else None
        if path is not None and path.exists():
            data = json.loads(path.read_text())
            return data["order"], data["counts"]
        expr = self._expr
        names = [s.name for s in self.slots]
        by_text: dict[str, dict[str, str]] = {}
        exprs = []
        for combo in itertools.product(*(s.choices for s in self.slots)):
            tokens = dict(zip(names, combo, strict=False))
            e = self.space.build(tokens)
            by_text.setdefault(str(e), tokens)
            exprs.append(e)
        groups = expr.dedupe(exprs)
        reps = [g.representative for g in groups]
        pf = expr.prefilter(reps)
        order = sorted(pf.survivors, key=lambda e: (e.betas, e.size(), e.cost(), len(str(e))))
        counts = {"raw": len(exprs), "distinct": len(groups), "duplicates": len(exprs) - len(groups),
                  **{f"rejected_{k}": v for k, v in pf.counts.items()}, "survivors": len(order)}
        out = [by_text[str(e)] for e in order]
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"order": out, "counts": counts}))
        return out, counts
