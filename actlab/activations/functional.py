"""Functional forms of every registered activation: ``actlab.functional.isrlu(x, alpha=1.0)``.

The functions are generated from the registry, so a new entry gets its functional form for free. Each one checks its
input, runs the fused CPU kernel when it can (CPU float32/float64, scalar hyperparameters) and otherwise the
composite reference, which gives the same numbers on every device and dtype.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import torch

from . import _gated, _searched, _zoo  # noqa: F401  (fill the registry)
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
    defaults = tuple(check_hparam(s.name, k, v, positive=k in positive) for k, v in s.defaults.items())

    def fn(x: torch.Tensor, *args: Any, fused: bool = True, **kwargs: Any) -> torch.Tensor:
        if not args and not kwargs:  # the common call, f(x)
            return run(s, x, defaults, fused, None)
        # Bound by hand: inspect's Signature.bind cost 13 µs a call, four times a 1K forward.
        if len(args) > len(keys):
            raise TypeError(f"{s.name}() takes {len(keys)} hyperparameter(s) after x ({', '.join(keys) or 'none'}), "
                            f"got {len(args)}")
        static = {k: kwargs.pop(k) for k in s.cls.static_options if k in kwargs}
        params = []
        for i, k in enumerate(keys):
            if i < len(args):
                if k in kwargs:
                    raise TypeError(f"{s.name}() got multiple values for {k!r}")
                v = args[i]
            else:
                v = kwargs.pop(k, s.defaults[k])
            if not isinstance(v, torch.Tensor) or v.numel() == 1:
                check_hparam(s.name, k, v, positive=k in positive)
            params.append(v)
        if kwargs:
            allowed = ", ".join([*keys, "fused", *s.cls.static_options])
            raise TypeError(f"{s.name}() got unknown keyword(s) {sorted(kwargs)}; allowed: {allowed}")
        return dispatch(s.name, x, tuple(params), fused=fused, **{k: v for k, v in static.items() if v is not None})

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
