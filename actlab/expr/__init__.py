"""The expression language of the activation search space (Ramachandran et al. 2017).

>>> from actlab import expr
>>> e = expr.parse("x * sigmoid(beta * x)")          # Swish; str(e) gives the text back exactly
>>> e.canonical(), e.latex()
>>> act = e.to_module()                              # nn.Module: trainable β, generated fused kernel
>>> s = expr.space(units=1); s.size()                # 6250 raw candidates
>>> groups = expr.dedupe(s.enumerate())              # one group per distinct function
>>> kept = expr.prefilter(g.representative for g in groups).survivors
>>> expr.analyse("max(x, tanh(x))")                  # monotonic, bounds, smoothness, N(0,1) moments, ns/element

sympy loads only when a sympy form, LaTeX, a canonical form or a kernel is asked for; the analysis, module and kernel
generator load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._expr import Expr, X, parse
from ._numeric import (PROBE_BETAS, REASONS, Group, PrefilterResult, dedupe, fingerprint, prefilter, same_as,
                       probe_features)
from ._ops import BINARY, EPS, OPERATORS, UNARY, Operator, operator, operator_table
from ._space import ExprTooLargeError, Space, space
from ._syntax import ExprSyntaxError

_LAZY = {"analyse": "._analyse", "Analysis": "._analyse", "kernel_ns_per_element": "._analyse",
         "compile_kernel": "._codegen", "compile_gated": "._codegen", "GatedExprActivation": "._module",
         "kernel_source": "._codegen", "KernelCodegenError": "._codegen",
         "cache_dir": "._codegen", "ExprActivation": "._module", "describe": "._report", "describe_dict": "._report",
         "space_summary": "._report", "SpaceSummary": "._report"}

__all__ = ["Expr", "X", "parse", "ExprSyntaxError", "Operator", "OPERATORS", "UNARY", "BINARY", "EPS", "operator",
           "operator_table",
           "Space", "space", "ExprTooLargeError", "dedupe", "Group", "fingerprint", "same_as", "probe_features",
           "prefilter", "PrefilterResult",
           "REASONS", "PROBE_BETAS", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
