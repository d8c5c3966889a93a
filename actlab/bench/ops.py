"""Counting the aten ops a forward+backward launches, the issue-22 measure of how fused an activation is.

A fused activation makes one pass over memory forward and one backward; a composite formula makes one per op.
:func:`top_level_aten_ops` lists the aten ops of one forward+backward that no other aten op called (those are what
a device launches), without the pure metadata ops and allocations, which touch no data: the numba path's numpy bridge
detaches and resolves views, a same-dtype ``to`` is a no-op, and a reshape, slice or chunk that returned a view
copied nothing (one that copied is counted).
"""

from __future__ import annotations

from typing import Any, Callable

import torch

__all__ = ["top_level_aten_ops", "METADATA_OPS", "VIEW_OPS"]

METADATA_OPS = frozenset({"aten::detach", "aten::resolve_conj", "aten::resolve_neg", "aten::alias", "aten::view",
                          "aten::empty_like", "aten::empty", "aten::empty_strided"})
# Ops that return a view when they can: they count only where they copied (a data-touching op below them).
VIEW_OPS = frozenset({"aten::reshape", "aten::slice", "aten::chunk", "aten::split", "aten::narrow",
                      "aten::contiguous", "aten::select", "aten::as_strided", "aten::_reshape_alias",
                      "aten::expand", "aten::t", "aten::transpose", "aten::permute", "aten::squeeze",
                      "aten::unsqueeze", "aten::flatten", "aten::unflatten", "aten::_unsafe_view"})


def _touches_data(e: Any) -> bool:
    return any((c.name.startswith("aten::") and c.name not in METADATA_OPS and c.name not in VIEW_OPS)
               or _touches_data(c) for c in e.cpu_children)


def top_level_aten_ops(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                       grad: torch.Tensor | None = None) -> list[str]:
    """The data-touching aten ops of ``fn(x).backward(grad)`` that no other aten op called, in order."""
    g = torch.randn_like(x) if grad is None else grad
    with torch.profiler.profile() as prof:
        fn(x).backward(g)
    out = []
    for e in prof.events():
        if not e.name.startswith("aten::") or e.name in METADATA_OPS:
            continue
        p = e.cpu_parent
        while p is not None and not p.name.startswith("aten::"):
            p = p.cpu_parent
        if p is not None:
            continue
        if e.name == "aten::to" and not any(c.name == "aten::_to_copy" for c in e.cpu_children):
            continue  # a no-op conversion
        if e.name in VIEW_OPS and not _touches_data(e):
            continue  # a view
        out.append(e.name)
    return out
