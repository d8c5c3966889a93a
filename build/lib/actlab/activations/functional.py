"""Functional forms of every registered activation: ``actlab.functional.isrlu(x, alpha=1.0)``.

The functions are generated from the registry, so a new entry gets its functional form for free. Each one checks its
input, runs the fused CPU kernel when it can (CPU float32/float64, scalar hyperparameters) and otherwise the
composite reference, which gives the same numbers on every device and dtype.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import torch

from . import _searched, _zoo  # noqa: F401  (fill the registry)
from ._registry import check_hparam, names, run, spec

__all__ = ["dispatch", *names()]


def dispatch(name: str, x: torch.Tensor, params: tuple[Any, ...], fused: bool = True,
             **static: Any) -> torch.Tensor:
    """Apply activation ``name`` with hyperparameters ``params`` (in the registry's order)."""
    return run(spec(name), x, params, fused, static)


def _make(name: str) -> Callable[..., torch.Tensor]:
    s = spec(name)
    keys = tuple(s.defaults)
    positive = s.cls.positive

    def fn(x: torch.Tensor, *args: Any, fused: bool = True, **kwargs: Any) -> torch.Tensor:
        bound = sig.bind(x, *args, fused=fused, **kwargs).arguments
        params = []
        for k in keys:
            v = bound.get(k, s.defaults[k])
            if not isinstance(v, torch.Tensor) or v.numel() == 1:
                check_hparam(s.name, k, v, positive=k in positive)
            params.append(v)
        static = {k: bound[k] for k in s.cls.static_options if bound.get(k) is not None}
        return dispatch(s.name, x, tuple(params), fused=fused, **static)

    P = inspect.Parameter
    sig = inspect.Signature([P("x", P.POSITIONAL_OR_KEYWORD),
                             *[P(k, P.POSITIONAL_OR_KEYWORD, default=v) for k, v in s.defaults.items()],
                             P("fused", P.KEYWORD_ONLY, default=True),
                             *[P(k, P.KEYWORD_ONLY, default=None) for k in s.cls.static_options]])
    fn.__signature__ = sig  # type: ignore[attr-defined]
    fn.__name__ = fn.__qualname__ = s.name
    fn.__doc__ = f"Functional {s.cls.__name__}: ${s.latex}$. See :class:`actlab.{s.cls.__name__}`."
    return fn


for _name in names():
    globals()[_name] = _make(_name)
